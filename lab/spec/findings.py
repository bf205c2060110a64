"""What `lab validate` warns about: objects Kubernetes accepts and the controller flags.

Each warning names the status condition it raises, its effect on traffic ("/ on example-route-1
will answer 503") and, where Consul API Gateway 0.1.0 differs from the specification the embedded
engine follows, what the kind engine does instead. `lab validate --strict` makes them errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.spec import consul
from lab.spec.conditions import certificate_problem, ref_problems
from lab.spec.manifests import FieldPath, Resource
from lab.spec.routing import GATEWAY_GROUP
from lab.spec.topology import Topology

# What Consul API Gateway 0.1.0-beta does where it departs from the specification (sources:
# hashicorp/consul-api-gateway v0.1.0-beta, internal/k8s/reconciler and internal/k8s/service).
KIND_UNRESOLVED = (
    "Consul API Gateway 0.1.0 binds no route with an unresolved backendRef (listener.go: "
    "'route is in an invalid state and cannot bind'; Accepted=False BindError): none of {route}'s "
    "rules is served there"
)
KIND_NO_POLICY = (
    "Consul API Gateway 0.1.0 does not check ReferencePolicy (no code for it in v0.1.0-beta): "
    "{backend} receives its share there"
)
KIND_PORT = (
    "Consul API Gateway 0.1.0 ignores a backendRef's port (http_route.go): {backend} receives its share there"
)
KIND_NO_BACKENDS = (
    "Consul API Gateway 0.1.0 builds rules from resolved backendRefs only (http_route.go "
    "httpReferencesToRules): this rule is dropped there, its requests go to other rules or get 404"
)


@dataclass(frozen=True)
class Finding:
    """One warning: where, what, the status condition it raises, its effect, the kind engine's way."""

    resource: Resource = field(compare=False)
    path: FieldPath
    message: str
    condition: str | None
    effect: str
    kind_engine: str | None = None
    # Consul API Gateway 0.1.0 never accepts the route at all (an unresolved backendRef, a splitter
    # Consul rejects): the kind and cluster engines refuse such a plan instead of waiting it out
    consul_refuses: bool = False

    def __str__(self) -> str:
        lines = [str(self.resource.error(self.message, self.path))]
        if self.condition:
            lines.append(f"  status: {self.condition}")
        lines.append(f"  effect: {self.effect}")
        if self.kind_engine:
            lines.append(f"  kind engine: {self.kind_engine}")
        return "\n".join(lines)


def _rules(route: Resource) -> list[Mapping[str, Any]]:
    rules = route.spec.get("rules")
    return [r if isinstance(r, Mapping) else {} for r in rules] if isinstance(rules, list) else [{}]


def _paths(rule: Mapping[str, Any]) -> str:
    values = []
    for m in rule.get("matches") or [{}]:
        path = (m.get("path") or {}) if isinstance(m, Mapping) else {}
        values.append(str(path.get("value", "/")))
    return " or ".join(dict.fromkeys(values))


def _answers_503(route: Resource, index: int, share: float) -> str:
    rules = _rules(route)
    where = _paths(rules[index]) + (f" (rule {index})" if len(rules) > 1 else "")
    portion = "" if share >= 1 else f" for {100 * share:.3g}% of requests (the backend's share of the weight)"
    return f"{where} on {route.name} will answer 503{portion}"


def _weights(rule: Mapping[str, Any]) -> list[int]:
    refs = rule.get("backendRefs") or []
    return [int(b.get("weight", 1)) for b in refs if isinstance(b, Mapping)]


def _backend_findings(topo: Topology, route: Resource) -> list[Finding]:
    out = []
    for ri, bi, ref, problem in ref_problems(topo, route):
        weights = _weights(_rules(route)[ri])
        share = weights[bi] / sum(weights) if sum(weights) else 0.0
        refuses = False
        if problem.reason == "RefNotPermitted":
            kind = KIND_NO_POLICY.format(backend=ref.key)
        elif ref.port is not None and topo.service_ports(ref.namespace, ref.name):
            kind = KIND_PORT.format(backend=ref.key)
        else:
            kind, refuses = KIND_UNRESOLVED.format(route=route.name), True
        effect = (
            _answers_503(route, ri, share)
            if share > 0
            else f"none: the backend has weight 0 on {route.name}, so no request is sent to it"
        )
        out.append(
            Finding(
                route,
                ["spec", "rules", ri, "backendRefs", bi],
                problem.message,
                f"ResolvedRefs=False ({problem.reason})",
                effect,
                kind,
                consul_refuses=refuses,
            )
        )
    return out


