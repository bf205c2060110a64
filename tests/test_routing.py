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


def test_ties_go_to_the_older_route() -> None:
    """Apply order ranks every route apart, so the name (`alpha` < `zeta`) never decides."""
    table = RouteTable([route("zeta", [rule("older")]), route("alpha", [rule("newer")])])
    assert winner(table, "/") == "older"
    table = RouteTable([route("alpha", [rule("older")]), route("zeta", [rule("newer")])])
    assert winner(table, "/") == "older"
    # the route's age comes before the rule's index within its route
    older = route("older", [rule("other", path={"value": "/other"}), rule("older")])
    table = RouteTable([older, route("newer", [rule("newer")])])
    assert winner(table, "/x") == "older"


def test_within_a_route_the_earlier_rule_then_the_earlier_match_wins() -> None:
    r = route(
        "r",
        [
            {"matches": [{"path": {"value": "/a"}}], "backendRefs": [{"name": "first", "port": 80}]},
            {
                "matches": [{"path": {"value": "/b"}}, {"path": {"value": "/a"}}],
                "backendRefs": [{"name": "second", "port": 80}],
            },
        ],
    )
    table = RouteTable([r])
    sel = table.select(Request.from_target("/a"))
    assert sel is not None and (sel.rule.index, sel.rule.backends[0].name) == (0, "first")
    sel = table.select(Request.from_target("/b"))
    assert sel is not None and sel.rule.index == 1 and sel.match is sel.rule.matches[0]


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


def test_an_exact_hostname_beats_a_wildcard_of_the_same_length() -> None:
    """`x.example.com` and `*.example.com` are both 13 characters: being exact is what ranks first."""
    assert len("x.example.com") == len("*.example.com")
    assert host_match(["*.example.com", "x.example.com"], "x.example.com") == (1, 13)
    assert host_match(["*.example.com", "x.example.com"], "y.example.com") == (0, 13)
    for order in (["wild", "exact"], ["exact", "wild"]):
        hosts = {"wild": ["*.example.com"], "exact": ["x.example.com"]}
        table = RouteTable([route(name, [rule(name)], hostnames=hosts[name]) for name in order])
        assert winner(table, "/", host="x.example.com") == "exact"
        assert winner(table, "/", host="y.example.com") == "wild"


def test_a_wildcard_matches_only_at_a_label_boundary() -> None:
    table = RouteTable([route("wild", [rule("wild")], hostnames=["*.example.com"])])
    assert winner(table, "/", host="www.example.com") == "wild"
    assert winner(table, "/", host="badexample.com") is None
    assert winner(table, "/", host="example.com") is None
    assert host_match(["*.example.com"], "badexample.com") is None
    assert host_match([], "anything.example.com") == (0, 0)
    assert host_match(["*.example.com"], ".example.com") is None
    # the Host header's case, port and trailing dot do not matter
    assert winner(table, "/", host="WWW.Example.COM:8443") == "wild"
    assert host_match(["*.example.com"], "www.example.com.") == (0, 13)


def test_the_longer_wildcard_is_more_specific() -> None:
    assert host_match(["*.example.com", "*.a.example.com"], "x.a.example.com") == (0, 15)
    table = RouteTable(
        [
            route("short", [rule("short")], hostnames=["*.example.com"]),
            route("long", [rule("long")], hostnames=["*.a.example.com"]),
        ]
    )
    assert winner(table, "/", host="x.a.example.com") == "long"
    assert winner(table, "/", host="x.b.example.com") == "short"


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


def test_a_single_backend_of_weight_1_is_always_chosen() -> None:
    r = route("one", [{"backendRefs": [{"name": "a", "port": 80, "weight": 1}]}])
    chosen = RouteTable([r]).rules[0]
    assert {chosen.choose(random.Random(s)).name for s in range(5)} == {"a"}  # type: ignore[union-attr]


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


