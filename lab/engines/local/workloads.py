"""What the embedded engine runs for a set of manifests: pods per Deployment, Services over them.

Pure: it names pods like Kubernetes (`<deployment>-<template hash>-<suffix>`), decides which
program answers for each image, and lists the resources the embedded engine does not emulate.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lab.spec.manifests import Resource
from lab.spec.routing import GATEWAY_GROUP
from lab.spec.selectors import selects, template_labels
from lab.spec.topology import Topology

# Kubernetes' safe alphabet for generated names (k8s.io/apimachinery/pkg/util/rand).
K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Consul protocols the gateway can route to (ServiceDefaults spec.protocol).
HTTP_PROTOCOLS = frozenset({"http", "http2"})


@dataclass(frozen=True)
class PodSpec:
    """One replica of a Deployment, run as a local HTTP backend."""

    namespace: str
    deployment: str
    name: str
    app: str  # echo | frontend | http
    image: str
    labels: Mapping[str, str]
    container_port: int | None


@dataclass(frozen=True)
class ServiceSpec:
    """A Service the gateway can route to: its selector and the pods it selects."""

    namespace: str
    name: str
    ports: tuple[int, ...]
    pods: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str]:
        """(namespace, name), as backendRefs resolve."""
        return (self.namespace, self.name)


@dataclass(frozen=True)
class NotEmulated:
    """A resource the embedded engine accepts but does not act on, and why."""

    ref: str
    reason: str


def template_hash(template: Mapping[str, Any]) -> str:
    """A stable 10-character hash of a pod template, in Kubernetes' safe alphabet."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True, default=str).encode()).digest()
    return "".join(K8S_ALPHABET[b % len(K8S_ALPHABET)] for b in digest[:10])


def pod_suffix(rng: random.Random) -> str:
    """A 5-character random suffix like the ReplicaSet controller gives each pod."""
    return "".join(rng.choice(K8S_ALPHABET) for _ in range(5))


def app_for_image(image: str) -> str:
    """Which program answers for an image: echo (echoserver), frontend, or a plain HTTP service."""
    if "echoserver" in image:
        return "echo"
    if "frontend" in image:
        return "frontend"
    return "http"


def protocol_of(topo: Topology, namespace: str, name: str) -> str:
    """The Consul protocol of a service (its ServiceDefaults); http when none is declared."""
    defaults = topo.find("ServiceDefaults", namespace, name)
    if defaults is None:
        return "http"
    return str(defaults.spec.get("protocol", "tcp")).lower()


def _labels(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()} if isinstance(value, Mapping) else {}


def _template_labels(deployment: Resource) -> dict[str, str]:
    return _labels(template_labels(deployment))


def _http_deployments(topo: Topology) -> list[Resource]:
    """Deployments selected by at least one HTTP Service."""
    out = []
    for dep in topo.of_kind("Deployment"):
        labels = _template_labels(dep)
        for svc in topo.of_kind("Service"):
            if svc.namespace != dep.namespace or not selects(_labels(svc.spec.get("selector")), labels):
                continue
            if protocol_of(topo, svc.namespace or "default", svc.name) in HTTP_PROTOCOLS:
                out.append(dep)
                break
    return out


def deployment_pods(
    deployment: Resource,
    rng: random.Random,
    previous: tuple[PodSpec, ...] = (),
) -> tuple[PodSpec, ...]:
    """The pods of one Deployment (spec.replicas, default 1); unchanged templates keep their pods."""
    spec = deployment.spec
    template = spec.get("template") or {}
    replicas = spec.get("replicas", 1)
    replicas = replicas if isinstance(replicas, int) and replicas >= 0 else 1
    containers = (template.get("spec") or {}).get("containers") or [{}]
    container = containers[0] if isinstance(containers[0], Mapping) else {}
    image = str(container.get("image", ""))
    ports = container.get("ports") or []
    port = ports[0].get("containerPort") if ports and isinstance(ports[0], Mapping) else None
    namespace = deployment.namespace or "default"
    prefix = f"{deployment.name}-{template_hash(template)}-"
    kept = [p for p in previous if p.name.startswith(prefix)][:replicas]
    taken = {p.name for p in kept}
    pods = list(kept)
    while len(pods) < replicas:
        name = prefix + pod_suffix(rng)
        if name in taken:
            continue
        taken.add(name)
        pods.append(
            PodSpec(
                namespace=namespace,
                deployment=deployment.name,
                name=name,
                app=app_for_image(image),
                image=image,
                labels=_template_labels(deployment),
                container_port=int(port) if isinstance(port, int) else None,
            )
        )
    return tuple(pods)


