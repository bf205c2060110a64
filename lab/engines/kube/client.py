"""The kind and cluster engines' Kubernetes calls: server-side apply, get, list, delete.

Everything goes through the official client's DynamicClient, so custom resources (Gateway API,
Consul) apply like built-in ones.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lab.engines.kube.documents import key_of
from lab.errors import EnvironmentNotReady, NotConverged

_DEFAULT_KUBECONFIG = os.path.join("~", ".kube", "config")


class WebhookNotServing(NotConverged):
    """An admission webhook with failurePolicy Fail refused the object because it does not answer yet."""


class ApiTimeout(NotConverged):
    """The API server did not answer one call within the request timeout."""


def _timed_client(api_client: Any, cache_file: str, timeout: float) -> Any:
    """A DynamicClient whose every request, discovery included, carries `_request_timeout`.

    kubernetes' DynamicClient.request passes `_request_timeout` on to the REST layer, which sets no
    timeout when it is absent (kubernetes/dynamic/client.py `request`, client/rest.py `request`).
    """
    from kubernetes.dynamic import DynamicClient

    class TimedDynamicClient(DynamicClient):
        def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
            params.setdefault("_request_timeout", timeout)
            try:
                return super().request(method, path, body, **params)
            except Exception as exc:
                if "timed out" in str(exc).lower() or type(exc).__name__ in (
                    "ReadTimeoutError",
                    "TimeoutError",
                ):
                    raise ApiTimeout(
                        f"the API server did not answer {method.upper()} {path} within {timeout:g} s",
                        fix="check the cluster (`kubectl get --raw /readyz`); the timeout is "
                        "Timeouts.api_request",
                    ) from exc
                raise

    return TimedDynamicClient(api_client, cache_file=cache_file)  # type: ignore[no-untyped-call]


class Kube:
    """A DynamicClient on one kubeconfig (and context), with apply/get/list/delete as plain dicts."""

    def __init__(
        self,
        kubeconfig: Path | None,
        *,
        context: str | None = None,
        discovery_cache: Path,
        request_timeout: float,
    ) -> None:
        from kubernetes import config

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
            self.client = _timed_client(api_client, str(discovery_cache), request_timeout)
        except ApiTimeout:
            raise
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
            obj = self.client.server_side_apply(
                res, body=dict(body), namespace=namespace, field_manager="lab", force_conflicts=True
            )
        except DynamicApiError as exc:
            message = _api_message(exc)
            error = WebhookNotServing if "failed calling webhook" in message else NotConverged
            raise error(
                f"applying {key_of(body).display()} failed: HTTP {exc.status} {exc.reason}: {message}"
            ) from exc
        return dict(obj.to_dict())

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """One object as a dict, or None when it does not exist."""
        from kubernetes.dynamic.exceptions import NotFoundError

        res = self.resource(api_version, kind)
        with _reading(f"{kind} {namespace}/{name}" if namespace and res.namespaced else f"{kind} {name}"):
            try:
                obj = self.client.get(res, name=name, namespace=namespace if res.namespaced else None)
            except NotFoundError:
                return None
        return dict(obj.to_dict())

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Objects of a kind (in a namespace, matching a label selector)."""
        res = self.resource(api_version, kind)
        with _reading(f"{kind} objects in {namespace}" if namespace else f"{kind} objects in all namespaces"):
            out = self.client.get(res, namespace=namespace, label_selector=label_selector)
        return [dict(item) for item in out.to_dict().get("items") or []]

    def create(self, api_version: str, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST one object that is not stored (a SelfSubjectAccessReview) and return the answer."""
        res = self.resource(api_version, kind)
        return dict(self.client.create(res, body=dict(body)).to_dict())

    def version(self) -> dict[str, Any]:
        """The API server's /version (major, minor, gitVersion)."""
        return dict((self.client.version or {}).get("kubernetes") or {})

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete one object; False when it was already gone."""
        from kubernetes.dynamic.exceptions import NotFoundError

        res = self.resource(api_version, kind)
        try:
            self.client.delete(res, name=name, namespace=namespace if res.namespaced else None)
        except NotFoundError:
            return False
        return True


@contextlib.contextmanager
def _reading(what: str) -> Iterator[None]:
    """An API server's refusal to read `what` as one readable line: 403 is exit 4 (rights), others 5.

    kubernetes' ApiException prints its HTTP headers and the whole response body; lab says the
    status, the reason and the server's own message.
    """
    from kubernetes.dynamic.exceptions import DynamicApiError

    try:
        yield
    except DynamicApiError as exc:
        line = f"reading {what}: HTTP {exc.status} {exc.reason}: {_api_message(exc)}"
        if exc.status == 403:
            raise EnvironmentNotReady(
                line, fix="ask the cluster's host for the rights lab needs (`lab doctor --engine cluster` lists them)"
            ) from exc
        raise NotConverged(line) from exc


def _api_message(exc: Any) -> str:
    try:
        return str(json.loads(exc.body).get("message", exc.body))
    except (TypeError, ValueError, AttributeError):
        return str(getattr(exc, "body", exc))