def test_a_listener_hostname_equal_to_the_routes_keeps_it() -> None:
    from lab.spec.routing import effective_hostnames

    assert effective_hostnames("a.example.com", ["a.example.com"]) == ("a.example.com",)
    assert effective_hostnames("*.example.com", ["*.example.com"]) == ("*.example.com",)
    assert effective_hostnames("A.Example.com", ["a.example.com"]) == ("a.example.com",)
    # a wildcard listener keeps the route's names below it once each, in the route's order
    both = ["b.example.com", "a.example.com", "b.example.com"]
    assert effective_hostnames("*.example.com", both) == ("b.example.com", "a.example.com")
    # the wildcard covers names with more labels, never the bare domain
    assert effective_hostnames("*.example.com", ["a.b.example.com", "example.com"]) == ("a.b.example.com",)
    assert effective_hostnames("example.com", ["*.example.com"]) is None
    assert effective_hostnames("*.example.com", ["badexample.com", ".example.com"]) is None
    assert effective_hostnames("badexample.com", ["*.example.com"]) is None
    table = RouteTable([(route("same", [rule("same")], hostnames=["a.example.com"]), "a.example.com")])
    assert winner(table, "/", host="a.example.com") == "same"
    assert winner(table, "/", host="b.example.com") is None


def test_query_parameter_names_are_case_sensitive_header_names_are_not() -> None:
    table = RouteTable(
        [
            route("plain", [rule("plain")]),
            route("q", [rule("query", queryParams=[{"name": "Version", "value": "2"}])]),
            route("h", [rule("header", headers=[{"name": "X-Version", "value": "2"}])]),
        ]
    )
    assert winner(table, "/?Version=2") == "query"
    assert winner(table, "/?version=2") == "plain"
    assert winner(table, "/?VERSION=2") == "plain"
    assert winner(table, "/", headers={"x-version": "2"}) == "header"
    assert winner(table, "/", headers={"X-VERSION": "2"}) == "header"
    # values are compared exactly, case included
    assert winner(table, "/", headers={"x-version": "2 "}) == "plain"


def test_a_blank_query_value_is_present_and_the_first_value_counts() -> None:
    table = RouteTable(
        [
            route("plain", [rule("plain")]),
            route(
                "any",
                [rule("any-v", queryParams=[{"name": "v", "type": "RegularExpression", "value": ".*"}])],
            ),
            route("two", [rule("v-2", queryParams=[{"name": "w", "value": "2"}])]),
        ]
    )
    assert Request.from_target("/?v=").query == {"v": ""}
    assert winner(table, "/?v=") == "any-v"
    assert winner(table, "/?v") == "any-v"
    assert winner(table, "/") == "plain"
    assert winner(table, "/?w=2&w=3") == "v-2"
    assert winner(table, "/?w=3&w=2") == "plain"


def test_a_request_target_with_its_defaults() -> None:
    assert Request.from_target("/echo") == Request(
        path="/echo", method="GET", host="localhost", headers={}, query={}
    )
    assert Request.from_target("") == Request(path="/")
    assert Request.from_target("?a=1").path == "/"
    req = Request.from_target("/x?a=1&b=", method="post", host="Api.Example.com:8443", headers={"X-A": "V"})
    assert req == Request(
        path="/x",
        method="POST",
        host="Api.Example.com",
        headers={"x-a": "V"},
        query={"a": "1", "b": ""},
    )
    # an IPv6 literal keeps its colons (only one colon is a port)
    assert Request.from_target("/", host="::1").host == "::1"


def test_exact_values_are_not_patterns() -> None:
    """An Exact header value is never compiled: `a(` is a fine literal and an invalid pattern."""
    table = RouteTable(
        [
            route("plain", [rule("plain")]),
            route("lit", [rule("literal", headers=[{"name": "x", "value": "a("}])]),
            route("dot", [rule("dot", queryParams=[{"name": "q", "value": "a.c"}])]),
            route("paren", [rule("paren", path={"type": "PathPrefix", "value": "/a(b"})]),
            route("exact", [rule("exact", path={"type": "Exact", "value": "/[x"})]),
        ]
    )
    assert winner(table, "/a(b/c") == "paren" and winner(table, "/[x") == "exact"
    assert winner(table, "/", headers={"x": "a("}) == "literal"
    assert winner(table, "/?q=a.c") == "dot"
    assert winner(table, "/?q=abc") == "plain"


