"""Gateway API routing through the embedded engine's real HTTPS gateway, one table of cases.

One in-process lab serves the module; each case applies its routes (an atomic swap) and sends
real requests verified against the lab CA.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.local_lab import InProcessLab, dump

GATEWAY = {
    "apiVersion": "gateway.networking.k8s.io/v1alpha2",
    "kind": "Gateway",
    "metadata": {"name": "gw", "namespace": "default"},
    "spec": {
        "gatewayClassName": "consul-api-gateway",
        "listeners": [
            {
                "name": "https",
                "protocol": "HTTPS",
                "port": 8443,
                "allowedRoutes": {"namespaces": {"from": "Same"}},
                "tls": {"certificateRefs": [{"name": "consul-server-cert"}]},
            }
        ],
    },
}


def service(name: str, app: str | None = None, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": app or name}, "ports": [{"port": 8080}]},
    }


def deployment(name: str, replicas: int = 1, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "echo", "image": "registry.k8s.io/e2e-test-images/echoserver:2.5"}
                    ]
                },
            },
        },
    }


BASE = dump(
    GATEWAY,
    *(doc for n in ("echo-a", "echo-b", "echo-c") for doc in (service(n), deployment(n))),
    deployment("echo-r", replicas=3),
    service("echo-r"),
    # a Service that selects no pod, and a TCP one: both invalid backends for the gateway
    service("svc-empty", app="nobody"),
    service("svc-tcp", app="echo-a"),
    {
        "apiVersion": "consul.hashicorp.com/v1alpha1",
        "kind": "ServiceDefaults",
        "metadata": {"name": "svc-tcp", "namespace": "default"},
        "spec": {"protocol": "tcp"},
    },
    # a backend in another namespace: routes in default reach it only through a ReferencePolicy
    service("echo-t", namespace="team"),
    deployment("echo-t", namespace="team"),
)

POLICY = {
    "apiVersion": "gateway.networking.k8s.io/v1alpha2",
    "kind": "ReferencePolicy",
    "metadata": {"name": "default-to-echo-t", "namespace": "team"},
    "spec": {
        "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "default"}],
        "to": [{"group": "", "kind": "Service", "name": "echo-t"}],
    },
}


def ref(name: str, weight: int | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Service", "name": name, "port": 8080}
    if weight is not None:
        out["weight"] = weight
    out.update(extra)
    return out


def rule(
    *backends: str | tuple[str, int], matches: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if matches is not None:
        out["matches"] = matches
    out["backendRefs"] = [ref(b) if isinstance(b, str) else ref(*b) for b in backends]
    out.update(extra)
    return out


def route(name: str, *rules: dict[str, Any], hostnames: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"parentRefs": [{"name": "gw"}], "rules": list(rules)}
    if hostnames:
        spec["hostnames"] = hostnames
    return {
        "apiVersion": "gateway.networking.k8s.io/v1alpha2",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def path(type_: str, value: str) -> dict[str, Any]:
    return {"path": {"type": type_, "value": value}}


@dataclass(frozen=True)
class Expect:
    """One request and what it must get: a status and, for 200, the deployment that answered."""

    target: str
    status: int = 200
    backend: str | None = None
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    location: str | None = None
    body_has: tuple[str, ...] = ()
    body_lacks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    name: str
    routes: list[dict[str, Any]]
    expects: list[Expect]


CASES = [
    Case(
        "exact-match-only-the-whole-path",
        [route("r", rule("echo-a", matches=[path("Exact", "/echo")]), rule("echo-b"))],
        [
            Expect("/echo", backend="echo-a"),
            Expect("/echo/x", backend="echo-b"),
            Expect("/echoes", backend="echo-b"),
        ],
    ),
    Case(
        "prefix-matches-whole-path-elements",
        [route("r", rule("echo-a", matches=[path("PathPrefix", "/echo")]))],
        [
            Expect("/echo", backend="echo-a"),
            Expect("/echo/x", backend="echo-a"),
            Expect("/echo/", backend="echo-a"),
            Expect("/echoes", status=404),
            Expect("/", status=404),
        ],
    ),
    Case(
        "regular-expression-matches-the-full-path",
        [route("r", rule("echo-a", matches=[path("RegularExpression", "/v[0-9]+/.*")]))],
        [Expect("/v1/x", backend="echo-a"), Expect("/vx/x", status=404), Expect("/a/v1/x", status=404)],
    ),
    Case(
        "header-exact-and-regex",
        [
            route(
                "r",
                rule("echo-b", matches=[{"headers": [{"name": "X-Canary", "value": "true"}]}]),
                rule(
                    "echo-c",
                    matches=[
                        {"headers": [{"name": "x-user", "type": "RegularExpression", "value": "qa-.*"}]}
                    ],
                ),
                rule("echo-a"),
            )
        ],
        [
            Expect("/", backend="echo-b", headers={"x-canary": "true"}),
            Expect("/", backend="echo-a", headers={"x-canary": "false"}),
            Expect("/", backend="echo-c", headers={"X-User": "qa-7"}),
            Expect("/", backend="echo-a", headers={"X-User": "dev-7"}),
            Expect("/", backend="echo-a"),
        ],
    ),
    Case(
        "query-param",
        [
            route(
                "r",
                rule("echo-b", matches=[{"queryParams": [{"name": "user", "value": "bob"}]}]),
                rule("echo-a"),
            )
        ],
        [
            Expect("/q?user=bob", backend="echo-b"),
            Expect("/q?user=alice", backend="echo-a"),
            Expect("/q", backend="echo-a"),
        ],
    ),
    Case(
        "method",
        [
            route(
                "r",
                rule("echo-b", matches=[{"method": "POST"}]),
                rule("echo-a", matches=[path("Exact", "/get-only")]),
            )
        ],
        [
            Expect("/m", method="POST", backend="echo-b"),
            Expect("/m", status=404),
            Expect("/get-only", backend="echo-a"),
        ],
    ),
    Case(
        "longest-prefix-wins-across-routes",
        [
            route("short", rule("echo-a", matches=[path("PathPrefix", "/echo")])),
            route("long", rule("echo-b", matches=[path("PathPrefix", "/echo/deep")])),
        ],
        [
            Expect("/echo/deep/x", backend="echo-b"),
            Expect("/echo/deeper", backend="echo-a"),
            Expect("/echo/x", backend="echo-a"),
        ],
    ),
    Case(
        "exact-beats-prefix-of-same-length",
        [
            route("prefix", rule("echo-a", matches=[path("PathPrefix", "/echo")])),
            route("exact", rule("echo-b", matches=[path("Exact", "/echo")])),
        ],
        [Expect("/echo", backend="echo-b"), Expect("/echo/1", backend="echo-a")],
    ),
    Case(
        "more-header-matches-win",
        [
            route(
                "r",
                rule(
                    "echo-a",
                    matches=[
                        {
                            "path": {"type": "PathPrefix", "value": "/h"},
                            "headers": [{"name": "x-a", "value": "1"}],
                        }
                    ],
                ),
                rule(
                    "echo-b",
                    matches=[
                        {
                            "path": {"type": "PathPrefix", "value": "/h"},
                            "headers": [{"name": "x-a", "value": "1"}, {"name": "x-b", "value": "1"}],
                        }
                    ],
                ),
            )
        ],
        [
            Expect("/h", backend="echo-b", headers={"x-a": "1", "x-b": "1"}),
            Expect("/h", backend="echo-a", headers={"x-a": "1"}),
            Expect("/h", status=404),
        ],
    ),
    Case(
        "older-route-wins-a-tie",
        [
            route("zzz-older", rule("echo-a", matches=[path("PathPrefix", "/same")])),
            route("aaa-newer", rule("echo-b", matches=[path("PathPrefix", "/same")])),
        ],
        [Expect("/same", backend="echo-a")],
    ),
    Case(
        "hostnames-exact-wildcard-and-any",
        [
            route("exact", rule("echo-a"), hostnames=["foo.example.com"]),
            route("wild", rule("echo-b"), hostnames=["*.example.com"]),
            route("any", rule("echo-c")),
        ],
        [
            Expect("/", backend="echo-a", headers={"Host": "foo.example.com"}),
            Expect("/", backend="echo-b", headers={"Host": "bar.example.com:8443"}),
            Expect("/", backend="echo-b", headers={"Host": "a.b.example.com"}),
            Expect("/", backend="echo-c", headers={"Host": "example.com"}),
            Expect("/", backend="echo-c"),
        ],
    ),
    Case(
        "hostname-only-routes-give-404-elsewhere",
        [route("exact", rule("echo-a"), hostnames=["foo.example.com"])],
        [Expect("/", status=404), Expect("/", backend="echo-a", headers={"Host": "FOO.example.com"})],
    ),
    Case(
        "services-without-endpoints-answer-503",
        [
            route("empty", rule("svc-empty", matches=[path("PathPrefix", "/empty")])),
            route("tcp", rule("svc-tcp", matches=[path("PathPrefix", "/tcp")])),
        ],
        [Expect("/empty", status=503), Expect("/tcp", status=503), Expect("/other", status=404)],
    ),
    Case(
        "dropped-references-answer-503-and-the-valid-rules-keep-serving",
        [
            route(
                "partly",
                rule("echo-a", matches=[path("PathPrefix", "/ok")]),
                rule("no-such-service", matches=[path("PathPrefix", "/missing")]),
                {"matches": [path("PathPrefix", "/kind")], "backendRefs": [ref("echo-b", kind="Pod")]},
                {"matches": [path("PathPrefix", "/port")], "backendRefs": [ref("echo-b", port=9999)]},
            )
        ],
        [
            Expect("/ok", backend="echo-a"),
            Expect("/missing", status=503, body_has=("ServiceNotFound",)),
            Expect("/kind", status=503, body_has=("Errors",)),
            Expect("/port", status=503, body_has=("has no port 9999",)),
        ],
    ),
    Case(
        "no-backend-refs-answer-503",
        [
            route(
                "none",
                {"matches": [path("PathPrefix", "/omitted")]},
                {"matches": [path("PathPrefix", "/empty")], "backendRefs": []},
            )
        ],
        [Expect("/omitted", status=503), Expect("/empty", status=503)],
    ),
    Case(
        "all-zero-weights-answer-503",
        [route("zero", rule(("echo-a", 0), ("echo-b", 0)))],
        [Expect("/z", status=503, body_has=("every backendRef has weight 0",))],
    ),
    Case(
        "cross-namespace-backend-needs-a-reference-policy",
        [route("x", {"backendRefs": [ref("echo-t", namespace="team")]})],
        [Expect("/x", status=503, body_has=("RefNotPermitted",))],
    ),
    Case(
        "cross-namespace-backend-with-a-reference-policy",
        [route("x", {"backendRefs": [ref("echo-t", namespace="team")]}), POLICY],
        [Expect("/x", backend="echo-t")],
    ),
    Case(
        "backend-level-request-header-modifier-applies-to-its-backend-only",
        [
            route(
                "b",
                {
                    "backendRefs": [
                        ref(
                            "echo-a",
                            filters=[
                                {
                                    "type": "RequestHeaderModifier",
                                    "requestHeaderModifier": {"add": [{"name": "X-Backend", "value": "a"}]},
                                }
                            ],
                        )
                    ]
                },
            )
        ],
        [Expect("/b", backend="echo-a", body_has=("\tx-backend=a\n",))],
    ),
    Case(
        "request-header-modifier-visible-in-echo",
        [
            route(
                "r",
                rule(
                    "echo-a",
                    filters=[
                        {
                            "type": "RequestHeaderModifier",
                            "requestHeaderModifier": {
                                "set": [{"name": "X-Set", "value": "new"}],
                                "add": [{"name": "X-Add", "value": "added"}],
                                "remove": ["X-Remove"],
                            },
                        }
                    ],
                ),
            )
        ],
        [
            Expect(
                "/mod",
                backend="echo-a",
                headers={"X-Set": "old", "X-Remove": "gone", "X-Keep": "kept"},
                body_has=("\tx-set=new\n", "\tx-add=added\n", "\tx-keep=kept\n"),
                body_lacks=("x-remove", "x-set=old"),
            )
        ],
    ),
    Case(
        "request-redirect",
        [
            route(
                "r",
                rule(
                    matches=[path("PathPrefix", "/old")],
                    filters=[
                        {
                            "type": "RequestRedirect",
                            "requestRedirect": {
                                "scheme": "http",
                                "hostname": "example.org",
                                "port": 8080,
                                "statusCode": 301,
                            },
                        }
                    ],
                ),
                rule(
                    matches=[path("PathPrefix", "/moved")],
                    filters=[{"type": "RequestRedirect", "requestRedirect": {"hostname": "example.org"}}],
                ),
            )
        ],
        [
            Expect("/old/page?x=1", status=301, location="http://example.org:8080/old/page?x=1"),
            Expect("/moved", status=302, location="https://example.org:{port}/moved"),
        ],
    ),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessLab]:
    lab = InProcessLab(tmp_path_factory.mktemp("routing"), BASE)
    yield lab
    lab.close()


HOSTNAME = re.compile(r"^Hostname: (\S+)$", re.M)


def answered_by(text: str) -> str:
    found = HOSTNAME.search(text)
    assert found, text
    return found.group(1)


def deployment_of(pod: str) -> str:
    return pod.rsplit("-", 2)[0]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_routing_case(lab: InProcessLab, case: Case) -> None:
    lab.apply(dump(*case.routes))
    for e in case.expects:
        response = lab.request(e.target, method=e.method, headers=e.headers)
        label = f"{case.name}: {e.method} {e.target} {e.headers}"
        assert response.status_code == e.status, f"{label}: {response.status_code} {response.text}"
        if e.backend is not None:
            assert deployment_of(answered_by(response.text)) == e.backend, label
        if e.location is not None:
            assert response.headers["Location"] == e.location.format(port=lab.port), label
        for text in e.body_has:
            assert text in response.text, f"{label}: {text!r} not in\n{response.text}"
        for text in e.body_lacks:
            assert text not in response.text, f"{label}: {text!r} in\n{response.text}"


def test_echo_answers_like_the_echoserver_image(lab: InProcessLab) -> None:
    lab.apply(dump(route("r", rule("echo-a"))))
    response = lab.request("/echo/x?y=1", method="POST", data=b"hello")
    lines = response.text.split("\n")
    assert response.headers["Content-Type"].startswith("text/plain")
    assert lines[0] == "" and lines[2].startswith("Hostname: echo-a-")
    pod = lines[2].removeprefix("Hostname: ")
    assert re.fullmatch(r"echo-a-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}", pod)
    for section in (
        "Pod Information:",
        "Server values:",
        "Request Information:",
        "Request Headers:",
        "Request Body:",
    ):
        assert section in lines, section
    assert "\tmethod=POST" in lines and "\treal path=/echo/x?y=1" in lines and "\tquery=y=1" in lines
    assert f"\thost=localhost:{lab.port}" in lines
    assert lines[-2] == "hello"


def test_weights_follow_the_route_and_weight_zero_is_never_chosen(lab: InProcessLab) -> None:
    lab.apply(dump(route("r", rule(("echo-a", 3), ("echo-b", 1), ("echo-c", 0)))))
    seen = Counter(deployment_of(answered_by(lab.request("/w").text)) for _ in range(200))
    assert seen["echo-c"] == 0, seen
    # binomial(200, 0.75): 120..180 holds with probability > 0.9999999
    assert 120 <= seen["echo-a"] <= 180 and seen["echo-a"] + seen["echo-b"] == 200, seen


def test_replicas_are_separate_pods_behind_one_service(lab: InProcessLab) -> None:
    lab.apply(dump(route("r", rule("echo-r"))))
    pods = {answered_by(lab.request("/").text) for _ in range(60)}
    assert len(pods) == 3 and {deployment_of(p) for p in pods} == {"echo-r"}
    assert len({p.rsplit("-", 1)[0] for p in pods}) == 1  # one template hash, three suffixes


def test_invalid_backends_get_503_in_proportion_to_their_weight(lab: InProcessLab) -> None:
    """v0.4.0: "if an invalid backend is requested to have 80% of requests, then 80% ... get a 503"."""
    lab.apply(
        dump(route("r", rule(("echo-a", 1), ("no-such-service", 4)), rule(("echo-b", 1), ("svc-empty", 1))))
    )
    codes = Counter(lab.request("/p").status_code for _ in range(200))
    # binomial(200, 0.8): 130..190 holds with probability > 0.9999
    assert set(codes) == {200, 503} and 130 <= codes[503] <= 190, codes


def test_removing_the_reference_policy_drops_the_cross_namespace_backend(lab: InProcessLab) -> None:
    """Issue 13 item 2: re-applying the file without its ReferencePolicy makes the backend invalid."""
    x = route("x", {"backendRefs": [ref("echo-t", namespace="team")]})
    lab.apply(dump(x, POLICY))
    assert deployment_of(answered_by(lab.request("/x").text)) == "echo-t"
    lab.apply(dump(x))
    response = lab.request("/x")
    assert response.status_code == 503 and "RefNotPermitted" in response.text


def test_header_names_are_case_insensitive_end_to_end(lab: InProcessLab) -> None:
    """Issue 13 item 3: add appends to the client's value; duplicates differing in case all arrive."""
    modifier = {
        "type": "RequestHeaderModifier",
        "requestHeaderModifier": {"add": [{"name": "X-Header-Add", "value": "b"}]},
    }
    lab.apply(dump(route("h", rule("echo-a", filters=[modifier]))))
    status, text = lab.raw("/h", [("x-header-add", "a"), ("X-Dup", "1"), ("x-dup", "2"), ("X-DUP", "3")])
    assert status == 200
    assert "\tx-header-add=a,b\n" in text and "\tx-dup=1,2,3\n" in text, text


def test_set_and_remove_ignore_the_case_of_names(lab: InProcessLab) -> None:
    modifier = {
        "type": "RequestHeaderModifier",
        "requestHeaderModifier": {"set": [{"name": "X-SET", "value": "new"}], "remove": ["X-REMOVE"]},
    }
    lab.apply(dump(route("h", rule("echo-a", filters=[modifier]))))
    status, text = lab.raw("/h", [("x-set", "old"), ("X-Set", "older"), ("x-remove", "1"), ("X-Remove", "2")])
    assert status == 200 and "\tx-set=new\n" in text and "x-remove" not in text, text


def test_invalid_apply_changes_nothing(lab: InProcessLab) -> None:
    from lab.spec.validation import InvalidPlan

    lab.apply(dump(route("r", rule("echo-a"))))
    with pytest.raises(InvalidPlan):
        lab.apply(dump(route("r", rule(("echo-b", -1)))))
    assert deployment_of(answered_by(lab.request("/").text)) == "echo-a"
