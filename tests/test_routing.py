"""Gateway API v1alpha2 matching and precedence, on the routing table alone (no network)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lab.spec.manifests import Resource
from lab.spec.routing import Request, RouteTable, host_match


def route(
    name: str, rules: list[dict[str, Any]], hostnames: list[str] | None = None, namespace: str = "default"
) -> Resource:
    spec: dict[str, Any] = {"parentRefs": [{"name": "gw"}], "rules": rules}
    if hostnames:
        spec["hostnames"] = hostnames
    body = {
        "apiVersion": "gateway.networking.k8s.io/v1alpha2",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": spec,
    }
    return Resource(
        "gateway.networking.k8s.io/v1alpha2", "HTTPRoute", name, namespace, body, Path("t.yaml"), 1
    )


def rule(backend: str, **match: Any) -> dict[str, Any]:
    return {"matches": [match] if match else [{}], "backendRefs": [{"name": backend, "port": 80}]}


def winner(table: RouteTable, target: str, **kw: Any) -> str | None:
    sel = table.select(Request.from_target(target, **kw))
    return sel.rule.backends[0].name if sel else None


PATHS = [
    # (path, expected backend)
    ("/echo", "prefix-echo"),
    ("/echo/x", "prefix-echo"),
    ("/echoes", "root"),
    ("/echo/exact", "exact"),
    ("/echo/exact/more", "prefix-echo"),
    ("/api/v2", "regex"),
    ("/", "root"),
]


@pytest.mark.parametrize(("path", "expected"), PATHS)
def test_path_match_types_and_precedence(path: str, expected: str) -> None:
    table = RouteTable(
        [
            route("a", [rule("root", path={"type": "PathPrefix", "value": "/"})]),
            route(
                "b",
                [
                    rule("prefix-echo", path={"type": "PathPrefix", "value": "/echo/"}),
                    rule("exact", path={"type": "Exact", "value": "/echo/exact"}),
                    rule("regex", path={"type": "RegularExpression", "value": "/api/v[0-9]+"}),
                ],
            ),
        ]
    )
    assert winner(table, path) == expected


def test_headers_and_query_add_precedence_a_method_match_only_filters() -> None:
    table = RouteTable(
        [
            route("plain", [rule("plain", path={"type": "PathPrefix", "value": "/echo"})]),
            route(
                "hdr",
                [
                    rule(
                        "canary",
                        path={"type": "PathPrefix", "value": "/echo"},
                        headers=[{"name": "X-Canary", "value": "yes"}],
                    )
                ],
            ),
            route(
                "q",
                [
                    rule(
                        "query",
                        path={"type": "PathPrefix", "value": "/echo"},
                        queryParams=[{"name": "v", "value": "2"}],
                    )
                ],
            ),
            route("m", [rule("post", path={"type": "PathPrefix", "value": "/echo"}, method="POST")]),
        ]
    )
    assert winner(table, "/echo") == "plain"
    assert winner(table, "/echo", headers={"x-canary": "yes"}) == "canary"
    assert winner(table, "/echo", headers={"X-Canary": "no"}) == "plain"
    assert winner(table, "/echo?v=2") == "query"
    # v0.4.0 does not rank method: POST ties with the older route without one
    assert winner(table, "/echo", method="POST") == "plain"
    # a header match outranks a query match
    assert winner(table, "/echo?v=2", headers={"X-Canary": "yes"}) == "canary"


def test_ties_go_to_the_older_route_then_name() -> None:
    table = RouteTable([route("zeta", [rule("older")]), route("alpha", [rule("newer")])])
    assert winner(table, "/") == "older"


def test_hostnames_exact_beat_wildcard_and_unmatched_hosts_fall_through() -> None:
    table = RouteTable(
        [
            route("any", [rule("any")]),
            route("wild", [rule("wild")], hostnames=["*.example.com"]),
            route("exact", [rule("exact")], hostnames=["api.example.com"]),
        ]
    )
    assert winner(table, "/", host="api.example.com") == "exact"
    assert winner(table, "/", host="www.example.com") == "wild"
    assert winner(table, "/", host="a.b.example.com") == "wild"
    assert winner(table, "/", host="example.com") == "any"
    assert host_match(["api.example.com"], "other.org") is None


def test_no_match_is_none_for_404() -> None:
    table = RouteTable([route("a", [rule("a", path={"type": "Exact", "value": "/only"})])])
    assert table.select(Request.from_target("/other")) is None


def test_weighted_choice_never_picks_weight_zero_and_follows_weights() -> None:
    r = route(
        "w",
        [
            {
                "backendRefs": [
                    {"name": "a", "port": 80, "weight": 3},
                    {"name": "z", "port": 80, "weight": 0},
                    {"name": "b", "port": 80, "weight": 1},
                ]
            }
        ],
    )
    chosen = RouteTable([r]).rules[0]
    rng = random.Random(7)
    counts = Counter(chosen.choose(rng).name for _ in range(4000))  # type: ignore[union-attr]
    assert counts["z"] == 0
    assert 2800 < counts["a"] < 3200
    assert chosen.expected_weights() == {"a": 3, "z": 0, "b": 1}


def test_all_zero_weights_choose_nothing() -> None:
    r = route("w", [{"backendRefs": [{"name": "a", "port": 80, "weight": 0}]}])
    assert RouteTable([r]).rules[0].choose(random.Random(1)) is None


def test_listener_hostname_narrows_route_hostnames() -> None:
    from lab.spec.routing import effective_hostnames

    assert effective_hostnames(None, ["a.example.com"]) == ("a.example.com",)
    assert effective_hostnames("*.example.com", []) == ("*.example.com",)
    assert effective_hostnames("*.example.com", ["a.example.com", "other.org"]) == ("a.example.com",)
    assert effective_hostnames("a.example.com", ["*.example.com"]) == ("a.example.com",)
    assert effective_hostnames("a.example.com", ["other.org"]) is None
    table = RouteTable(
        [
            (route("any", [rule("any")]), "*.example.com"),
            (route("other", [rule("other")], hostnames=["other.org"]), "*.example.com"),
        ]
    )
    assert winner(table, "/", host="www.example.com") == "any"
    assert winner(table, "/", host="other.org") is None
    assert winner(table, "/", host="localhost") is None


def test_method_is_not_a_precedence_criterion_in_v0_4_0() -> None:
    """v0.4.0 ranks hostname, path, header count, query count, then age: a method match adds nothing.

    (Method joined the list in v0.8.0, apis/v1beta1/httproute_types.go; lab pins v0.4.0.)
    """
    table = RouteTable(
        [
            route("plain", [rule("plain", path={"type": "PathPrefix", "value": "/echo"})]),
            route("m", [rule("post", path={"type": "PathPrefix", "value": "/echo"}, method="POST")]),
            route(
                "hdr",
                [
                    rule(
                        "canary",
                        path={"type": "PathPrefix", "value": "/echo"},
                        headers=[{"name": "x-canary", "value": "yes"}],
                    )
                ],
            ),
        ]
    )
    # a tie on every criterion goes to the older route, whatever the method match
    assert winner(table, "/echo", method="POST") == "plain"
    # one header match outranks a method match
    assert winner(table, "/echo", method="POST", headers={"x-canary": "yes"}) == "canary"


def test_a_rule_without_backend_refs_chooses_nothing() -> None:
    table = RouteTable([route("none", [{"matches": [{}]}]), route("empty", [{"backendRefs": []}])])
    assert all(r.choose(random.Random(1)) is None for r in table.rules)


def test_backend_filters_are_kept_per_backend() -> None:
    header = {
        "type": "RequestHeaderModifier",
        "requestHeaderModifier": {"add": [{"name": "a", "value": "1"}]},
    }
    r = route(
        "f", [{"backendRefs": [{"name": "a", "port": 80, "filters": [header]}, {"name": "b", "port": 80}]}]
    )
    a, b = RouteTable([r]).rules[0].backends
    assert a.filters == (header,) and b.filters == ()


def test_a_resolver_marks_backends_the_controller_drops() -> None:
    from lab.spec.routing import BackendRef, RefProblem

    def resolve(route: Resource, ref: BackendRef) -> RefProblem | None:
        return RefProblem("BackendNotFound", "no such Service") if ref.name == "gone" else None

    r = route("p", [{"backendRefs": [{"name": "ok", "port": 80}, {"name": "gone", "port": 80}]}])
    ok, gone = RouteTable([r], resolve=resolve).rules[0].backends
    assert ok.problem is None
    assert gone.problem == RefProblem("BackendNotFound", "no such Service")