def test_regular_expressions_must_match_the_whole_value() -> None:
    table = RouteTable(
        [
            route("plain", [rule("plain")]),
            route(
                "re",
                [
                    rule(
                        "re",
                        path={"type": "RegularExpression", "value": "/v[0-9]"},
                        headers=[{"name": "x", "type": "RegularExpression", "value": "ab+"}],
                    )
                ],
            ),
        ]
    )
    assert winner(table, "/v1", headers={"x": "abb"}) == "re"
    assert winner(table, "/v1x", headers={"x": "abb"}) == "plain"
    assert winner(table, "/v1", headers={"x": "abbc"}) == "plain"
    assert winner(table, "/v1", headers={"x": "xab"}) == "plain"
    assert winner(table, "/v1") == "plain"


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

    asked: list[tuple[str, str]] = []

    def resolve(route: Resource, ref: BackendRef) -> RefProblem | None:
        asked.append((route.name, ref.name))
        return RefProblem("BackendNotFound", "no such Service") if ref.name == "gone" else None

    r = route("p", [{"backendRefs": [{"name": "ok", "port": 80}, {"name": "gone", "port": 80}]}])
    ok, gone = RouteTable([r], resolve=resolve).rules[0].backends
    assert ok.problem is None
    assert gone.problem == RefProblem("BackendNotFound", "no such Service")
    assert asked == [("p", "ok"), ("p", "gone")]


def paths(*entries: tuple[str, str, str]) -> RouteTable:
    """One route per (name, path type, path value), applied in the order given."""
    return RouteTable([route(n, [rule(n, path={"type": t, "value": v})]) for n, t, v in entries])


def test_an_exact_path_beats_a_prefix_of_the_same_length_whatever_the_order() -> None:
    table = paths(
        ("prefix", "PathPrefix", "/api"), ("regex", "RegularExpression", "/ap."), ("exact", "Exact", "/api")
    )
    assert winner(table, "/api") == "exact"
    assert winner(table, "/api/x") == "prefix"
    assert winner(table, "/apx") == "regex"
    # at equal length a prefix ranks before a pattern, even when the pattern's route is older
    table = paths(("regex", "RegularExpression", "/ap."), ("prefix", "PathPrefix", "/api"))
    assert winner(table, "/api") == "prefix"
    # a longer exact path beats a shorter one
    table = paths(("short", "Exact", "/a"), ("long", "Exact", "/a/b"), ("prefix", "PathPrefix", "/a/b/c"))
    assert winner(table, "/a/b") == "long"
    assert winner(table, "/a") == "short"


def test_a_prefix_is_matched_by_whole_path_elements_whatever_its_last_letters() -> None:
    table = paths(("x", "PathPrefix", "/v1X"), ("slash", "PathPrefix", "/v2X/"))
    assert winner(table, "/v1X") == "x" and winner(table, "/v1X/a") == "x"
    assert winner(table, "/v1") is None and winner(table, "/v1/a") is None
    assert winner(table, "/v2X") == "slash" and winner(table, "/v2") is None


def test_path_ranks() -> None:
    from lab.spec.routing import PathMatch

    assert PathMatch("Exact", "/abc").rank == (2, 4, 1)
    assert PathMatch("PathPrefix", "/abc/").rank == (1, 4, 1)
    assert PathMatch("PathPrefix", "/").rank == (1, 0, 1)
    assert PathMatch().rank == (1, 0, 1)
    assert PathMatch("RegularExpression", "/a.c/").rank == (1, 5, 0)


def test_more_header_matches_rank_first_and_all_must_hold() -> None:
    one = [{"name": "a", "value": "1"}]
    two = [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]
    table = RouteTable([route("one", [rule("one", headers=one)]), route("two", [rule("two", headers=two)])])
    assert winner(table, "/", headers={"a": "1", "b": "2"}) == "two"
    assert winner(table, "/", headers={"a": "1", "b": "3"}) == "one"
    assert winner(table, "/", headers={"b": "2"}) is None
    qone = [{"name": "a", "value": "1"}]
    qtwo = [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]
    table = RouteTable(
        [route("one", [rule("one", queryParams=qone)]), route("two", [rule("two", queryParams=qtwo)])]
    )
    assert winner(table, "/?a=1&b=2") == "two"
    assert winner(table, "/?a=1&b=3") == "one"


def test_a_method_match_in_lower_case_still_filters() -> None:
    table = RouteTable([route("m", [rule("post", method="post")])])
    assert winner(table, "/", method="POST") == "post"
    assert winner(table, "/", method="post") == "post"
    assert winner(table, "/", method="GET") is None


