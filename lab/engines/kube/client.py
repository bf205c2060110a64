"""The kind and cluster engines' Kubernetes calls: server-side apply, get, list, delete.

Everything goes through the official client's DynamicClient, so custom resources (Gateway API,
Consul) apply like built-in ones.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lab.errors import NotConverged
from lab.spec.objects import ObjectKey

_DEFAULT_KUBECONFIG = os.path.join("~", ".kube", "config")


class Kube:
    """A DynamicClient on one kubeconfig (and context), with apply/get/list/delete as plain dicts."""

    def __init__(
        self,
        kubeconfig: Path | None,
        *,
        context: str | None = None,
        discovery_cache: Path,
    ) -> None:
        from kubernetes import config
        from kubernetes.dynamic import DynamicClient

        try:
            api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
                # None: $KUBECONFIG (a path list is merged) or ~/.kube/config, read now (the client
                # library reads $KUBECONFIG once at import time)
                config_file=str(kubeconfig)
                if kubeconfig
                else os.environ.get("KUBECONFIG", _DEFAULT_KUBECONFIG),
                context=context,
                persist_config=False,
            )
            # the discovery cache defaults to the system temp folder; keep it in the state folder
            with contextlib.suppress(FileNotFoundError):
                discovery_cache.unlink()
            self.client = DynamicClient(api_client, cache_file=str(discovery_cache))  # type: ignore[no-untyped-call]
        except Exception as exc:
            where = f"kubeconfig {kubeconfig}" if kubeconfig else "the default kubeconfig"
            raise NotConverged(
                f"cannot reach the Kubernetes API server from {where}"
                + (f" (context {context})" if context else "")
                + f": {type(exc).__name__}: {exc}",
                fix="check the cluster is running (`kind get clusters`, `kubectl cluster-info`)",
            ) from exc

    def resource(self, api_version: str, kind: str) -> Any:
        """The API resource for a kind; NotConverged when the server does not serve it (CRD missing)."""
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self.client.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError as exc:
            raise NotConverged(
                f"the API server does not serve {kind} in {api_version}",
                fix="its CustomResourceDefinition is missing or not Established yet (Gateway API CRDs, "
                "or the Consul chart's CRDs)",
            ) from exc

    def apply(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply one document (field manager `lab`, conflicts forced)."""
        from kubernetes.dynamic.exceptions import DynamicApiError

        res = self.resource(str(body["apiVersion"]), str(body["kind"]))
        namespace = (body.get("metadata") or {}).get("namespace") if res.namespaced else None
        try:
            obj = self.client.server_side_apply(  # type: ignore[no-untyped-call]
                res, body=dict(body), namespace=namespace, field_manager="lab", force_conflicts=True
            )
        except DynamicApiError as exc:
            raise NotConverged(
                f"applying {ObjectKey.of(body).ref} failed: HTTP {exc.status} {exc.reason}: {_api_message(exc)}"
            ) from exc
        return dict(obj.to_dict())

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """One object as a dict, or None when it does not exist."""
        from kubernetes.dynamic.exceptions import NotFoundError

        res = self.resource(api_version, kind)
        try:
            obj = self.client.get(res, name=name, namespace=namespace if res.namespaced else None)  # type: ignore[no-untyped-call]
        except NotFoundError:
            return None
        return dict(obj.to_dict())

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Objects of a kind (in a namespace, matching a label selector)."""
        res = self.resource(api_version, kind)
        out = self.client.get(res, namespace=namespace, label_selector=label_selector)  # type: ignore[no-untyped-call]
        return [dict(item) for item in out.to_dict().get("items") or []]

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete one object; False when it was already gone."""
        from kubernetes.dynamic.exceptions import NotFoundError

        res = self.resource(api_version, kind)
        try:
            self.client.delete(res, name=name, namespace=namespace if res.namespaced else None)  # type: ignore[no-untyped-call]
        except NotFoundError:
            return False
        return True


def _api_message(exc: Any) -> str:
    try:
        return str(json.loads(exc.body).get("message", exc.body))
    except (TypeError, ValueError, AttributeError):
        return str(getattr(exc, "body", exc))
