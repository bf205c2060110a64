"""An index of a lab's resources: which routes attach to which Gateway listener, and lookups.

Validation reports what does not resolve; the plan and the engines use what does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lab.spec.manifests import Resource
from lab.spec.routing import GATEWAY_GROUP, RouteTable


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


def _listeners(gateway: Resource) -> list[Listener]:
    out = []
    for raw in gateway.spec.get("listeners") or ():
        if not isinstance(raw, Mapping):
            continue
        allowed = (raw.get("allowedRoutes") or {}).get("namespaces") or {}
        selector = (allowed.get("selector") or {}).get("matchLabels") or {}
        certs = ((raw.get("tls") or {}).get("certificateRefs")) or ()
        out.append(
            Listener(
                id=ListenerId(gateway.namespace or "default", gateway.name, str(raw.get("name"))),
                port=int(raw.get("port", 0)),
                protocol=str(raw.get("protocol", "")),
                hostname=raw.get("hostname"),
                allowed_from=str(allowed.get("from", "Same")),
                selector={str(k): str(v) for k, v in selector.items()},
                certificate_refs=tuple(str(c.get("name")) for c in certs if isinstance(c, Mapping)),
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

    def attached_routes(self, listener: Listener) -> list[Resource]:
        """HTTPRoutes attached to a listener and admitted by it, in definition order."""
        out = []
        for route in self.of_kind("HTTPRoute"):
            for parent in route.spec.get("parentRefs") or ():
                if not isinstance(parent, Mapping):
                    continue
                if parent.get("group", GATEWAY_GROUP) != GATEWAY_GROUP:
                    continue
                if parent.get("kind", "Gateway") != "Gateway":
                    continue
                if any(lst.id == listener.id for lst in self.parent_listeners(route, parent)) and self.admits(
                    listener, route.namespace or "default"
                ):
                    out.append(route)
                    break
        return out

    def route_table(self, listener: Listener) -> RouteTable:
        """The routing table of one listener (its hostname, if any, narrows the routes' hostnames)."""
        return RouteTable([(route, listener.hostname) for route in self.attached_routes(listener)])

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
