"""The status the lab's controller writes: route, Gateway and listener conditions (Gateway API v0.4.0).

Kubernetes accepts objects whose references dangle; the controller flags them in status and the
gateway serves what is valid. The embedded engine shows this status (`lab status`, `lab get`).
Condition types and Gateway/listener reasons are v0.4.0's (apis/v1alpha2/gateway_types.go,
shared_types.go); v0.4.0 names no route reasons but RefNotPermitted, so the others are those of
consul-api-gateway v0.1.0-beta (internal/k8s/reconciler/config/statuses.yaml).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lab.spec.manifests import Resource
from lab.spec.routing import GATEWAY_GROUP, BackendRef, RefProblem, rules_of
from lab.spec.topology import CONTROLLER_NAME, Listener, Topology

# Secrets the engines provide without a manifest: the Consul chart's tls-init job makes
# `consul-server-cert` in the release namespace (the embedded engine serves its lab CA's).
PROVIDED_CERTIFICATES = frozenset({("default", "consul-server-cert")})


@dataclass(frozen=True)
class Condition:
    """One metav1.Condition: type, status, reason, message."""

    type: str
    status: bool
    reason: str
    message: str

    def to_json(self) -> dict[str, str]:
        """The condition as `kubectl get -o yaml` prints it."""
        return {
            "type": self.type,
            "status": "True" if self.status else "False",
            "reason": self.reason,
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"{self.type}={'True' if self.status else 'False'} ({self.reason})"


def _parent_key(route: Resource, parent: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "group": parent.get("group", GATEWAY_GROUP),
        "kind": parent.get("kind", "Gateway"),
        "namespace": parent.get("namespace") or route.namespace,
        "name": parent.get("name"),
    }
    if parent.get("sectionName") is not None:
        out["sectionName"] = parent["sectionName"]
    return out


def ref_problems(topo: Topology, route: Resource) -> list[tuple[int, int, BackendRef, RefProblem]]:
    """(rule index, backendRef index, ref, problem) for every backendRef the controller drops."""
    out = []
    for rule in rules_of(route, resolve=topo.backend_problem):
        for bi, ref in enumerate(rule.backends):
            if ref.problem is not None:
                out.append((rule.index, bi, ref, ref.problem))
    return out


def _resolved_refs(topo: Topology, route: Resource) -> Condition:
    problems = [p for _, _, _, p in ref_problems(topo, route)]
    if not problems:
        return Condition("ResolvedRefs", True, "ResolvedRefs", "All references resolved.")
    reasons = {p.reason for p in problems}
    reason = reasons.pop() if len(reasons) == 1 else "Errors"
    return Condition("ResolvedRefs", False, reason, "; ".join(p.message for p in problems))


def _accepted(topo: Topology, route: Resource, parent: Mapping[str, Any]) -> Condition:
    listeners = topo.parent_listeners(route, parent)
    if not listeners:
        section = parent.get("sectionName")
        return Condition("Accepted", False, "BindError", f"the Gateway has no listener named {section!r}")
    refusals = {lst.id.listener: topo.bind(route, parent, lst) for lst in listeners}
    bound = [name for name, why in refusals.items() if why is None]
    if bound:
        return Condition("Accepted", True, "Accepted", f"Route accepted by listener(s) {', '.join(bound)}.")
    reasons = set(refusals.values())
    reason = str(reasons.pop()) if len(reasons) == 1 else "BindError"
    detail = ", ".join(f"{name}: {why}" for name, why in refusals.items())
    return Condition("Accepted", False, reason, f"no listener accepts the route ({detail})")


def route_status(topo: Topology, route: Resource) -> list[dict[str, Any]]:
    """The status.parents of an HTTPRoute: one entry per parentRef the lab's controller reconciles.

    A parentRef to a missing Gateway, or to one of another class, gets no entry: no controller
    writes it. The embedded engine keeps a partly invalid route's valid rules (v0.4.0
    Listener.AllowedRoutes), so Accepted does not depend on ResolvedRefs here.
    """
    parents = []
    resolved = _resolved_refs(topo, route)
    for parent in topo.gateway_parents(route):
        gw = topo.find("Gateway", str(parent.get("namespace") or route.namespace), str(parent.get("name")))
        if gw is None or not topo.reconciled(gw):
            continue
        conditions = [_accepted(topo, route, parent), resolved]
        parents.append(
            {
                "parentRef": _parent_key(route, parent),
                "controllerName": CONTROLLER_NAME,
                "conditions": [c.to_json() for c in conditions],
            }
        )
    return parents


def certificate_problem(topo: Topology, listener: Listener) -> str | None:
    """Why an HTTPS listener's certificateRefs do not resolve, or None."""
    if listener.protocol != "HTTPS":
        return None
    for name in listener.certificate_refs:
        key = (listener.id.namespace, name)
        if key not in PROVIDED_CERTIFICATES and topo.find("Secret", *key, group="") is None:
            return f"Secret {key[0]}/{name} does not exist"
    return None


