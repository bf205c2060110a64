"""What the cluster says about an object: conditions, route acceptance, why pods are not ready.

Conditions count only for the object's current generation; a pod not Ready says why (Pending,
ImagePullBackOff, CrashLoopBackOff) and its last warning event.

Pure functions over the API's dicts, so the waits and `lab status` read status the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.engines.kube.client import Kube


def conditions_of(obj: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """status.conditions by type."""
    if not obj:
        return {}
    conds = (obj.get("status") or {}).get("conditions") or []
    return {str(c.get("type")): c for c in conds if isinstance(c, Mapping)}


def _stale(obj: Mapping[str, Any], cond: Mapping[str, Any]) -> str | None:
    """Why a condition describes an older generation of the object (None when it is current)."""
    generation = (obj.get("metadata") or {}).get("generation")
    observed = cond.get("observedGeneration")
    if generation is not None and observed is not None and int(observed) < int(generation):
        return f"status is for generation {observed}, the object is at {generation}"
    return None


def condition_true(obj: Mapping[str, Any] | None, kind: str) -> tuple[bool, str]:
    """Whether condition `kind` is True for the object's current generation, and what is there."""
    if obj is None:
        return False, "the object does not exist"
    cond = conditions_of(obj).get(kind)
    if cond is None:
        return False, f"no {kind} condition yet"
    seen = f"{kind}={cond.get('status')} reason={cond.get('reason', '')} {cond.get('message', '')}".strip()
    stale = _stale(obj, cond)
    if stale:
        return False, f"{seen} ({stale})"
    return cond.get("status") == "True", seen


@dataclass(frozen=True)
class RouteState:
    """A route's acceptance by every parent: accepted, stuck on BindError, and what was seen."""

    accepted: bool
    bind_error: bool
    seen: str


def route_state(obj: Mapping[str, Any] | None) -> RouteState:
    """An HTTPRoute is Accepted by every parent for its current generation (status.parents)."""
    if obj is None:
        return RouteState(False, False, "the route does not exist")
    parents = (obj.get("status") or {}).get("parents") or []
    if not parents:
        return RouteState(False, False, "no status.parents yet (the controller has not bound the route)")
    for parent in parents:
        conds = {c.get("type"): c for c in parent.get("conditions") or []}
        accepted = conds.get("Accepted")
        ref = (parent.get("parentRef") or {}).get("name", "?")
        if accepted is None:
            return RouteState(False, False, f"parent {ref}: no Accepted condition")
        stale = _stale(obj, accepted)
        if stale:
            return RouteState(False, False, f"parent {ref}: {stale}")
        if accepted.get("status") != "True":
            reason, message = accepted.get("reason", ""), accepted.get("message", "")
            refs = conds.get("ResolvedRefs") or {}
            why = (
                f"; ResolvedRefs {refs.get('reason')}: {refs.get('message')}"
                if refs.get("status") == "False"
                else ""
            )
            return RouteState(
                False, reason == "BindError", f"parent {ref}: not Accepted ({reason}: {message}{why})"
            )
    return RouteState(True, False, "Accepted")


def route_accepted(obj: Mapping[str, Any] | None) -> tuple[bool, str]:
    """(accepted, what was seen), for `lab status`."""
    state = route_state(obj)
    return state.accepted, state.seen


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """The pod's Ready condition is True."""
    return condition_true(pod, "Ready")[0]


def pod_problem(pod: Mapping[str, Any], events: Iterable[Mapping[str, Any]] = ()) -> str:
    """`name Phase (Reason: message)` and the pod's last warning or event, for a pod not Ready."""
    status = pod.get("status") or {}
    name = (pod.get("metadata") or {}).get("name", "?")
    reasons = []
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            reasons.append(f"{cond.get('reason')}: {cond.get('message', '')}".strip())
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") and waiting.get("reason") != "Pending":
            reasons.append(
                f"{waiting['reason']}" + (f": {waiting['message']}" if waiting.get("message") else "")
            )
    text = f"{name} {status.get('phase', '?')}" + (f" ({'; '.join(reasons)})" if reasons else "")
    mine = [e for e in events if (e.get("involvedObject") or {}).get("name") == name]
    if mine and any(e.get("type") == "Warning" for e in mine):
        last = [e for e in mine if e.get("type") == "Warning"][-1]
        text += f", last event {last.get('reason')}: {last.get('message')}"
    return text


def pods_ready(
    pods: Iterable[Mapping[str, Any]], events: Iterable[Mapping[str, Any]] = ()
) -> tuple[bool, str]:
    """At least one pod and every pod Ready; otherwise which are not and why."""
    pods, events = list(pods), list(events)
    if not pods:
        return False, "no pods yet"
    waiting = [pod_problem(p, events) for p in pods if not pod_ready(p)]
    if not waiting:
        return True, f"{len(pods)} pod(s) Ready"
    return False, f"{len(pods) - len(waiting)}/{len(pods)} Ready; not Ready: " + "; ".join(waiting)


def diagnostics(kube: Kube | None, namespace: str | None, *, events: int = 10) -> list[str]:
    """Pod phases and recent events, best-effort: a failure to read them is itself a line."""
    lines: list[str] = []
    if kube is None:
        return ["(no connection to the API server, so no pods or events)"]
    evs: list[dict[str, Any]] = []
    try:
        evs = kube.list("v1", "Event", namespace)
        evs.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    except Exception as exc:
        lines.append(f"(could not list events: {type(exc).__name__}: {exc})")
    try:
        pods = kube.list("v1", "Pod", namespace)
        lines.append(f"pods in {namespace or 'all namespaces'}:" if pods else "pods: none")
        lines += [
            f"  {p['metadata']['name']}: Ready" if pod_ready(p) else f"  {pod_problem(p, evs)}" for p in pods
        ]
    except Exception as exc:
        lines.append(f"(could not list pods: {type(exc).__name__}: {exc})")
    if evs:
        lines.append(f"last {min(events, len(evs))} events:")
    for ev in evs[-events:]:
        obj = ev.get("involvedObject") or {}
        lines.append(
            f"  {ev.get('type', '')} {ev.get('reason', '')} {obj.get('kind', '')}/{obj.get('name', '')}: "
            f"{ev.get('message', '')}"
        )
    return lines
