"""The kind and cluster engines' Kubernetes calls: server-side apply, reads, named waits, diagnostics.

Everything goes through the official client's DynamicClient, so custom resources (Gateway API,
Consul) apply like built-in ones. Every wait is a named condition polled by lab.waiting (tenacity).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import waiting
from lab.errors import NotConverged
from lab.waiting import Pending

Sleep = Callable[[float], None]
_DEFAULT_KUBECONFIG = os.path.join("~", ".kube", "config")
# A condition check: (met, what was seen). What was seen ends up in the error when it times out.
Check = Callable[[], tuple[bool, str]]


def object_key(body: Mapping[str, Any]) -> str:
    """The key lab records for an applied object: group/kind/namespace/name (core group is "core")."""
    api_version = str(body.get("apiVersion", ""))
    group = api_version.rpartition("/")[0] or "core"
    meta = body.get("metadata") or {}
    return f"{group}/{body.get('kind')}/{meta.get('namespace') or ''}/{meta.get('name')}"


def digest(body: Mapping[str, Any]) -> str:
    """A stable digest of a manifest body, to tell whether it changed since the last apply."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Condition:
    """One named wait: what it waits for, its timeout and the check polled until it holds."""

    name: str
    description: str
    timeout: float
    check: Check


def wait_for(condition: Condition, *, poll_interval: float, sleep: Sleep = time.sleep) -> None:
    """Poll `condition` until it holds (lab.waiting); NotConverged naming it and the last thing seen."""

    def look() -> bool | Pending:
        try:
            met, seen = condition.check()
        except Exception as exc:  # an API hiccup while polling is "not yet", not a crash
            met, seen = False, f"{type(exc).__name__}: {exc}"
        return True if met else Pending(seen)

    try:
        waiting.wait_for(look, what=condition.description, budget=condition.timeout, interval=poll_interval, sleep=sleep)
    except waiting.WaitTimeout as exc:
        raise NotConverged(
            f"{condition.name}: {condition.description} did not happen within {condition.timeout:g} s; "
            f"last seen: {exc.seen or 'nothing seen yet'}"
        ) from None


def conditions_of(obj: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """status.conditions by type."""
    if not obj:
        return {}
    conds = (obj.get("status") or {}).get("conditions") or []
    return {str(c.get("type")): c for c in conds if isinstance(c, Mapping)}


def condition_true(obj: Mapping[str, Any] | None, kind: str) -> tuple[bool, str]:
    """Whether condition `kind` is True, and a description of what is there."""
    if obj is None:
        return False, "the object does not exist"
    cond = conditions_of(obj).get(kind)
    if cond is None:
        return False, f"no {kind} condition yet"
    ok = cond.get("status") == "True"
    return (
        ok,
        f"{kind}={cond.get('status')} reason={cond.get('reason', '')} {cond.get('message', '')}".strip(),
    )


def route_accepted(obj: Mapping[str, Any] | None) -> tuple[bool, str]:
    """An HTTPRoute is Accepted by every parent, for its current generation where the status says."""
    if obj is None:
        return False, "the route does not exist"
    generation = (obj.get("metadata") or {}).get("generation")
    parents = (obj.get("status") or {}).get("parents") or []
    if not parents:
        return False, "no status.parents yet (the controller has not seen the route)"
    for parent in parents:
        conds = {c.get("type"): c for c in parent.get("conditions") or []}
        accepted = conds.get("Accepted")
        ref = (parent.get("parentRef") or {}).get("name", "?")
        if accepted is None or accepted.get("status") != "True":
            reason = accepted.get("reason", "") if accepted else "no Accepted condition"
            return False, f"parent {ref}: not Accepted ({reason})"
        observed = accepted.get("observedGeneration")
        if generation is not None and observed is not None and int(observed) < int(generation):
            return False, f"parent {ref}: Accepted for generation {observed}, route is at {generation}"
    return True, "Accepted"


def pods_ready(pods: Iterable[Mapping[str, Any]]) -> tuple[bool, str]:
    """At least one pod and every pod Ready."""
    pods = list(pods)
    if not pods:
        return False, "no pods yet"
    states = []
    ready_all = True
    for pod in pods:
        ready, _ = condition_true(pod, "Ready")
        ready_all = ready_all and ready
        phase = (pod.get("status") or {}).get("phase", "?")
        states.append(f"{(pod.get('metadata') or {}).get('name')} {phase}{' Ready' if ready else ''}")
    return ready_all, ", ".join(states)


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
                f"applying {object_key(body)} failed: HTTP {exc.status} {exc.reason}: {_api_message(exc)}"
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


def diagnostics(kube: Kube | None, namespace: str | None, *, events: int = 10) -> list[str]:
    """Pod phases and recent events, best-effort: a failure to read them is itself a line."""
    lines: list[str] = []
    if kube is None:
        return ["(no connection to the API server, so no pods or events)"]
    try:
        pods = kube.list("v1", "Pod", namespace)
        lines.append(f"pods in {namespace or 'all namespaces'}:" if pods else "pods: none")
        for pod in pods:
            status = pod.get("status") or {}
            waiting = [
                (cs.get("state") or {}).get("waiting", {}).get("reason", "")
                for cs in status.get("containerStatuses") or []
            ]
            ready, _ = condition_true(pod, "Ready")
            extra = ", ".join(w for w in waiting if w)
            lines.append(
                f"  {pod['metadata']['name']}: {status.get('phase', '?')}"
                f"{' Ready' if ready else ' not Ready'}{f' ({extra})' if extra else ''}"
            )
    except Exception as exc:
        lines.append(f"(could not list pods: {type(exc).__name__}: {exc})")
    try:
        evs = kube.list("v1", "Event", namespace)
        evs.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
        if evs:
            lines.append(f"last {min(events, len(evs))} events:")
        for ev in evs[-events:]:
            obj = ev.get("involvedObject") or {}
            lines.append(
                f"  {ev.get('type', '')} {ev.get('reason', '')} {obj.get('kind', '')}/{obj.get('name', '')}: "
                f"{ev.get('message', '')}"
            )
    except Exception as exc:
        lines.append(f"(could not list events: {type(exc).__name__}: {exc})")
    return lines
