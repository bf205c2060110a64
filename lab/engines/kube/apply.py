"""Apply a step to a cluster: what differs from the last apply, in phases, each waited on.

Base resources (retried while the chart's webhooks do not serve yet), then Gateways until Ready
for their current generation, then routes until Accepted. consul-api-gateway v0.1.0-beta resolves a
route's backends only when the route changes (internal/k8s/service/resolver.go L240-252): a route
left on BindError is retriggered by bumping an annotation, and the progress says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lab.engines.base import Progress
from lab.engines.kube.client import Kube, WebhookNotServing
from lab.engines.kube.documents import BASE, GATEWAYS, ROUTES, applied_record, key_of, phase_of
from lab.engines.kube.status import condition_true, pods_ready, route_state
from lab.engines.kube.waits import Condition, Waiter
from lab.objects import ObjectKey
from lab.spec.selectors import selector_string
from lab.timeouts import Timeouts

# The annotation lab bumps to make the controller see a route event again.
RETRIGGER_ANNOTATION = "lab.gateway-lab.dev/retrigger"
# consul-api-gateway v0.1.0-beta labels its gateway pods with the Gateway's name
# (internal/k8s/utils/labels.go LabelsForGateway).
GATEWAY_POD_LABEL = "api-gateway.consul.hashicorp.com/name"


@dataclass
class Applier:
    """Applies documents through one Kube connection with one waiter."""

    kube: Kube
    timeouts: Timeouts
    waiter: Waiter
    progress: Progress
    clock: Callable[[], float]
    services: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)

    def apply_step(
        self, docs: list[dict[str, Any]], previous: Mapping[str, Sequence[str]] | None
    ) -> dict[str, list[str]]:
        """Apply what differs from `previous` (everything when None); return the new record."""
        objects = applied_record(docs)
        self.services = {
            (str(d["metadata"].get("namespace") or "default"), str(d["metadata"]["name"])): d
            for d in docs
            if d["kind"] == "Service"
        }
        changed = [
            d
            for d in docs
            if previous is None or list(previous.get(str(key_of(d))) or []) != objects[str(key_of(d))]
        ]
        by_phase = {
            p: [d for d in changed if phase_of(str(d["kind"])) == p] for p in (BASE, GATEWAYS, ROUTES)
        }
        if by_phase[BASE]:
            self.progress(
                f"manifests: server-side apply of {len(by_phase[BASE])} objects (services, intentions, RBAC)"
            )
            for doc in by_phase[BASE]:
                self.apply_retrying(doc)
            for cls in (d for d in by_phase[BASE] if d["kind"] == "GatewayClass"):
                self.wait_class(cls)
        if by_phase[GATEWAYS]:
            self.progress("gateway: " + ", ".join(str(d["metadata"]["name"]) for d in by_phase[GATEWAYS]))
            for doc in by_phase[GATEWAYS]:
                self.apply_retrying(doc)
            for gw in (d for d in docs if d["kind"] == "Gateway"):
                self.wait_gateway(gw)
        if by_phase[ROUTES]:
            self.progress("routes: " + ", ".join(str(d["metadata"]["name"]) for d in by_phase[ROUTES]))
            for doc in by_phase[ROUTES]:
                self.apply_retrying(doc)
        if previous is not None:
            for text in reversed([k for k in previous if k not in objects]):
                key = ObjectKey.parse(text)
                self.progress(f"routes: deleting {key.display()} (no longer in the step)")
                self.kube.delete(str(previous[text][0]), key.kind, key.name, key.namespace or None)
        for route in (d for d in docs if d["kind"] == "HTTPRoute"):
            self.wait_route(route)
        return objects

    def apply_retrying(self, doc: Mapping[str, Any]) -> None:
        """Server-side apply; refused by a webhook that does not serve yet, retried within a budget."""
        key = key_of(doc)
        refused: list[str] = []

        def applied() -> tuple[bool, str]:
            try:
                self.kube.apply(doc)
            except WebhookNotServing as exc:
                if not refused:
                    self.progress(
                        f"manifests: {key.display()} refused, the webhook does not serve yet; retrying"
                    )
                refused.append(exc.message)
                return False, exc.message
            return True, "applied"

        if not applied()[0]:
            self.waiter.wait(
                Condition(
                    "WebhooksMustServe",
                    f"the webhook to admit {key.display()}",
                    self.timeouts.webhook_ready,
                    applied,
                )
            )

    def _pods(self, namespace: str, selector: Mapping[str, Any]) -> str:
        pods = self.kube.list("v1", "Pod", namespace, label_selector=selector_string(selector))
        return pods_ready(pods, self.kube.list("v1", "Event", namespace))[1]

    def wait_class(self, cls: Mapping[str, Any]) -> None:
        """A GatewayClass lab applied is Accepted by its controller (its parametersRef resolves)."""
        name, api = str(cls["metadata"]["name"]), str(cls["apiVersion"])

        def accepted() -> tuple[bool, str]:
            return condition_true(self.kube.get(api, "GatewayClass", name), "Accepted")

        self.waiter.wait(
            Condition(
                "GatewayClassMustBeAccepted",
                f"GatewayClass {name} Accepted",
                self.timeouts.gateway_class_accepted,
                accepted,
            )
        )

    def wait_gateway(self, gw: Mapping[str, Any]) -> None:
        """Ready for the Gateway's current generation; the progress shows its pod."""
        name, ns, api = str(gw["metadata"]["name"]), str(gw["metadata"]["namespace"]), str(gw["apiVersion"])

        def ready() -> tuple[bool, str]:
            ok, seen = condition_true(self.kube.get(api, "Gateway", name, ns), "Ready")
            return ok, seen if ok else f"{seen}; gateway pod: {self._pods(ns, {GATEWAY_POD_LABEL: name})}"

        self.waiter.wait(
            Condition("GatewayMustBeReady", f"Gateway {ns}/{name} Ready", self.timeouts.gateway_ready, ready)
        )

    def _backends(self, route: Mapping[str, Any], ns: str) -> str:
        """The pods behind a route's backends that are not Ready yet (empty when all are)."""
        out = []
        for rule in (route.get("spec") or {}).get("rules") or []:
            for ref in rule.get("backendRefs") or []:
                svc = self.services.get((str(ref.get("namespace") or ns), str(ref["name"])))
                selector = ((svc or {}).get("spec") or {}).get("selector")
                if selector:
                    seen = self._pods(str(ref.get("namespace") or ns), selector)
                    if "not Ready" in seen or "no pods" in seen:
                        out.append(f"{ref['name']}: {seen}")
        return "; ".join(out)

    def wait_route(self, route: dict[str, Any]) -> None:
        """Accepted for the route's current generation, retriggering a BindError after a while."""
        name, ns, api = (
            str(route["metadata"]["name"]),
            str(route["metadata"]["namespace"]),
            str(route["apiVersion"]),
        )
        last_event = [self.clock()]
        bumps = [0]

        def accepted() -> tuple[bool, str]:
            state = route_state(self.kube.get(api, "HTTPRoute", name, ns))
            if state.accepted:
                return True, state.seen
            seen = state.seen
            backends = self._backends(route, ns)
            if backends:
                seen += f"; backend pods {backends}"
            if state.bind_error and self.clock() - last_event[0] >= self.timeouts.route_retrigger:
                bumps[0] += 1
                self.retrigger(route, bumps[0])
                last_event[0] = self.clock()
            if bumps[0]:
                seen += f" [retriggered {bumps[0]}x: consul-api-gateway v0.1.0-beta re-resolves backends only on a route event]"
            return False, seen

        self.waiter.wait(
            Condition(
                "HTTPRouteMustBeAccepted",
                f"HTTPRoute {ns}/{name} Accepted",
                self.timeouts.route_accepted,
                accepted,
            )
        )

    def retrigger(self, route: dict[str, Any], count: int) -> None:
        """Bump the retrigger annotation: a route event, so the controller resolves its backends again."""
        meta = route.setdefault("metadata", {})
        meta["annotations"] = {**(meta.get("annotations") or {}), RETRIGGER_ANNOTATION: str(count)}
        self.progress(
            f"routes: HTTPRoute {meta.get('namespace')}/{meta.get('name')} is stuck on BindError (its backends were "
            f"not in Consul when it was resolved); retriggering the controller (annotation {RETRIGGER_ANNOTATION}={count})"
        )
        self.kube.apply(route)
