"""What Kubernetes accepts and the controller flags: warnings with their condition, effect and kind note.

Each case breaks the canary-99-1 manifests the way a workshop would ("what happens when a
backendRef is wrong"): validation accepts the objects, and lab.spec.findings names the status
condition, the traffic effect and what the kind engine does instead.
"""

from __future__ import annotations

import pytest

from lab.errors import InvalidInput
from lab.spec.findings import findings
from lab.spec.manifests import load
from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from lab.spec.validation import validate
from tests.conftest import LabCopy

ROUTE = "manifests/routes/canary-99-1.yaml"
GATEWAY = "manifests/gateway/gateway.yaml"

# (file, old, new, fragments every one of which the single warning must contain)
CASES = {
    "backend-missing": (
        ROUTE,
        "name: echo-2",
        "name: echo-3",
        [
            "backendRefs[1]",
            "Service default/echo-3 does not exist",
            "status: ResolvedRefs=False (ServiceNotFound)",
            "effect: /echo on example-route-1 will answer 503 for 1% of requests",
            "kind engine: Consul API Gateway 0.1.0 binds no route with an unresolved backendRef",
        ],
    ),
    "backend-kind": (
        ROUTE,
        "- kind: Service\n          name: echo-2",
        "- kind: Pod\n          name: echo-2",
        ["backendRef kind Pod is not supported", "ResolvedRefs=False (Errors)", "will answer 503"],
    ),
    "backend-port": (
        ROUTE,
        "port: 8090",
        "port: 9999",
        [
            "has no port 9999 (its ports: 8090)",
            "ResolvedRefs=False (ServiceNotFound)",
            "ignores a backendRef's port",
        ],
    ),
    "backend-port-missing": (ROUTE, "          port: 8090\n", "", ["named without a port"]),
    "weights-all-zero": (
        ROUTE,
        "weight: 99\n        - kind: Service\n          name: echo-2\n          port: 8090\n          weight: 1",
        "weight: 0\n        - kind: Service\n          name: echo-2\n          port: 8090\n          weight: 0",
        ["every backendRef has weight 0", "/echo on example-route-1 will answer 503"],
    ),
    "no-backend-refs": (
        ROUTE,
        "    - backendRefs:\n        - kind: Service\n          name: frontend\n          port: 80\n",
        "    - matches:\n        - path:\n            value: /\n",
        ["has no backendRefs", "/ on example-route-2 will answer 503", "this rule is dropped there"],
    ),
    "consul-rounding": (
        ROUTE,
        "weight: 99",
        "weight: 1\n        - kind: Service\n          name: echo-1\n          port: 8080\n          weight: 1",
        [
            "weights 1/1/1 are valid",
            "splits 33.3%/33.3%/33.3%",
            "kind engine: Consul rounds the splitter shares",
            "weights 34/33/33 work on both engines",
        ],
    ),
    "parent-missing": (
        ROUTE,
        "- name: example-gateway\n  rules:\n    - matches",
        "- name: other-gateway\n  rules:\n    - matches",
        ["parentRefs[0].name", "other-gateway", "not in the lab", "attached to no listener"],
    ),
    "section-missing": (
        ROUTE,
        "- name: example-gateway\n  rules:\n    - matches",
        "- name: example-gateway\n      sectionName: http\n  rules:\n    - matches",
        ["sectionName 'http'", "Accepted=False (BindError)"],
    ),
    "not-admitted": (
        ROUTE,
        "  name: example-route-1\n  namespace: default\nspec:\n  parentRefs:\n    - name: example-gateway\n",
        "  name: example-route-1\n  namespace: team\nspec:\n  parentRefs:\n    - name: example-gateway\n"
        "      namespace: default\n",
        ["Accepted=False (ListenerNamespacePolicy)", "https (ListenerNamespacePolicy)"],
    ),
    "no-parent": (
        ROUTE,
        "  parentRefs:\n    - name: example-gateway\n  rules:\n    - matches",
        "  rules:\n    - matches",
        ["names no parent Gateway", "attached to no listener"],
    ),
    "certificate": (
        GATEWAY,
        "- name: consul-server-cert",
        "- name: my-cert",
        [
            "certificateRefs",
            "Secret default/my-cert does not exist",
            "listener ResolvedRefs=False (InvalidCertificateRef)",
            "Gateway Ready=False (ListenersNotValid)",
            "listener https (port 8443) does not serve",
        ],
    ),
    "gateway-class": (
        GATEWAY,
        "gatewayClassName: consul-api-gateway",
        "gatewayClassName: nope",
        ["gatewayClassName", "is 'nope'", "Scheduled=False (NotReconciled)", "does not listen"],
    ),
}