def _rule_findings(route: Resource) -> list[Finding]:
    out = []
    for ri, rule in enumerate(_rules(route)):
        path: list[str | int] = ["spec", "rules", ri, "backendRefs"]
        redirects = any(
            isinstance(f, Mapping) and f.get("type") == "RequestRedirect" for f in rule.get("filters") or ()
        )
        weights = _weights(rule)
        if not weights and not redirects:
            message = "the rule has no backendRefs (v0.4.0: no forwarding, HTTP 503)"
            out.append(Finding(route, path, message, None, _answers_503(route, ri, 1.0), KIND_NO_BACKENDS))
        elif weights and sum(weights) == 0:
            message = "every backendRef has weight 0, so no request can be forwarded"
            out.append(Finding(route, path, message, None, _answers_503(route, ri, 1.0)))
        elif weights and not consul.accepted(weights):
            shares = ", ".join(f"{p:.2f}%" for p in consul.splitter_percentages(weights))
            total = sum(weights)
            split = "/".join(f"{100 * w / total:.3g}%" for w in weights)
            out.append(
                Finding(
                    route,
                    path,
                    f"weights {'/'.join(map(str, weights))} are valid Gateway API weights",
                    None,
                    f"the embedded engine splits {split}, as the specification says",
                    f"Consul rounds the splitter shares ({shares}) to a total of "
                    f"{consul.splitter_sum(weights):.2f}%, not 100%, and rejects the route: it does not go "
                    f"live there; weights {'/'.join(map(str, consul.suggest(weights)))} work on both engines",
                    consul_refuses=True,
                )
            )
    return out


def _parent_findings(topo: Topology, route: Resource) -> list[Finding]:
    attached = any(route in topo.attached_routes(lst) for lst in topo.listeners())
    nothing = f"{route.name} is attached to no listener: nothing serves its rules"
    effect = "this parentRef binds nothing" + ("" if attached else f"; {nothing}")
    parents = route.spec.get("parentRefs") or []
    if not parents:
        return [Finding(route, ["spec", "parentRefs"], "names no parent Gateway", None, nothing)]
    out = []
    for i, parent in enumerate(p for p in parents if isinstance(p, Mapping)):
        path: list[str | int] = ["spec", "parentRefs", i]
        if parent.get("group", GATEWAY_GROUP) != GATEWAY_GROUP or parent.get("kind", "Gateway") != "Gateway":
            message = f"parent kind {parent.get('kind')!r}: the lab's controller handles Gateway parents only"
            out.append(Finding(route, path, message, None, effect))
            continue
        ns = str(parent.get("namespace") or route.namespace)
        gw = topo.find("Gateway", ns, str(parent.get("name")), group=GATEWAY_GROUP)
        if gw is None:
            names = ", ".join(f"{g.namespace}/{g.name}" for g in topo.of_kind("Gateway")) or "none"
            message = f"names Gateway {ns}/{parent.get('name')}, which is not in the lab (Gateways: {names})"
            out.append(Finding(route, [*path, "name"], message, "none (no controller writes it)", effect))
            continue
        if not topo.reconciled(gw):
            continue  # the Gateway's own warning says it
        listeners = topo.parent_listeners(route, parent)
        if not listeners:
            message = f"sectionName {parent.get('sectionName')!r} is not a listener of Gateway {ns}/{gw.name}"
            out.append(Finding(route, [*path, "sectionName"], message, "Accepted=False (BindError)", effect))
        refusals = {lst.id.listener: topo.bind(route, parent, lst) for lst in listeners}
        if listeners and None not in refusals.values():
            detail = ", ".join(f"{name} ({why})" for name, why in refusals.items())
            reasons = set(refusals.values())
            reason = str(reasons.pop()) if len(reasons) == 1 else "BindError"
            message = f"no listener of Gateway {ns}/{gw.name} accepts the route: {detail}"
            out.append(Finding(route, path, message, f"Accepted=False ({reason})", effect))
    return out


def _gateway_findings(topo: Topology, gw: Resource) -> list[Finding]:
    if not topo.reconciled(gw):
        cls = gw.spec.get("gatewayClassName")
        return [
            Finding(
                gw,
                ["spec", "gatewayClassName"],
                f"is {cls!r}; the lab's controller reconciles class consul-api-gateway only",
                "Scheduled=False (NotReconciled)",
                f"Gateway {gw.namespace}/{gw.name} does not listen: routes attached only to it serve nothing",
                "no controller reconciles it there either",
            )
        ]
    out = []
    for i, raw in enumerate(gw.spec.get("listeners") or ()):
        lst = next(
            (x for x in topo.listeners() if x.id.gateway == gw.name and x.id.listener == raw.get("name")),
            None,
        )
        problem = certificate_problem(topo, lst) if lst is not None else None
        if lst is not None and problem is not None:
            out.append(
                Finding(
                    gw,
                    ["spec", "listeners", i, "tls", "certificateRefs"],
                    f"{problem}; use consul-server-cert (made by the Consul chart) or add the Secret",
                    "listener ResolvedRefs=False (InvalidCertificateRef), Gateway Ready=False (ListenersNotValid)",
                    f"listener {lst.id.listener} (port {lst.port}) does not serve",
                )
            )
    return out


def findings(resources: Iterable[Resource]) -> list[Finding]:
    """Every warning for a set of resources that passed validation."""
    topo = Topology(resources)
    out: list[Finding] = []
    for r in topo.resources:
        if r.group == GATEWAY_GROUP and r.kind == "HTTPRoute":
            out += _parent_findings(topo, r) + _backend_findings(topo, r) + _rule_findings(r)
        elif r.group == GATEWAY_GROUP and r.kind == "Gateway":
            out += _gateway_findings(topo, r)
    return out
