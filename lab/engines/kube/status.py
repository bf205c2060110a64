"""What the cluster says about an object: its conditions, a route's acceptance, pods' readiness.

Pure functions over the API's dicts, so the waits and `lab status` read status the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.engines.kube.client import Kube


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
