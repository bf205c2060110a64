"""Each validation rule with a bad-input fixture: the error names the file, line, field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import InvalidInput, ManifestError, ScenarioError
from lab.spec.manifests import load_file
from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from lab.spec.validation import InvalidPlan, ensure_valid, validate
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
    # gets 503: planned, and the check will fail naming the finding
    (traffic,) = make_plan(LabDir(lab_copy.root), "canary-99-1").first.traffic
    assert dict(traffic.unanswerable) == {"team/echo-2": "ResolvedRefs=False (RefNotPermitted)"}
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
    assert not plan.first.traffic[0].unanswerable


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


# Each rule of lab.spec.validation on one small resource: the exact field, message, fix and line.

ROUTE_HEAD = """apiVersion: gateway.networking.k8s.io/v1alpha2
kind: HTTPRoute
metadata:
  name: r
spec:
  parentRefs:
    - name: gw
"""
GATEWAY_HEAD = """apiVersion: gateway.networking.k8s.io/v1alpha2
kind: Gateway
metadata:
  name: gw
spec:
  gatewayClassName: consul-api-gateway
"""
Problem = tuple[str, str, "str | None"]


def problems(tmp_path: Path, text: str) -> list[Problem]:
    """(field, message, fix) of every problem `validate` finds in one YAML file."""
    errors = validate(load_file(write(tmp_path, text)))
    out = []
    for e in errors:
        assert e.field is not None and e.file is not None and e.line is not None
        out.append((e.field, e.message.split(f"{e.field}: ", 1)[1], e.fix))
    return out


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return path


def rule_with(filters: str = "", backend_filters: str = "", matches: str = "") -> str:
    text = ROUTE_HEAD + "  rules:\n    - backendRefs:\n        - name: a\n          port: 80\n"
    if backend_filters:
        text += "          filters:\n" + backend_filters
    if filters:
        text += "      filters:\n" + filters
    if matches:
        text += "      matches:\n" + matches
    return text


FILTER_TYPES_TEXT = "RequestHeaderModifier, RequestMirror, RequestRedirect, ExtensionRef"


@pytest.mark.parametrize(
    ("ftype", "field"),
    [
        ("RequestHeaderModifier", "requestHeaderModifier"),
        ("RequestMirror", "requestMirror"),
        ("RequestRedirect", "requestRedirect"),
        ("ExtensionRef", "extensionRef"),
    ],
)
def test_each_filter_type_needs_its_own_field(tmp_path: Path, ftype: str, field: str) -> None:
    where = f"HTTPRoute r.spec.rules[0].filters[0].{field}"
    assert problems(tmp_path, rule_with(f"        - type: {ftype}\n")) == [
        (where, f"type {ftype} needs the {field} field", None)
    ]
    # a field that is not a mapping is as good as none
    assert problems(tmp_path, rule_with(f"        - type: {ftype}\n          {field}: yes\n")) == [
        (where, f"type {ftype} needs the {field} field", None)
    ]
    # another filter's field does not stand in for it
    other = "requestMirror" if field != "requestMirror" else "requestHeaderModifier"
    assert problems(tmp_path, rule_with(f"        - type: {ftype}\n          {other}: {{}}\n")) == [
        (where, f"type {ftype} needs the {field} field", None)
    ]
    assert problems(tmp_path, rule_with(f"        - type: {ftype}\n          {field}: {{}}\n")) == []


def test_filters_on_a_backend_are_checked_like_a_rules(tmp_path: Path) -> None:
    text = rule_with(backend_filters="            - type: RequestMirror\n            - type: Rewrite\n")
    assert problems(tmp_path, text) == [
        (
            "HTTPRoute r.spec.rules[0].backendRefs[0].filters[0].requestMirror",
            "type RequestMirror needs the requestMirror field",
            None,
        ),
        (
            "HTTPRoute r.spec.rules[0].backendRefs[0].filters[1].type",
            f"is 'Rewrite'; expected one of {FILTER_TYPES_TEXT}",
            None,
        ),
    ]


def test_an_unknown_or_missing_filter_type_is_named_and_needs_no_field(tmp_path: Path) -> None:
    assert problems(tmp_path, rule_with("        - type: Rewrite\n          rewrite: {}\n")) == [
        (
            "HTTPRoute r.spec.rules[0].filters[0].type",
            f"is 'Rewrite'; expected one of {FILTER_TYPES_TEXT}",
            None,
        )
    ]
    assert problems(tmp_path, rule_with("        - requestMirror: {}\n")) == [
        ("HTTPRoute r.spec.rules[0].filters[0].type", f"is None; expected one of {FILTER_TYPES_TEXT}", None)
    ]
    assert problems(tmp_path, rule_with("        - RequestMirror\n")) == [
        ("HTTPRoute r.spec.rules[0].filters[0]", "must be a mapping", None),
        ("HTTPRoute r.spec.rules[0].filters[0].type", f"is None; expected one of {FILTER_TYPES_TEXT}", None),
    ]


def test_a_redirect_status_code_is_301_or_302_and_defaults_to_302(tmp_path: Path) -> None:
    def redirect(extra: str) -> str:
        return rule_with("        - type: RequestRedirect\n          requestRedirect:\n" + extra)

    assert problems(tmp_path, redirect("            hostname: example.com\n")) == []
    assert problems(tmp_path, redirect("            statusCode: 301\n")) == []
    assert problems(tmp_path, redirect("            statusCode: 302\n")) == []
    for code, shown in (("307", "307"), ("'301'", "'301'")):
        assert problems(tmp_path, redirect(f"            statusCode: {code}\n")) == [
            (
                "HTTPRoute r.spec.rules[0].filters[0].requestRedirect.statusCode",
                f"is {shown}; expected 301 or 302",
                None,
            )
        ]


def test_too_many_filters_is_the_v1alpha2_limit(tmp_path: Path) -> None:
    one = "        - type: RequestHeaderModifier\n          requestHeaderModifier: {}\n"
    assert problems(tmp_path, rule_with(one * 16)) == []
    assert problems(tmp_path, rule_with(one * 17)) == [
        (
            "HTTPRoute r.spec.rules[0].filters",
            "has 17 entries; Gateway API v1alpha2 allows at most 16",
            "split it into several rules or routes with at most 16 each",
        )
    ]


def test_header_and_query_matches(tmp_path: Path) -> None:
    for section in ("headers", "queryParams"):
        text = rule_with(
            matches=f"        - {section}:\n"
            "            - value: v\n"
            "            - name: n\n"
            "            - name: n\n              value: 3\n"
            "            - name: n\n              value: '('\n              type: RegularExpression\n"
            "            - name: n\n              value: v\n              type: Prefix\n"
            "            - name: n\n              value: '('\n"
        )
        at = f"HTTPRoute r.spec.rules[0].matches[0].{section}"
        assert problems(tmp_path, text) == [
            (f"{at}[0]", "name is required", None),
            (f"{at}[1].value", "value is required and must be a string", None),
            (f"{at}[2].value", "value is required and must be a string", None),
            (
                f"{at}[3].value",
                "is not a valid regular expression (missing ), unterminated subpattern at position 0)",
                "fix the pattern",
            ),
            (f"{at}[4].type", "is 'Prefix'; expected one of Exact, RegularExpression", None),
        ]


def test_path_matches(tmp_path: Path) -> None:
    def path(body: str) -> list[Problem]:
        return problems(tmp_path, rule_with(matches="        - path:\n" + body))

    at = "HTTPRoute r.spec.rules[0].matches[0].path"
    assert path("            value: /a\n") == []
    assert path("            type: Exact\n") == []
    assert path("            value: a\n") == [
        (f"{at}.value", "is 'a'; a path must start with '/'", "use '/a'")
    ]
    assert path("            value: 5\n") == [(f"{at}.value", "must be a string", None)]
    assert path("            type: RegularExpression\n            value: a.*\n") == []
    assert path("            type: Prefix\n            value: a\n") == [
        (f"{at}.type", "is 'Prefix'; expected one of Exact, PathPrefix, RegularExpression", None),
        (f"{at}.value", "is 'a'; a path must start with '/'", "use '/a'"),
    ]


def test_a_match_that_is_not_a_mapping(tmp_path: Path) -> None:
    assert problems(tmp_path, rule_with(matches="        - /echo\n")) == [
        ("HTTPRoute r.spec.rules[0].matches[0]", "must be a mapping", None)
    ]
    assert problems(tmp_path, rule_with(matches="        - path: /echo\n")) == [
        ("HTTPRoute r.spec.rules[0].matches[0].path", "must be a mapping", None)
    ]
    assert problems(tmp_path, rule_with(matches="        - headers: {}\n")) == [
        ("HTTPRoute r.spec.rules[0].matches[0].headers", "must be a list", None)
    ]


def test_method_matches(tmp_path: Path) -> None:
    at = "HTTPRoute r.spec.rules[0].matches[0].method"
    assert problems(tmp_path, rule_with(matches="        - method: PATCH\n")) == []
    methods = "GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH"
    assert problems(tmp_path, rule_with(matches="        - method: get\n")) == [
        (at, f"is 'get'; expected one of {methods}", None)
    ]
    assert problems(tmp_path, rule_with(matches="        - method:\n")) == [
        (at, f"is None; expected one of {methods}", None)
    ]


def test_route_level_fields(tmp_path: Path) -> None:
    no_spec = ROUTE_HEAD.split("spec:")[0]
    assert problems(tmp_path, no_spec) == [("HTTPRoute r.spec", "spec is required", None)]
    assert problems(tmp_path, no_spec + "spec: {}\n") == [("HTTPRoute r.spec", "spec is required", None)]
    assert problems(
        tmp_path, ROUTE_HEAD + "  hostnames: [a.example.com, '*.example.com', 'a.*.com', 7]\n"
    ) == [
        (
            "HTTPRoute r.spec.hostnames[2]",
            "is 'a.*.com'; expected a DNS name, optionally starting with '*.'",
            None,
        ),
        ("HTTPRoute r.spec.hostnames[3]", "is 7; expected a DNS name, optionally starting with '*.'", None),
    ]
    assert problems(tmp_path, ROUTE_HEAD + "  rules: {}\n") == [
        ("HTTPRoute r.spec.rules", "must be a list", None)
    ]
    assert problems(
        tmp_path, ROUTE_HEAD + "  rules:\n    - backendRefs:\n        - port: 80\n        - 7\n"
    ) == [
        ("HTTPRoute r.spec.rules[0].backendRefs[0]", "name is required", None),
        ("HTTPRoute r.spec.rules[0].backendRefs[1]", "must be a mapping", None),
        ("HTTPRoute r.spec.rules[0].backendRefs[1]", "name is required", None),
    ]
    parents = "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: HTTPRoute\nmetadata:\n  name: r\nspec:\n"
    assert problems(tmp_path, parents + "  parentRefs:\n    - namespace: x\n") == [
        (
            "HTTPRoute r.spec.parentRefs[0]",
            "name is required",
            "name the lab's Gateway, e.g. name: example-gateway",
        )
    ]


def test_weights(tmp_path: Path) -> None:
    def weight(value: str) -> list[Problem]:
        return problems(
            tmp_path,
            ROUTE_HEAD + f"  rules:\n    - backendRefs:\n        - name: a\n          weight: {value}\n",
        )

    at = "HTTPRoute r.spec.rules[0].backendRefs[0].weight"
    assert weight("0") == [] and weight("1000000") == []
    whole = (
        "a weight must be a whole number from 0 to 1000000",
        "write an integer weight, e.g. 99 and 1 for a 99/1 split",
    )
    assert weight("true") == [(at, f"is True; {whole[0]}", whole[1])]
    assert weight("'5'") == [(at, f"is '5'; {whole[0]}", whole[1])]
    rng = "use 0 to send nothing to this backend, or a positive share"
    assert weight("1000001") == [(at, "is 1000001; a weight must be from 0 to 1000000", rng)]
    assert weight("-1") == [(at, "is -1; a weight must be from 0 to 1000000", rng)]


def test_listeners(tmp_path: Path) -> None:
    def listener(body: str) -> list[Problem]:
        return problems(tmp_path, GATEWAY_HEAD + "  listeners:\n    - name: l\n" + body)

    at = "Gateway gw.spec.listeners[0]"
    ok = "      protocol: HTTP\n      port: 80\n"
    assert listener(ok) == []
    assert listener("      protocol: HTTP\n      port: 1\n") == []
    assert listener("      protocol: HTTP\n      port: 65535\n") == []
    for port in ("0", "65536", "true", "'80'"):
        shown = {"true": "True", "'80'": "'80'"}.get(port, port)
        assert listener(f"      protocol: HTTP\n      port: {port}\n") == [
            (f"{at}.port", f"is {shown}; expected a port from 1 to 65535", None)
        ]
    assert listener("      protocol: QUIC\n      port: 80\n") == [
        (f"{at}.protocol", "is 'QUIC'; expected one of HTTP, HTTPS, TLS, TCP, UDP", None)
    ]
    assert listener(ok + "      allowedRoutes:\n        namespaces:\n          from: All\n") == []
    assert listener(ok + "      allowedRoutes:\n        namespaces:\n          from: Some\n") == [
        (f"{at}.allowedRoutes.namespaces.from", "is 'Some'; expected one of All, Same, Selector", None)
    ]
    assert listener(ok + "      allowedRoutes:\n        namespaces:\n          from: Selector\n") == [
        (f"{at}.allowedRoutes.namespaces", "from: Selector needs a selector", None)
    ]
    selector = "      allowedRoutes:\n        namespaces:\n          from: Selector\n          selector: {}\n"
    assert listener(ok + selector) == []
    assert listener(ok + "      allowedRoutes:\n        namespaces: []\n") == [
        (f"{at}.allowedRoutes.namespaces", "must be a mapping", None)
    ]
    https = "an HTTPS listener needs tls.certificateRefs (v0.4.0: tls is required for HTTPS)"
    https_fix = "add certificateRefs: [{name: consul-server-cert}]"
    assert listener("      protocol: HTTPS\n      port: 443\n") == [(f"{at}.tls", https, https_fix)]
    assert listener("      protocol: HTTPS\n      port: 443\n      tls: {}\n") == [
        (f"{at}.tls", https, https_fix)
    ]
    refs = "      tls:\n        certificateRefs:\n          - name: c\n"
    assert listener("      protocol: HTTPS\n      port: 443\n" + refs) == []
    assert listener("      protocol: TLS\n      port: 443\n" + refs) == []
    for protocol in ("HTTP", "TCP", "UDP"):
        assert listener(f"      protocol: {protocol}\n      port: 80\n" + refs) == [
            (
                f"{at}.tls",
                f"must be empty for protocol {protocol}: Gateway API v0.4.0 says it is invalid to set tls "
                "on an HTTP, TCP or UDP listener (its webhook refuses the Gateway)",
                "remove tls, or make the listener protocol: HTTPS",
            )
        ]


def test_gateway_fields(tmp_path: Path) -> None:
    head = "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: Gateway\nmetadata:\n  name: gw\nspec:\n"
    listener = "    - name: l\n      protocol: HTTP\n      port: 80\n"
    assert problems(tmp_path, head + "  listeners:\n" + listener) == [
        ("Gateway gw.spec.gatewayClassName", "gatewayClassName is required", "use consul-api-gateway")
    ]
    assert problems(tmp_path, GATEWAY_HEAD + "  listeners: []\n") == [
        ("Gateway gw.spec.listeners", "needs at least one listener", None)
    ]
    assert problems(tmp_path, GATEWAY_HEAD) == [
        ("Gateway gw.spec.listeners", "needs at least one listener", None)
    ]
    assert problems(
        tmp_path,
        GATEWAY_HEAD + "  listeners:\n" + listener + listener.replace("name: l", "name: m") + listener,
    ) == [("Gateway gw.spec.listeners[2].name", "listener name 'l' is used twice", None)]
    assert problems(tmp_path, GATEWAY_HEAD + "  listeners:\n    - protocol: HTTP\n      port: 80\n") == [
        ("Gateway gw.spec.listeners[0]", "name is required", None)
    ]


def test_other_kinds_and_groups_are_not_checked_here(tmp_path: Path) -> None:
    other_group = ROUTE_HEAD.replace("gateway.networking.k8s.io", "example.com") + "  rules: 5\n"
    assert problems(tmp_path, other_group) == []
    service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  listeners: 5\n"
    assert problems(tmp_path, service) == []


def test_ensure_valid_lists_every_problem_with_its_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, rule_with("        - type: RequestMirror\n") + "---\n" + GATEWAY_HEAD)
    with pytest.raises(InvalidPlan) as info:
        ensure_valid(load_file(path))
    assert str(info.value) == (
        "2 problem(s) in the lab definition; nothing was applied:\n"
        f"  {path}:13: HTTPRoute r.spec.rules[0].filters[0].requestMirror: "
        "type RequestMirror needs the requestMirror field\n"
        f"  {path}:20: Gateway gw.spec.listeners: needs at least one listener"
    )
    assert info.value.exit_code == 3
    ensure_valid(load_file(write(tmp_path, rule_with())))
    # a problem with a fix: its second line is indented under its first
    with pytest.raises(InvalidPlan) as info:
        ensure_valid(
            load_file(write(tmp_path, ROUTE_HEAD + "  hostnames: [a]\n  parentRefs:\n    - port: 1\n"))
        )
    assert str(info.value).endswith(
        "HTTPRoute r.spec.parentRefs[0]: name is required\n"
        "    fix: name the lab's Gateway, e.g. name: example-gateway"
    )


LIST_FIELDS = [
    # (YAML, the field that must be a list)
    (ROUTE_HEAD + "  hostnames: a.example.com\n", "HTTPRoute r.spec.hostnames"),
    (
        ROUTE_HEAD.replace("  parentRefs:\n    - name: gw\n", "  parentRefs: gw\n"),
        "HTTPRoute r.spec.parentRefs",
    ),
    (ROUTE_HEAD + "  rules:\n    - matches: {}\n", "HTTPRoute r.spec.rules[0].matches"),
    (ROUTE_HEAD + "  rules:\n    - backendRefs: a\n", "HTTPRoute r.spec.rules[0].backendRefs"),
    (
        rule_with(backend_filters="            {}\n").replace("filters:\n            {}", "filters: {}"),
        "HTTPRoute r.spec.rules[0].backendRefs[0].filters",
    ),
    (GATEWAY_HEAD + "  listeners: {}\n", "Gateway gw.spec.listeners"),
]


@pytest.mark.parametrize(("text", "where"), LIST_FIELDS)
def test_each_list_field_says_when_it_is_not_a_list(tmp_path: Path, text: str, where: str) -> None:
    found = problems(tmp_path, text)
    assert found[0] == (where, "must be a list", None)
    assert all(p[1] != "must be a list" for p in found[1:])


def test_too_many_hostnames_parent_refs_and_matches(tmp_path: Path) -> None:
    names = "".join(f"    - h{i}.example.com\n" for i in range(17))
    parents = "".join("    - name: gw\n" for _ in range(33))
    assert problems(tmp_path, ROUTE_HEAD + "  hostnames:\n" + names) == [
        (
            "HTTPRoute r.spec.hostnames",
            "has 17 entries; Gateway API v1alpha2 allows at most 16",
            "split it into several rules or routes with at most 16 each",
        )
    ]
    head = ROUTE_HEAD.replace("  parentRefs:\n    - name: gw\n", "  parentRefs:\n" + parents)
    assert problems(tmp_path, head) == [
        (
            "HTTPRoute r.spec.parentRefs",
            "has 33 entries; Gateway API v1alpha2 allows at most 32",
            "split it into several rules or routes with at most 32 each",
        )
    ]
    matches = "        - path:\n            value: /a\n" * 9
    assert problems(tmp_path, rule_with(matches=matches))[0][:2] == (
        "HTTPRoute r.spec.rules[0].matches",
        "has 9 entries; Gateway API v1alpha2 allows at most 8",
    )


def test_each_mapping_field_says_when_it_is_not_a_mapping(tmp_path: Path) -> None:
    assert problems(tmp_path, ROUTE_HEAD + "  rules:\n    - 5\n") == [
        ("HTTPRoute r.spec.rules[0]", "must be a mapping", None)
    ]
    assert problems(tmp_path, ROUTE_HEAD.replace("    - name: gw\n", "    - gw\n")) == [
        ("HTTPRoute r.spec.parentRefs[0]", "must be a mapping", None),
        (
            "HTTPRoute r.spec.parentRefs[0]",
            "name is required",
            "name the lab's Gateway, e.g. name: example-gateway",
        ),
    ]
    assert problems(tmp_path, rule_with(matches="        - headers:\n            - x\n")) == [
        ("HTTPRoute r.spec.rules[0].matches[0].headers[0]", "must be a mapping", None),
        ("HTTPRoute r.spec.rules[0].matches[0].headers[0]", "name is required", None),
        (
            "HTTPRoute r.spec.rules[0].matches[0].headers[0].value",
            "value is required and must be a string",
            None,
        ),
    ]
    listener = "      protocol: HTTP\n      port: 80\n"
    assert problems(tmp_path, GATEWAY_HEAD + "  listeners:\n    - 5\n") == [
        ("Gateway gw.spec.listeners[0]", "must be a mapping", None),
        ("Gateway gw.spec.listeners[0]", "name is required", None),
        ("Gateway gw.spec.listeners[0].port", "is None; expected a port from 1 to 65535", None),
        (
            "Gateway gw.spec.listeners[0].protocol",
            "is None; expected one of HTTP, HTTPS, TLS, TCP, UDP",
            None,
        ),
    ]
    at = "Gateway gw.spec.listeners[0]"
    assert problems(
        tmp_path, GATEWAY_HEAD + "  listeners:\n    - name: l\n" + listener + "      allowedRoutes: 5\n"
    ) == [(f"{at}.allowedRoutes", "must be a mapping", None)]
    https = "      protocol: HTTPS\n      port: 443\n      tls: [c]\n"
    assert problems(tmp_path, GATEWAY_HEAD + "  listeners:\n    - name: l\n" + https) == [
        (f"{at}.tls", "must be a mapping", None),
        (
            f"{at}.tls",
            "an HTTPS listener needs tls.certificateRefs (v0.4.0: tls is required for HTTPS)",
            "add certificateRefs: [{name: consul-server-cert}]",
        ),
    ]


def test_an_invalid_path_pattern_names_the_path_value(tmp_path: Path) -> None:
    text = rule_with(matches="        - path:\n            type: RegularExpression\n            value: /a(\n")
    assert problems(tmp_path, text) == [
        (
            "HTTPRoute r.spec.rules[0].matches[0].path.value",
            "is not a valid regular expression (missing ), unterminated subpattern at position 2)",
            "fix the pattern",
        )
    ]


def test_weights_after_a_backend_that_is_not_a_mapping_are_still_checked(tmp_path: Path) -> None:
    text = ROUTE_HEAD + "  rules:\n    - backendRefs:\n        - 5\n        - name: a\n          weight: -1\n"
    assert problems(tmp_path, text) == [
        ("HTTPRoute r.spec.rules[0].backendRefs[0]", "must be a mapping", None),
        ("HTTPRoute r.spec.rules[0].backendRefs[0]", "name is required", None),
        (
            "HTTPRoute r.spec.rules[0].backendRefs[1].weight",
            "is -1; a weight must be from 0 to 1000000",
            "use 0 to send nothing to this backend, or a positive share",
        ),
    ]
