"""Each validation rule with a bad-input fixture: the error names the file, line, field and fix."""

from __future__ import annotations

import pytest

from lab.errors import InvalidInput, ManifestError, ScenarioError
from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from lab.spec.validation import InvalidPlan
from tests.conftest import LabCopy

ROUTE = "manifests/routes/canary-99-1.yaml"
GATEWAY = "manifests/gateway/gateway.yaml"

# (file, old, new, expected fragments of the message)
CASES = {
    "weight-negative": (ROUTE, "weight: 1\n", "weight: -1\n", ["backendRefs[1].weight", "is -1"]),
    "weight-too-big": (ROUTE, "weight: 1\n", "weight: 1000001\n", ["backendRefs[1].weight", "1000000"]),
    "weight-not-int": (ROUTE, "weight: 1\n", "weight: 0.5\n", ["backendRefs[1].weight", "whole number"]),
    "path-type": (
        ROUTE,
        "type: PathPrefix",
        "type: Prefix",
        ["path.type", "Exact, PathPrefix, RegularExpression"],
    ),
    "path-value": (ROUTE, "value: /echo", "value: echo", ["path.value", "must start with '/'"]),
    "path-regex": (
        ROUTE,
        "type: PathPrefix\n            value: /echo",
        "type: RegularExpression\n            value: /echo(",
        ["not a valid regular expression"],
    ),
    "method": (
        ROUTE,
        "value: /echo\n",
        "value: /echo\n          method: FETCH\n",
        ["matches[0].method", "FETCH"],
    ),
    "header-type": (
        ROUTE,
        "value: /echo\n",
        "value: /echo\n          headers:\n            - name: x\n              value: y\n              type: Prefix\n",
        ["headers[0].type"],
    ),
    "filter-type": (
        ROUTE,
        "      backendRefs:\n        - kind: Service\n          name: echo-1",
        "      filters:\n        - type: Rewrite\n      backendRefs:\n        - kind: Service\n          name: echo-1",
        ["filters[0].type", "Rewrite"],
    ),
    "redirect-code": (
        ROUTE,
        "      backendRefs:\n        - kind: Service\n          name: echo-1",
        "      filters:\n        - type: RequestRedirect\n          requestRedirect:\n            statusCode: 307\n      backendRefs:\n        - kind: Service\n          name: echo-1",
        ["statusCode", "301 or 302"],
    ),
    "hostname": (
        ROUTE,
        "spec:\n  parentRefs",
        "spec:\n  hostnames: ['Bad_Host']\n  parentRefs",
        ["hostnames[0]", "DNS name"],
    ),
    "listener-port": (GATEWAY, "port: 8443", "port: 70000", ["listeners[0].port", "70000"]),
    "listener-protocol": (GATEWAY, "protocol: HTTPS", "protocol: HTTP3", ["listeners[0].protocol"]),
    "allowed-from": (GATEWAY, "from: Same", "from: Everyone", ["allowedRoutes.namespaces.from"]),
    "tls-on-http": (
        GATEWAY,
        "protocol: HTTPS",
        "protocol: HTTP",
        ["listeners[0].tls", "must be empty for protocol HTTP", "v0.4.0", "remove tls"],
    ),
    "parent-name": (
        ROUTE,
        "    - name: example-gateway\n  rules:\n    - matches",
        "    - namespace: default\n  rules:\n    - matches",
        ["parentRefs[0]", "name is required"],
    ),
    "gateway-class": (
        GATEWAY,
        "gatewayClassName: consul-api-gateway",
        "gatewayClassName: ''",
        ["gatewayClassName is required"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_rule_names_file_line_and_field(lab_copy: LabCopy, case: str) -> None:
    rel, old, new, fragments = CASES[case]
    lab_copy.edit(rel, old, new)
    with pytest.raises(InvalidPlan) as info:
        make_plan(LabDir(lab_copy.root), "canary-99-1")
    message = str(info.value)
    assert rel.split("/")[-1] in message
    for fragment in fragments or []:
        assert fragment in message, message
    first = info.value.errors[0]
    assert first.file is not None and first.line is not None and first.line > 1


def test_too_many_backend_refs_is_the_v1alpha2_limit(lab_copy: LabCopy) -> None:
    extra = "".join(
        "        - kind: Service\n          name: echo-1\n          port: 8080\n          weight: 0\n"
        for _ in range(15)
    )
    lab_copy.edit(ROUTE, "          weight: 1\n", "          weight: 1\n" + extra)
    with pytest.raises(InvalidPlan, match="has 17 entries; Gateway API v1alpha2 allows at most 16"):
        make_plan(LabDir(lab_copy.root), "canary-99-1")


def test_yaml_syntax_error_names_file_and_line(lab_copy: LabCopy) -> None:
    lab_copy.edit(ROUTE, "  rules:\n", "  rules:\n   - : [\n")
    with pytest.raises(ManifestError) as info:
        make_plan(LabDir(lab_copy.root), "canary-99-1")
    assert info.value.file is not None and info.value.file.name == "canary-99-1.yaml"
    assert info.value.line is not None
    assert "YAML syntax error" in str(info.value)


def test_missing_required_fields(lab_copy: LabCopy) -> None:
    lab_copy.write("manifests/routes/canary-99-1.yaml", "apiVersion: v1\nmetadata:\n  name: x\n")
    with pytest.raises(ManifestError, match=r"required field.*kind"):
        make_plan(LabDir(lab_copy.root), "canary-99-1")


def test_cross_namespace_backend_needs_reference_policy(lab_copy: LabCopy) -> None:
    lab_copy.edit("manifests/base/echo-2.yaml", "namespace: default", "namespace: team", count=4)
    lab_copy.edit(ROUTE, "name: echo-2\n", "name: echo-2\n          namespace: team\n")
    # Kubernetes accepts the route; the controller drops the reference, so /echo's canary share
    # would get 503 and the split cannot be judged
    with pytest.raises(InvalidInput, match=r"team/echo-2 \(RefNotPermitted\)"):
        make_plan(LabDir(lab_copy.root), "canary-99-1")
    lab_copy.write(
        "manifests/routes/policy.yaml",
        "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: ReferencePolicy\nmetadata:\n  name: allow\n  namespace: team\n"
        "spec:\n  from:\n    - group: gateway.networking.k8s.io\n      kind: HTTPRoute\n      namespace: default\n"
        "  to:\n    - group: ''\n      kind: Service\n",
    )
    lab_copy.edit(
        "scenarios/canary_99_1.py",
        '"routes/canary-99-1.yaml",',
        '"routes/canary-99-1.yaml", "routes/policy.yaml"',
    )
    plan = make_plan(LabDir(lab_copy.root), "canary-99-1")
    assert dict(plan.first.traffic[0].expected) == {"echo-1": 99, "team/echo-2": 1}


def test_every_error_is_reported_at_once(lab_copy: LabCopy) -> None:
    lab_copy.edit(ROUTE, "weight: 1\n", "weight: -1\n")
    lab_copy.edit(GATEWAY, "port: 8443", "port: 0")
    with pytest.raises(InvalidPlan) as info:
        make_plan(LabDir(lab_copy.root), "canary-99-1")
    assert len(info.value.errors) == 2
    assert "2 problem(s)" in str(info.value)


def test_values_file_must_pin_the_api_gateway_image(lab_copy: LabCopy) -> None:
    lab_copy.edit(
        "charts-values/consul-0.40.0.yaml",
        "image: hashicorp/consul-api-gateway:0.1.0-beta",
        "image: hashicorp/consul-api-gateway:0.2.0",
    )
    with pytest.raises(ManifestError, match=r"apiGateway.image.*0\.1\.0-beta"):
        make_plan(LabDir(lab_copy.root), "canary-99-1")


def test_traffic_that_matches_no_route_is_invalid(lab_copy: LabCopy) -> None:
    lab_copy.edit(
        ROUTE,
        "  rules:\n    - backendRefs:\n        - kind: Service\n          name: frontend",
        "  rules:\n    - matches:\n        - path:\n            type: Exact\n            value: /\n      backendRefs:\n        - kind: Service\n          name: frontend",
    )
    lab_copy.edit("scenarios/canary_99_1.py", 'Traffic(path="/echo")', 'Traffic(path="/nothing")')
    with pytest.raises(InvalidInput, match="matches no route"):
        make_plan(LabDir(lab_copy.root), "canary-99-1")


def test_a_misnamed_scenario_copy_breaks_only_itself(lab_copy: LabCopy) -> None:
    text = lab_copy.path("scenarios/canary_99_1.py").read_text()
    lab_copy.write("scenarios/canary_99_1_copy.py", text)
    with pytest.raises(ScenarioError, match="file name says 'canary-99-1-copy'"):
        make_plan(LabDir(lab_copy.root), "canary-99-1-copy")
    assert make_plan(LabDir(lab_copy.root), "canary-99-1").scenario.name == "canary-99-1"


def test_scenario_import_error_surfaces_for_that_scenario_only(lab_copy: LabCopy) -> None:
    lab_copy.write("scenarios/broken.py", "import does_not_exist\n")
    with pytest.raises(
        ScenarioError, match=r"broken\.py: importing the scenario failed: ModuleNotFoundError"
    ):
        make_plan(LabDir(lab_copy.root), "broken")
    assert make_plan(LabDir(lab_copy.root), "canary-99-1").scenario.name == "canary-99-1"


def test_plan_is_immutable_and_derives_the_split() -> None:
    from pathlib import Path

    plan = make_plan(LabDir(Path(__file__).resolve().parent.parent), "split-50-50")
    traffic = plan.first.traffic[0]
    assert dict(traffic.expected) == {"echo-1": 50, "echo-2": 50}
    with pytest.raises(TypeError):
        traffic.expected["echo-1"] = 1  # type: ignore[index]


def test_a_resource_twice_in_one_step_names_both_places(lab_copy: LabCopy) -> None:
    """Issue 11 item 3: a second example-route-1 in canary-99-1.yaml silently replaced the first."""
    text = lab_copy.path(ROUTE).read_text()
    copy = text[text.index("apiVersion") : text.index("---")].replace("/echo", "/other")
    lab_copy.write(ROUTE, text + "---\n" + copy)
    with pytest.raises(InvalidPlan) as info:
        make_plan(LabDir(lab_copy.root), "canary-99-1")
    (error,) = info.value.errors
    message = str(error)
    assert "HTTPRoute default/example-route-1 is defined twice in one step" in message
    first_line = text[: text.index("apiVersion")].count("\n") + 1
    second_line = text.count("\n") + 2
    assert f"canary-99-1.yaml:{second_line}:" in message and f"canary-99-1.yaml:{first_line};" in message


def test_across_steps_the_last_applied_wins(lab_copy: LabCopy) -> None:
    """progressive-canary re-defines example-route-1 in every step: that is not a duplicate."""
    plan = make_plan(LabDir(lab_copy.root), "progressive-canary")
    assert len(plan.steps) > 1
