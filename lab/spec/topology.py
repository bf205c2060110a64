"""An index of a lab's resources: which routes attach to which Gateway listener, and lookups.

It answers what the lab's controller decides: which Gateways it reconciles, which parentRefs bind
to which listeners, which backendRefs resolve. Status conditions report it; the engines serve it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lab.spec.hostnames import effective_hostnames
from lab.spec.manifests import Resource
from lab.spec.pins import GATEWAY_CLASS
from lab.spec.routing import GATEWAY_GROUP, BackendRef, RefProblem, RouteTable

# The controller of the lab's GatewayClass (consul-api-gateway v0.1.0-beta, the chart's
# GatewayClass `consul-api-gateway`); Gateways of another class are reconciled by nobody here.
CONTROLLER_NAME = "hashicorp.com/consul-api-gateway-controller"
# Listener protocols HTTPRoutes attach to (v0.4.0 Listener.AllowedRoutes.Kinds defaults by protocol).
HTTP_PROTOCOLS = ("HTTP", "HTTPS")
# Why a parentRef does not bind to a listener: consul-api-gateway v0.1.0-beta's Accepted=False
# reasons (internal/k8s/reconciler/config/statuses.yaml); v0.4.0 names none for routes.
NAMESPACE_POLICY = "ListenerNamespacePolicy"
ROUTE_KIND = "InvalidRouteKind"
HOSTNAME_MISMATCH = "ListenerHostnameMismatch"


@dataclass(frozen=True)
class ListenerId:
    """A Gateway listener: gateway namespace/name and listener name."""

    namespace: str
    gateway: str
    listener: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.gateway}:{self.listener}"


@dataclass(frozen=True)
class Listener:
    """A listener's fields the lab uses."""

    id: ListenerId
    port: int
    protocol: str
    hostname: str | None
    allowed_from: str
    selector: Mapping[str, str]
    certificate_refs: tuple[str, ...]
    # allowedRoutes.kinds; () = the protocol's default (HTTPRoute on HTTP/HTTPS)
    kinds: tuple[str, ...] = ()

    @property
    def scheme(self) -> str:
        """The URL scheme clients use: https for HTTPS (and TLS), else http."""
        return "https" if self.protocol in ("HTTPS", "TLS") else "http"

    def accepts_httproutes(self) -> bool:
        """HTTPRoutes attach to HTTP/HTTPS listeners whose allowedRoutes.kinds (if set) lists them."""
        return self.protocol in HTTP_PROTOCOLS and (not self.kinds or "HTTPRoute" in self.kinds)


def _listeners(gateway: Resource) -> list[Listener]:
    out = []
    for raw in gateway.spec.get("listeners") or ():
        if not isinstance(raw, Mapping):
            continue
        allowed = (raw.get("allowedRoutes") or {}).get("namespaces") or {}
        selector = (allowed.get("selector") or {}).get("matchLabels") or {}
        certs = ((raw.get("tls") or {}).get("certificateRefs")) or ()
        kinds = (raw.get("allowedRoutes") or {}).get("kinds") or ()
        out.append(
            Listener(
                id=ListenerId(gateway.namespace or "default", gateway.name, str(raw.get("name"))),
                port=int(raw.get("port", 0)),
                protocol=str(raw.get("protocol", "")),
                hostname=raw.get("hostname"),
                allowed_from=str(allowed.get("from", "Same")),
                selector={str(k): str(v) for k, v in selector.items()},
                certificate_refs=tuple(str(c.get("name")) for c in certs if isinstance(c, Mapping)),
                kinds=tuple(
                    str(k.get("kind"))
                    for k in kinds
                    if isinstance(k, Mapping) and k.get("group", GATEWAY_GROUP) == GATEWAY_GROUP
                ),
            )
        )
    return out


