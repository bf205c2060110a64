"""A step's resources as the bodies the kind and cluster engines apply, in apply order.

Base resources first (a ServiceAccount before its Deployment), then Gateways, then routes, which
are applied only once their Gateway is Ready; every body carries the lab's ownership labels, and
on a shared cluster goes into the attendee's namespaces (lab.engines.kube.tenancy).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from lab.engines.kube.tenancy import CLUSTER_SCOPED, Tenancy
from lab.objects import ObjectKey
from lab.spec.plan import StepPlan

GATEWAY_API = "gateway.networking.k8s.io"
ROUTE_KINDS = frozenset({"HTTPRoute", "TCPRoute", "TLSRoute", "UDPRoute"})
# Apply order inside the base phase (kubectl apply -f DIR order would be by file name; this order
# never applies a Deployment before its ServiceAccount or a binding before its role).
KIND_ORDER = (
    "Namespace",
    "CustomResourceDefinition",
    "GatewayClassConfig",
    "GatewayClass",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Secret",
    "ConfigMap",
    "Service",
    "Deployment",
    "StatefulSet",
)
BASE, GATEWAYS, ROUTES = 0, 1, 2


def phase_of(kind: str) -> int:
    """BASE resources, GATEWAYS, or ROUTES (applied after the Gateway is Ready)."""
    if kind in ROUTE_KINDS:
        return ROUTES
    return GATEWAYS if kind == "Gateway" else BASE


def digest(body: Mapping[str, Any]) -> str:
    """A stable digest of a manifest body, to tell whether it changed since the last apply."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


def documents(
    step: StepPlan, tenancy: Tenancy, extra: Sequence[Mapping[str, Any]] = ()
) -> list[dict[str, Any]]:
    """The step's resources (and `extra` objects) as apply bodies in apply order, marked as this lab's.

    On a shared cluster they move into the attendee's namespaces and the manifests' Namespaces and
    cluster-scoped objects are left out (the engine makes the namespaces; the platform owns the rest).
    """
    docs: list[dict[str, Any]] = []
    for res in step.resources:
        body = copy.deepcopy(dict(res.body))
        if res.namespace is not None:
            body.setdefault("metadata", {})["namespace"] = res.namespace
        if tenancy.shared and res.kind in CLUSTER_SCOPED:
            continue
        docs.append(tenancy.adopt(body))
    docs = tenancy.unique_in_consul(docs)
    docs += [copy.deepcopy(dict(d)) for d in extra]

    def order(doc: dict[str, Any]) -> tuple[int, int]:
        kind = str(doc["kind"])
        return phase_of(kind), KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)

    return sorted(docs, key=order)


def namespaces_of(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The namespaces the bodies go to, in first-seen order."""
    return list(dict.fromkeys(str(d["metadata"]["namespace"]) for d in docs if (d.get("metadata") or {}).get("namespace")))


def key_of(body: Mapping[str, Any]) -> ObjectKey:
    """The ObjectKey of a manifest body."""
    meta = body.get("metadata") or {}
    return ObjectKey.of(
        str(body.get("apiVersion", "")), str(body.get("kind")), meta.get("namespace"), str(meta.get("name"))
    )


def applied_record(docs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """What the state keeps per applied object: key -> [apiVersion, digest]."""
    return {str(key_of(d)): [str(d["apiVersion"]), digest(d)] for d in docs}


def gateway_ports(step: StepPlan, port_map: Mapping[int, int]) -> dict[int, int]:
    """Listener port -> local port for every Gateway listener of the step."""
    ports: dict[int, int] = {}
    for res in step.resources:
        if res.kind == "Gateway":
            for listener in res.spec.get("listeners") or []:
                port = int(listener["port"])
                ports[port] = port_map.get(port, port)
    return ports


# consul-api-gateway v0.1.0-beta has no ReferencePolicy code: a backendRef into another namespace
# is resolved whether or not a ReferencePolicy allows it (internal/k8s/service/resolver.go Resolve
# only reads ref.Namespace, L200-223 at v0.1.0-beta).
REFERENCE_POLICY_NOTE = (
    "consul-api-gateway v0.1.0-beta does not enforce ReferencePolicy: the backendRefs of {routes} "
    "reach another namespace's Service with or without a ReferencePolicy on the kind and cluster engines "
    "(the embedded engine enforces it, as Gateway API v0.4.0 specifies)"
)


def cross_namespace_refs(route: Mapping[str, Any]) -> list[str]:
    """`namespace/name` of a route's backendRefs that point into another namespace."""
    own = str((route.get("metadata") or {}).get("namespace") or "default")
    refs = []
    for rule in (route.get("spec") or {}).get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            if ref.get("namespace") and str(ref["namespace"]) != own:
                refs.append(f"{ref['namespace']}/{ref['name']}")
    return refs


def engine_notes_for_route(route: Mapping[str, Any]) -> list[str]:
    """What differs on this engine for one route (cross-namespace references are not checked)."""
    if not cross_namespace_refs(route):
        return []
    meta = route.get("metadata") or {}
    return [
        REFERENCE_POLICY_NOTE.format(
            routes=f"HTTPRoute {meta.get('namespace') or 'default'}/{meta.get('name')}"
        )
    ]


def engine_notes(step: StepPlan) -> list[str]:
    """What differs on the kind and cluster engines for a step, one sentence each."""
    routes = [
        f"HTTPRoute {r.namespace or 'default'}/{r.name}"
        for r in step.resources
        if r.kind == "HTTPRoute" and cross_namespace_refs({**r.body, "metadata": {"namespace": r.namespace}})
    ]
    return [REFERENCE_POLICY_NOTE.format(routes=", ".join(routes))] if routes else []
