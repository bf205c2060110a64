"""lab.engines.kube.status on API-shaped dicts: conditions, route acceptance, pods not Ready and why."""

from __future__ import annotations

from typing import Any

from lab.engines.kube.status import (
    condition_true,
    conditions_of,
    diagnostics,
    pod_problem,
    pods_ready,
    route_accepted,
    route_state,
)


def obj(conditions: list[Any], generation: int | None = None) -> dict[str, Any]:
    meta = {} if generation is None else {"generation": generation}
    return {"metadata": meta, "status": {"conditions": conditions}}


def test_conditions_are_keyed_by_type_and_anything_else_is_ignored() -> None:
    ready = {"type": "Ready", "status": "True"}
    assert conditions_of(None) == {} and conditions_of({}) == {} and conditions_of({"status": None}) == {}
    assert conditions_of(obj([ready, "junk", {"status": "False"}])) == {
        "Ready": ready,
        "None": {"status": "False"},
    }


def test_a_condition_counts_only_when_true_for_the_current_generation() -> None:
    assert condition_true(None, "Ready") == (False, "the object does not exist")
    assert condition_true(obj([]), "Ready") == (False, "no Ready condition yet")
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "Ready",
        "message": "all good",
        "observedGeneration": 2,
    }
    assert condition_true(obj([ready], generation=2), "Ready") == (True, "Ready=True reason=Ready all good")
    assert condition_true(obj([ready], generation=3), "Ready") == (
        False,
        "Ready=True reason=Ready all good (status is for generation 2, the object is at 3)",
    )
    # no generation on either side: nothing to compare, the condition counts
    assert condition_true(obj([{"type": "Ready", "status": "True"}]), "Ready") == (True, "Ready=True reason=")
    assert condition_true(obj([{**ready, "status": "False"}], generation=2), "Ready") == (
        False,
        "Ready=False reason=Ready all good",
    )
    newer = {**ready, "observedGeneration": 4}
    assert condition_true(obj([newer], generation=3), "Ready")[0] is True


def route(parents: list[Any], generation: int | None = None) -> dict[str, Any]:
    meta = {} if generation is None else {"generation": generation}
    return {"metadata": meta, "status": {"parents": parents}}


def parent(name: str, *conditions: dict[str, Any]) -> dict[str, Any]:
    return {"parentRef": {"name": name}, "conditions": list(conditions)}


ACCEPTED = {"type": "Accepted", "status": "True", "observedGeneration": 1}


def test_a_route_is_accepted_only_by_every_parent_for_its_generation() -> None:
    assert route_state(None).seen == "the route does not exist"
    assert route_state(route([])) == route_state({"status": {}})
    assert route_state(route([])).seen == "no status.parents yet (the controller has not bound the route)"
    assert route_accepted(route([parent("gw", ACCEPTED)], generation=1)) == (True, "Accepted")
    assert route_accepted(None) == (False, "the route does not exist")  # False, never None: JSON says false
    assert route_accepted(route([parent("gw")])) == (False, "parent gw: no Accepted condition")
    assert route_accepted(route([{"conditions": []}])) == (False, "parent ?: no Accepted condition")
    assert route_accepted(route([parent("gw", ACCEPTED)], generation=2)) == (
        False,
        "parent gw: status is for generation 1, the object is at 2",
    )
    two = route(
        [parent("a", ACCEPTED), parent("b", {"type": "Accepted", "status": "False", "reason": "NoMatch"})]
    )
    assert route_accepted(two) == (False, "parent b: not Accepted (NoMatch: )")


def test_a_bind_error_is_told_apart_with_the_unresolved_reference() -> None:
    bind = {"type": "Accepted", "status": "False", "reason": "BindError", "message": "no listener"}
    refs = {"type": "ResolvedRefs", "status": "False", "reason": "ServiceNotFound", "message": "echo-2"}
    stuck = route_state(route([parent("gw", bind, refs)]))
    assert (stuck.accepted, stuck.bind_error) == (False, True)
    assert (
        stuck.seen == "parent gw: not Accepted (BindError: no listener; ResolvedRefs ServiceNotFound: echo-2)"
    )
    resolved = route_state(route([parent("gw", bind, {**refs, "status": "True"})]))
    assert resolved.bind_error and resolved.seen == "parent gw: not Accepted (BindError: no listener)"
    other = route_state(route([parent("gw", {**bind, "reason": "Invalid"})]))
    assert (other.accepted, other.bind_error) == (False, False)