def plan_pods(
    topo: Topology,
    rng: random.Random,
    previous: tuple[PodSpec, ...] = (),
) -> tuple[PodSpec, ...]:
    """Every pod to run: one per replica of each Deployment an HTTP Service selects."""
    out: list[PodSpec] = []
    for dep in _http_deployments(topo):
        mine = tuple(p for p in previous if p.namespace == dep.namespace and p.deployment == dep.name)
        out.extend(deployment_pods(dep, rng, mine))
    return tuple(out)


def plan_services(topo: Topology, pods: tuple[PodSpec, ...]) -> tuple[ServiceSpec, ...]:
    """The HTTP Services and the pods their selectors pick (a Service may select none)."""
    out = []
    for svc in topo.of_kind("Service"):
        namespace = svc.namespace or "default"
        if protocol_of(topo, namespace, svc.name) not in HTTP_PROTOCOLS:
            continue
        selector = _labels(svc.spec.get("selector"))
        selected = tuple(p.name for p in pods if p.namespace == namespace and selects(selector, p.labels))
        ports = tuple(int(p.get("port", 0)) for p in svc.spec.get("ports") or () if isinstance(p, Mapping))
        out.append(ServiceSpec(namespace, svc.name, ports, selected))
    return tuple(out)


# Kinds the embedded engine acts on (HTTP Services and their Deployments are checked apart).
_EMULATED = frozenset(
    {
        (GATEWAY_GROUP, "Gateway"),
        (GATEWAY_GROUP, "HTTPRoute"),
        (GATEWAY_GROUP, "GatewayClass"),
        (GATEWAY_GROUP, "ReferencePolicy"),  # permits cross-namespace backendRefs (topology)
        ("", "Namespace"),  # its labels are what allowedRoutes namespace selectors match
    }
)


# Filters the gateway applies: at rule level, and (HTTPBackendRef.filters) at backend level.
RULE_FILTERS = frozenset({"RequestHeaderModifier", "RequestRedirect"})
BACKEND_FILTERS = frozenset({"RequestHeaderModifier"})


def ignored_filters(route: Resource) -> list[str]:
    """Where an HTTPRoute uses a filter the embedded engine accepts but does not apply, and which."""
    out = []
    rules = route.spec.get("rules")
    for ri, rule in enumerate(rules if isinstance(rules, list) else ()):
        for fi, f in enumerate(rule.get("filters") or ()):
            if f.get("type") not in RULE_FILTERS:
                out.append(f"rules[{ri}].filters[{fi}] {f.get('type')}")
        for bi, ref in enumerate(rule.get("backendRefs") or ()):
            for fi, f in enumerate(ref.get("filters") or ()):
                if f.get("type") not in BACKEND_FILTERS:
                    out.append(f"rules[{ri}].backendRefs[{bi}].filters[{fi}] {f.get('type')}")
    return out


def not_emulated(topo: Topology) -> tuple[NotEmulated, ...]:
    """Resources (and route filters) accepted from the manifests that the embedded engine ignores."""
    http_deps = {(d.namespace, d.name) for d in _http_deployments(topo)}
    out = []
    for r in topo.resources:
        if (r.group, r.kind) == (GATEWAY_GROUP, "HTTPRoute"):
            out += [
                NotEmulated(r.ref, f"{where}: filter not emulated (ignored)") for where in ignored_filters(r)
            ]
        if (r.group, r.kind) in _EMULATED:
            continue
        if r.kind == "Deployment" and r.group == "apps":
            if (r.namespace, r.name) in http_deps:
                continue
            reason = "no HTTP Service selects it (non-HTTP workloads are not run)"
        elif r.kind == "Service" and r.group == "":
            protocol = protocol_of(topo, r.namespace or "default", r.name)
            if protocol in HTTP_PROTOCOLS:
                continue
            reason = f"protocol {protocol} (ServiceDefaults): only HTTP services are emulated"
        elif r.kind == "ServiceDefaults":
            continue  # read for the protocol
        else:
            reason = {
                "ServiceIntentions": "no service mesh: every service may call every other",
                "ServiceAccount": "no identities: nothing authenticates",
                "ClusterRole": "no API server: RBAC is not enforced",
                "ClusterRoleBinding": "no API server: RBAC is not enforced",
                "Role": "no API server: RBAC is not enforced",
                "RoleBinding": "no API server: RBAC is not enforced",
                "ConfigMap": "no pods read configuration",
                "Secret": "the lab CA stands in for certificates",
            }.get(r.kind, "not emulated by the embedded engine")
        out.append(NotEmulated(r.ref, reason))
    return tuple(out)