class Topology:
    """Lookups over one set of resources (later resources replace earlier ones of the same key)."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        by_key: dict[tuple[str, str, str | None, str], Resource] = {}
        for r in resources:
            by_key[(r.group, r.kind, r.namespace, r.name)] = r
        self.resources: tuple[Resource, ...] = tuple(by_key.values())
        self._by_key = by_key

    def find(self, kind: str, namespace: str | None, name: str, group: str | None = None) -> Resource | None:
        """The resource of that kind, namespace and name (any group unless given)."""
        for (g, k, ns, n), r in self._by_key.items():
            if k == kind and ns == namespace and n == name and (group is None or g == group):
                return r
        return None

    def of_kind(self, kind: str) -> list[Resource]:
        """Every resource of a kind, in definition order."""
        return [r for r in self.resources if r.kind == kind]

    def listeners(self) -> list[Listener]:
        """Every listener of every Gateway."""
        return [lst for gw in self.of_kind("Gateway") for lst in _listeners(gw)]

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        """Labels of a Namespace resource in the plan (a namespace not declared has none)."""
        ns = self.find("Namespace", None, namespace)
        labels = (ns.body.get("metadata") or {}).get("labels") if ns else None
        return {str(k): str(v) for k, v in (labels or {}).items()}

    def admits(self, listener: Listener, route_namespace: str) -> bool:
        """allowedRoutes.namespaces: Same, All or Selector (matchLabels)."""
        if listener.allowed_from == "All":
            return True
        if listener.allowed_from == "Same":
            return route_namespace == listener.id.namespace
        labels = self.namespace_labels(route_namespace)
        return all(labels.get(k) == v for k, v in listener.selector.items())

    def parent_listeners(self, route: Resource, parent: Mapping[str, Any]) -> list[Listener]:
        """The listeners one parentRef names (all of the Gateway's unless sectionName is set)."""
        namespace = str(parent.get("namespace") or route.namespace)
        name = str(parent.get("name"))
        section = parent.get("sectionName")
        return [
            lst
            for lst in self.listeners()
            if lst.id.namespace == namespace
            and lst.id.gateway == name
            and (section is None or lst.id.listener == section)
        ]

    def reconciled(self, gateway: Resource) -> bool:
        """True when the lab's controller handles the Gateway's class (consul-api-gateway)."""
        name = gateway.spec.get("gatewayClassName")
        if name == GATEWAY_CLASS:
            return True
        cls = self.find("GatewayClass", None, str(name), group=GATEWAY_GROUP)
        return cls is not None and cls.spec.get("controllerName") == CONTROLLER_NAME

    def gateway_of(self, listener: Listener) -> Resource | None:
        """The Gateway a listener belongs to."""
        return self.find("Gateway", listener.id.namespace, listener.id.gateway, group=GATEWAY_GROUP)

    def bind(self, route: Resource, parent: Mapping[str, Any], listener: Listener) -> str | None:
        """Why a parentRef naming `listener` does not bind there (an Accepted=False reason), or None."""
        if not listener.accepts_httproutes():
            return ROUTE_KIND
        if not self.admits(listener, route.namespace or "default"):
            return NAMESPACE_POLICY
        hostnames = [str(h).lower() for h in route.spec.get("hostnames") or ()]
        if effective_hostnames(listener.hostname, hostnames) is None:
            return HOSTNAME_MISMATCH
        return None

    def gateway_parents(self, route: Resource) -> list[Mapping[str, Any]]:
        """The route's parentRefs that name a Gateway (the only parent kind the controller handles)."""
        return [
            p
            for p in route.spec.get("parentRefs") or ()
            if isinstance(p, Mapping)
            and p.get("group", GATEWAY_GROUP) == GATEWAY_GROUP
            and p.get("kind", "Gateway") == "Gateway"
        ]

    def attached_routes(self, listener: Listener) -> list[Resource]:
        """HTTPRoutes bound to a listener (named by a parentRef and admitted), in definition order."""
        out = []
        for route in self.of_kind("HTTPRoute"):
            for parent in self.gateway_parents(route):
                if any(lst.id == listener.id for lst in self.parent_listeners(route, parent)) and (
                    self.bind(route, parent, listener) is None
                ):
                    out.append(route)
                    break
        return out

    def route_table(self, listener: Listener) -> RouteTable:
        """The routing table of one listener (its hostname, if any, narrows the routes' hostnames).

        BackendRefs the controller drops keep their weight and get 503 (`backend_problem`).
        """
        routes = [(route, listener.hostname) for route in self.attached_routes(listener)]
        return RouteTable(routes, resolve=self.backend_problem)

    def service_ports(self, namespace: str, name: str) -> tuple[int, ...] | None:
        """Ports a Service declares, or None when there is no such Service."""
        svc = self.find("Service", namespace, name, group="")
        if svc is None:
            return None
        return tuple(int(p.get("port", 0)) for p in svc.spec.get("ports") or () if isinstance(p, Mapping))

    def reference_allowed(self, route: Resource, target_namespace: str, target_name: str) -> bool:
        """A cross-namespace backendRef needs a ReferencePolicy in the target namespace."""
        if target_namespace == route.namespace:
            return True
        for policy in self.of_kind("ReferencePolicy"):
            if policy.namespace != target_namespace:
                continue
            spec = policy.spec
            from_ok = any(
                f.get("group") == GATEWAY_GROUP
                and f.get("kind") == "HTTPRoute"
                and f.get("namespace") == route.namespace
                for f in spec.get("from") or ()
            )
            to_ok = any(
                t.get("group", "") == ""
                and t.get("kind") == "Service"
                and t.get("name") in (None, target_name)
                for t in spec.get("to") or ()
            )
            if from_ok and to_ok:
                return True
        return False

    def backend_problem(self, route: Resource, ref: BackendRef) -> RefProblem | None:
        """Why the controller drops a backendRef (ResolvedRefs=False), or None when it resolves.

        v0.4.0 HTTPBackendRef: a referent that cannot be found makes the ref invalid; a
        cross-namespace one no ReferencePolicy covers gets RefNotPermitted. The other reasons are
        consul-api-gateway v0.1.0-beta's (statuses.yaml): ServiceNotFound, Errors (unsupported kind).
        """
        where = f"{ref.kind} {ref.namespace}/{ref.name}"
        if ref.group != "" or ref.kind != "Service":
            group = f"{ref.group}/" if ref.group else ""
            return RefProblem("Errors", f"backendRef kind {group}{ref.kind} is not supported: only Services")
        ports = self.service_ports(ref.namespace, ref.name)
        if ports is None:
            return RefProblem("ServiceNotFound", f"{where} does not exist")
        if ref.port is None:
            return RefProblem("ServiceNotFound", f"{where} is named without a port (required for a Service)")
        if ref.port not in ports:
            declared = ", ".join(map(str, ports)) or "none"
            return RefProblem("ServiceNotFound", f"{where} has no port {ref.port} (its ports: {declared})")
        if not self.reference_allowed(route, ref.namespace, ref.name):
            return RefProblem(
                "RefNotPermitted",
                f"{where} is in another namespace and no ReferencePolicy in {ref.namespace} allows "
                f"HTTPRoutes from {route.namespace}",
            )
        return None