def pod(name: str, ready: bool, phase: str = "Running", **status: Any) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}, *status.pop("conditions", [])]
    return {"metadata": {"name": name}, "status": {"phase": phase, "conditions": conditions, **status}}


def test_a_pod_not_ready_says_why() -> None:
    unschedulable = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "no node",
    }
    waiting = [
        {"state": {"waiting": {"reason": "ImagePullBackOff", "message": "pull failed"}}},
        {"state": {"waiting": {"reason": "CrashLoopBackOff"}}},
        {"state": {"waiting": {"reason": "Pending"}}},
        {"state": {"running": {}}},
    ]
    p = pod("echo-1-x", False, "Pending", conditions=[unschedulable], containerStatuses=waiting)
    assert pod_problem(p) == (
        "echo-1-x Pending (Unschedulable: no node; ImagePullBackOff: pull failed; CrashLoopBackOff)"
    )
    assert pod_problem({"metadata": {}}) == "? ?"
    events = [
        {"involvedObject": {"name": "echo-1-x"}, "type": "Warning", "reason": "Failed", "message": "first"},
        {"involvedObject": {"name": "echo-1-x"}, "type": "Warning", "reason": "BackOff", "message": "last"},
        {"involvedObject": {"name": "echo-1-x"}, "type": "Normal", "reason": "Pulling", "message": "later"},
        {"involvedObject": {"name": "other"}, "type": "Warning", "reason": "Other", "message": "not mine"},
    ]
    assert pod_problem(pod("echo-1-x", False), events) == "echo-1-x Running, last event BackOff: last"
    assert pod_problem(pod("echo-1-x", False), events[2:]) == "echo-1-x Running"


def test_pods_are_ready_when_there_is_one_and_all_are() -> None:
    assert pods_ready([]) == (False, "no pods yet")
    assert pods_ready([pod("a", True), pod("b", True)]) == (True, "2 pod(s) Ready")
    assert pods_ready([pod("a", True), pod("b", False, "Pending"), pod("c", False)]) == (
        False,
        "1/3 Ready; not Ready: b Pending; c Running",
    )


class FakeKube:
    """`list` of a Kube: pods and events of a namespace, or an error."""

    def __init__(self, pods: Any, events: Any) -> None:
        self.items = {"Pod": pods, "Event": events}
        self.asked: list[tuple[str, str, str | None]] = []

    def list(self, api_version: str, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        self.asked.append((api_version, kind, namespace))
        found = self.items[kind]
        if isinstance(found, Exception):
            raise found
        return list(found)


def event(t: str, reason: str, name: str = "a") -> dict[str, Any]:
    return {
        "lastTimestamp": t,
        "type": "Warning",
        "reason": reason,
        "message": f"{reason}!",
        "involvedObject": {"kind": "Pod", "name": name},
    }


def test_diagnostics_list_pods_and_the_last_events_in_time_order() -> None:
    assert diagnostics(None, "ns") == ["(no connection to the API server, so no pods or events)"]
    events = [event("2022-01-01T00:00:03Z", "C"), event("2022-01-01T00:00:01Z", "A"), event("", "Z", "b")]
    events.append({"eventTime": "2022-01-01T00:00:02Z", "reason": "B", "involvedObject": {}})
    kube = FakeKube([pod("a", False), pod("b", True)], events)
    assert diagnostics(kube, "lab", events=3) == [  # type: ignore[arg-type]
        "pods in lab:",
        "  a Running, last event C: C!",
        "  b: Ready",
        "last 3 events:",
        "  Warning A Pod/a: A!",
        "   B /: ",
        "  Warning C Pod/a: C!",
    ]
    assert kube.asked == [("v1", "Event", "lab"), ("v1", "Pod", "lab")]
    assert diagnostics(FakeKube([], []), None) == ["pods: none"]  # type: ignore[arg-type]
    broken = FakeKube(RuntimeError("pods gone"), RuntimeError("events gone"))
    assert diagnostics(broken, None) == [  # type: ignore[arg-type]
        "(could not list events: RuntimeError: events gone)",
        "(could not list pods: RuntimeError: pods gone)",
    ]
    assert diagnostics(FakeKube([pod("a", True)], []), None) == ["pods in all namespaces:", "  a: Ready"]  # type: ignore[arg-type]