def listener_conditions(topo: Topology, listener: Listener) -> list[Condition]:
    """Detached, ResolvedRefs and Ready of one listener as the embedded engine serves it."""
    if listener.protocol not in ("HTTP", "HTTPS"):
        return [
            Condition("Detached", True, "UnsupportedProtocol", f"{listener.protocol} is not emulated"),
            Condition("Ready", False, "Invalid", "the embedded engine serves HTTP and HTTPS listeners"),
        ]
    out = [Condition("Detached", False, "Attached", "Listener attached.")]
    cert = certificate_problem(topo, listener)
    if cert is not None:
        out.append(Condition("ResolvedRefs", False, "InvalidCertificateRef", cert))
        out.append(Condition("Ready", False, "Invalid", f"no certificate to serve: {cert}"))
        return out
    out.append(Condition("ResolvedRefs", True, "ResolvedRefs", "All references resolved."))
    out.append(Condition("Ready", True, "Ready", "Listener ready."))
    return out


def serves(topo: Topology, listener: Listener) -> bool:
    """True when the embedded engine serves the listener: reconciled Gateway, Ready listener."""
    gw = topo.gateway_of(listener)
    if gw is None or not topo.reconciled(gw):
        return False
    return all(c.status for c in listener_conditions(topo, listener) if c.type == "Ready")


def gateway_status(topo: Topology, gateway: Resource) -> dict[str, Any]:
    """The status of a Gateway: Scheduled and Ready, and each listener's conditions and attachedRoutes."""
    if not topo.reconciled(gateway):
        cls = gateway.spec.get("gatewayClassName")
        waiting = Condition(
            "Scheduled", False, "NotReconciled", f"no controller in the lab handles class {cls!r}"
        )
        return {"conditions": [waiting.to_json()]}
    listeners = [lst for lst in topo.listeners() if topo.gateway_of(lst) is gateway]
    entries = []
    not_ready = []
    for lst in listeners:
        conditions = listener_conditions(topo, lst)
        if not all(c.status for c in conditions if c.type == "Ready"):
            not_ready.append(lst.id.listener)
        entries.append(
            {
                "name": lst.id.listener,
                "supportedKinds": [{"group": GATEWAY_GROUP, "kind": "HTTPRoute"}]
                if lst.accepts_httproutes()
                else [],
                "attachedRoutes": len(topo.attached_routes(lst)) if lst.accepts_httproutes() else 0,
                "conditions": [c.to_json() for c in conditions],
            }
        )
    ready = (
        Condition("Ready", True, "Ready", "Gateway ready.")
        if not not_ready
        else Condition("Ready", False, "ListenersNotValid", f"listener(s) not ready: {', '.join(not_ready)}")
    )
    scheduled = Condition("Scheduled", True, "Scheduled", "Gateway scheduled.")
    return {"conditions": [scheduled.to_json(), ready.to_json()], "listeners": entries}


def status_of(topo: Topology, resource: Resource) -> dict[str, Any] | None:
    """The status block of a Gateway or HTTPRoute (None for kinds the controller writes none for)."""
    if resource.group != GATEWAY_GROUP:
        return None
    if resource.kind == "Gateway":
        return gateway_status(topo, resource)
    if resource.kind == "HTTPRoute":
        return {"parents": route_status(topo, resource)}
    return None


def _summary(conditions: list[dict[str, str]]) -> tuple[str, str]:
    failing = [c for c in conditions if c["status"] != "True" and c["type"] != "Detached"]
    if not failing:
        return ", ".join(c["type"] for c in conditions if c["type"] != "Detached"), ""
    state = ", ".join(f"{c['type']}={c['status']} ({c['reason']})" for c in failing)
    return state, "; ".join(c["message"] for c in failing)


def summary(topo: Topology) -> list[dict[str, str]]:
    """One line per Gateway, listener and route parent: the conditions as `lab status` shows them."""
    out = []
    for r in topo.resources:
        status = status_of(topo, r)
        if status is None:
            continue
        for parent in status.get("parents", []):
            state, detail = _summary(parent["conditions"])
            gw = parent["parentRef"]
            out.append(
                {
                    "ref": r.ref,
                    "state": state,
                    "detail": f"on Gateway {gw['namespace']}/{gw['name']}: {detail}".rstrip(": "),
                }
            )
        if "conditions" in status:
            state, detail = _summary(status["conditions"])
            out.append({"ref": r.ref, "state": state, "detail": detail})
        for lst in status.get("listeners", []):
            state, detail = _summary(lst["conditions"])
            routes = f"{lst['attachedRoutes']} route(s) attached"
            out.append(
                {
                    "ref": f"{r.ref} listener {lst['name']}",
                    "state": state,
                    "detail": f"{routes}; {detail}".rstrip("; "),
                }
            )
    return out