def _resources(lab: LabCopy):  # type: ignore[no-untyped-def]
    root = lab.path("manifests")
    return load([root / "base", root / "gateway", root / "routes" / "canary-99-1.yaml"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_kubernetes_accepts_it_and_the_warning_says_condition_and_effect(
    lab_copy: LabCopy, case: str
) -> None:
    rel, old, new, fragments = CASES[case]
    lab_copy.edit(rel, old, new)
    resources = _resources(lab_copy)
    assert validate(resources) == []
    found = findings(resources)
    # a route moved to namespace team also loses its backends (they stay in default)
    assert len(found) == (3 if case == "not-admitted" else 1), "\n".join(map(str, found))
    text = str(found[0])
    assert rel.split("/")[-1] in text
    for fragment in fragments:
        assert fragment in text, text


def test_the_lab_as_shipped_has_no_warnings(lab_copy: LabCopy) -> None:
    assert findings(_resources(lab_copy)) == []


def test_a_judged_rule_with_a_dropped_backend_is_planned_with_it_declared_unanswerable(
    lab_copy: LabCopy,
) -> None:
    lab_copy.edit(ROUTE, "name: echo-2", "name: echo-3")
    (traffic,) = make_plan(LabDir(lab_copy.root), "canary-99-1").first.traffic
    assert dict(traffic.expected) == {"echo-1": 99, "echo-3": 1}
    assert dict(traffic.unanswerable) == {"echo-3": "ResolvedRefs=False (ServiceNotFound)"}
    assert traffic.to_dict()["unanswerable"] == {"echo-3": "ResolvedRefs=False (ServiceNotFound)"}


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ("name: echo-1", "name: echo-0", "sends every request to backends the controller drops"),
        # echo-1 named twice, once through a port the Service lacks: its answers and 503s mix
        ("name: echo-2\n          port: 8090", "name: echo-1\n          port: 9999", "through both a valid"),
    ],
)
def test_a_judged_rule_whose_dropped_backends_leave_nothing_to_judge_is_refused(
    lab_copy: LabCopy, old: str, new: str, why: str
) -> None:
    lab_copy.edit(ROUTE, old, new)
    if "echo-0" in new:
        lab_copy.edit(ROUTE, "name: echo-2", "name: echo-3")
    with pytest.raises(InvalidInput, match=why):
        make_plan(LabDir(lab_copy.root), "canary-99-1")


def test_a_dropped_backend_with_weight_zero_has_no_effect(lab_copy: LabCopy) -> None:
    lab_copy.edit(
        ROUTE,
        "name: echo-2\n          port: 8090\n          weight: 1",
        "name: echo-3\n          port: 8090\n          weight: 0",
    )
    (finding,) = findings(_resources(lab_copy))
    assert "effect: none: the backend has weight 0" in str(finding)


def test_without_a_lab_gateway_there_is_nothing_to_send_traffic_to(lab_copy: LabCopy) -> None:
    lab_copy.edit(GATEWAY, "gatewayClassName: consul-api-gateway", "gatewayClassName: nope")
    with pytest.raises(InvalidInput, match="no Gateway of class consul-api-gateway") as info:
        make_plan(LabDir(lab_copy.root), "canary-99-1")
    # the error itself names the field and file (`lab validate` prints no warning for a scenario
    # it cannot plan, so pointing there said nothing)
    message = str(info.value)
    assert "gateway.yaml" in message and "gatewayClassName" in message and "is 'nope'" in message, message
    assert "see the warnings of `lab validate`" not in message


def test_a_gateway_without_a_usable_certificate_is_named_in_the_plan_error(lab_copy: LabCopy) -> None:
    lab_copy.edit(GATEWAY, "- name: consul-server-cert", "- name: my-cert")
    with pytest.raises(InvalidInput) as info:
        make_plan(LabDir(lab_copy.root), "canary-99-1")
    assert "Secret default/my-cert does not exist" in str(info.value), info.value