def test_backend_refs_with_the_specifications_defaults() -> None:
    from lab.spec.routing import BackendRef

    r = route(
        "d",
        [
            {
                "backendRefs": [
                    {"name": "a"},
                    {
                        "name": "b",
                        "namespace": "other",
                        "port": 8080,
                        "weight": 5,
                        "kind": "Other",
                        "group": "example.com",
                    },
                ]
            }
        ],
        namespace="team",
    )
    a, b = RouteTable([r]).rules[0].backends
    assert (a.name, a.namespace, a.port, a.weight, a.kind, a.group) == ("a", "team", None, 1, "Service", "")
    assert b == BackendRef("b", "other", 8080, 5, "Other", "example.com")
    assert (a.key, b.key) == ("team/a", "other/b")
    assert BackendRef("c", "default", 80, 1).key == "c"
    assert str(RouteTable([r]).rules[0].route) == "team/d"


def test_a_route_without_rules_or_matches_gets_the_defaults() -> None:
    from lab.spec.routing import Match, PathMatch, rules_of

    bare = route("bare", [])
    bare.spec.pop("rules")
    (only,) = rules_of(bare, order=3)
    assert (only.index, only.order, only.matches, only.backends, only.hostnames) == (0, 3, (Match(),), (), ())
    assert Match().path == PathMatch("PathPrefix", "/")
    no_match = route("nm", [{"backendRefs": [{"name": "a", "port": 80}]}], hostnames=["A.Example.com"])
    (r,) = rules_of(no_match)
    assert r.matches == (Match(),) and r.hostnames == ("a.example.com",) and r.order == 0
    unnamespaced = Resource(no_match.api_version, "HTTPRoute", "nm", None, no_match.body, Path("t.yaml"), 1)
    assert str(rules_of(unnamespaced)[0].route) == "default/nm"
    assert rules_of(no_match, listener_hostname="other.org") == ()
    filtered = route("f", [{"filters": [{"type": "RequestMirror"}], "backendRefs": []}])
    assert rules_of(filtered)[0].filters == ({"type": "RequestMirror"},)


def test_weighted_choice_is_exactly_proportional_over_every_draw() -> None:
    """Each of the `total` picks maps to one backend: weight 3 gets 3 of them, weight 0 none."""
    r = route(
        "w",
        [
            {
                "backendRefs": [
                    {"name": "a", "weight": 3},
                    {"name": "z", "weight": 0},
                    {"name": "b", "weight": 1},
                ]
            }
        ],
    )
    chosen = RouteTable([r]).rules[0]
    assert chosen.total_weight == 4

    class Picks(random.Random):
        def __init__(self, pick: int) -> None:
            super().__init__(0)
            self.pick = pick

        def randrange(self, stop: int, *args: Any, **kwargs: Any) -> int:
            assert stop == 4
            return self.pick

    names = [chosen.choose(Picks(i)).name for i in range(4)]  # type: ignore[union-attr]
    assert names == ["a", "a", "a", "b"]


def test_a_negative_weight_counts_as_zero_and_a_repeated_service_adds_up() -> None:
    from lab.spec.routing import BackendRef, RouteId, Rule

    rule_ = Rule(
        RouteId("default", "r"),
        0,
        (),
        (BackendRef("a", "default", 80, -5), BackendRef("b", "default", 80, 2)),
    )
    assert rule_.total_weight == 2
    assert {rule_.choose(random.Random(s)).name for s in range(20)} == {"b"}  # type: ignore[union-attr]
    twice = route("t", [{"backendRefs": [{"name": "a", "weight": 2}, {"name": "a", "weight": 3}]}])
    assert RouteTable([twice]).rules[0].expected_weights() == {"a": 5}


def test_the_per_host_cache_is_bounded() -> None:
    """A flood of distinct Host headers cannot grow the table without bound (1024 hosts cached)."""
    table = RouteTable([route("any", [rule("any")])])
    for i in range(1100):
        assert winner(table, "/", host=f"h{i}.example.com") == "any"
    assert len(table._by_host) == 1024
    # a cached host gets the same candidates back, not a new sort
    assert table._candidates("h0.example.com") is table._candidates("h0.example.com")
