"""lab.engines.kube.documents: a step's resources as apply bodies, in apply order, with their notes."""

from __future__ import annotations

import datetime

from lab.engines.kube.documents import (
    BASE,
    GATEWAYS,
    REFERENCE_POLICY_NOTE,
    ROUTES,
    applied_record,
    cross_namespace_refs,
    digest,
    documents,
    engine_notes,
    engine_notes_for_route,
    gateway_ports,
    key_of,
    namespaces_of,
    phase_of,
)
from lab.engines.kube.tenancy import Tenancy
from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from tests.conftest import ROOT


def test_routes_go_last_gateways_before_them_everything_else_first() -> None:
    assert (BASE, GATEWAYS, ROUTES) == (0, 1, 2)
    assert [phase_of(k) for k in ("HTTPRoute", "TCPRoute", "TLSRoute", "UDPRoute")] == [ROUTES] * 4
    assert phase_of("Gateway") == GATEWAYS
    assert [phase_of(k) for k in ("GatewayClass", "Service", "ReferencePolicy", "Anything")] == [BASE] * 4


def test_a_digest_is_16_hex_digits_of_the_body_whatever_its_key_order() -> None:
    body = {"kind": "Service", "metadata": {"name": "a"}, "spec": {"ports": [1, 2]}}
    same = {"spec": {"ports": [1, 2]}, "metadata": {"name": "a"}, "kind": "Service"}
    assert digest(body) == digest(same) and len(digest(body)) == 16
    assert all(c in "0123456789abcdef" for c in digest(body))
    assert digest(body) != digest({**body, "spec": {"ports": [2, 1]}})
    assert digest({"when": datetime.date(2022, 2, 1)}) == digest({"when": "2022-02-01"})


def test_the_canary_step_in_apply_order_each_body_marked_as_this_runs() -> None:
    step = make_plan(LabDir(ROOT), "canary-99-1").first
    docs = documents(step, Tenancy("run-1"))
    kinds = [d["kind"] for d in docs]
    assert kinds == (
        ["ServiceAccount"] * 7
        + ["ClusterRole"]
        + ["ClusterRoleBinding"] * 3
        + ["Service"] * 7
        + ["Deployment"] * 7
        + ["ServiceDefaults"] * 3
        + ["ServiceIntentions"] * 4
        + ["ServiceDefaults"] * 4
        + ["Gateway", "HTTPRoute", "HTTPRoute"]
    )
    labels = {"app.kubernetes.io/managed-by": "lab", "lab.gateway-lab.dev/run-id": "run-1"}
    assert all(d["metadata"]["labels"] == {**d["metadata"].get("labels", {}), **labels} for d in docs)
    assert docs[0]["metadata"] == {"name": "echo-1", "namespace": "default", "labels": labels}
    assert "namespace" not in next(d for d in docs if d["kind"] == "ClusterRole")["metadata"]
    assert [d["metadata"]["name"] for d in docs[-2:]] == ["example-route-1", "example-route-2"]
    # the plan's resources are not changed by making the bodies
    assert "labels" not in dict(step.resources[0].body["metadata"])
    assert namespaces_of(docs) == ["default"]
    extra = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    with_extra = documents(step, Tenancy("run-1"), extra=[extra])
    assert with_extra[0] == extra and with_extra[1:] == docs


def test_namespaces_in_first_seen_order() -> None:
    docs = [
        {"metadata": {"name": "a", "namespace": "team"}},
        {"metadata": {"name": "b"}},
        {"metadata": {"name": "c", "namespace": "default"}},
        {"kind": "Namespace"},
        {"metadata": {"name": "d", "namespace": "team"}},
    ]
    assert namespaces_of(docs) == ["team", "default"]


def test_what_the_state_keeps_of_each_applied_body() -> None:
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1alpha2",
        "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "team"},
    }
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "c"}}
    assert str(key_of(route)) == "gateway.networking.k8s.io/HTTPRoute/team/r"
    assert str(key_of(role)) == "rbac.authorization.k8s.io/ClusterRole//c"
    assert applied_record([route, role]) == {
        "gateway.networking.k8s.io/HTTPRoute/team/r": ["gateway.networking.k8s.io/v1alpha2", digest(route)],
        "rbac.authorization.k8s.io/ClusterRole//c": ["rbac.authorization.k8s.io/v1", digest(role)],
    }


def test_gateway_listener_ports_map_to_local_ports() -> None:
    step = make_plan(LabDir(ROOT), "canary-99-1").first
    assert gateway_ports(step, {8443: 9443, 80: 8080}) == {8443: 9443}
    assert gateway_ports(step, {}) == {8443: 8443}


def test_a_route_into_another_namespace_gets_the_reference_policy_note() -> None:
    route = {
        "metadata": {"name": "r", "namespace": "team-a"},
        "spec": {
            "rules": [
                {"backendRefs": [{"name": "a"}, {"name": "b", "namespace": "team-a"}]},
                {"backendRefs": [{"name": "echo-2", "namespace": "default"}]},
                {},
            ]
        },
    }
    assert cross_namespace_refs(route) == ["default/echo-2"]
    assert (
        cross_namespace_refs({"spec": {"rules": [{"backendRefs": [{"name": "x", "namespace": "default"}]}]}})
        == []
    )
    assert cross_namespace_refs({}) == []
    assert engine_notes_for_route(route) == [REFERENCE_POLICY_NOTE.format(routes="HTTPRoute team-a/r")]
    assert engine_notes_for_route({"metadata": {"name": "r"}}) == []
    assert REFERENCE_POLICY_NOTE.format(routes="R") == (
        "consul-api-gateway v0.1.0-beta does not enforce ReferencePolicy: the backendRefs of R reach another "
        "namespace's Service with or without a ReferencePolicy on the kind and cluster engines (the embedded "
        "engine enforces it, as Gateway API v0.4.0 specifies)"
    )
    cross = make_plan(LabDir(ROOT), "cross-namespace").first
    assert engine_notes(cross) == [REFERENCE_POLICY_NOTE.format(routes="HTTPRoute team-a/team-route")]
    assert engine_notes(make_plan(LabDir(ROOT), "canary-99-1").first) == []
