"""Gateway API routing through the embedded engine's real HTTPS gateway, one table of cases.

One in-process lab serves the module; each case applies its routes (an atomic swap) and sends
real requests verified against the lab CA.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lab.engines.local.gateway import Routing
from lab.spec.manifests import load
from lab.spec.routing import RouteTable
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


def service(name: str, app: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"app": app or name}, "ports": [{"port": 8080}]},
    }


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
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
)


def ref(name: str, weight: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Service", "name": name, "port": 8080}
    if weight is not None:
        out["weight"] = weight
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
        "invalid-backends-answer-500",
        [
            route("empty", rule("svc-empty", matches=[path("PathPrefix", "/empty")])),
            route("tcp", rule("svc-tcp", matches=[path("PathPrefix", "/tcp")])),
        ],
        [Expect("/empty", status=500), Expect("/tcp", status=500), Expect("/other", status=404)],
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


def test_an_invalid_backend_gets_500_in_proportion(lab: InProcessLab) -> None:
    lab.apply(dump(route("r", rule(("echo-a", 1), ("svc-empty", 1)))))
    codes = Counter(lab.request("/p").status_code for _ in range(100))
    assert set(codes) == {200, 500} and 25 <= codes[500] <= 75, codes


def test_all_zero_weights_answer_500(lab: InProcessLab, tmp_path: Path) -> None:
    # validation refuses this rule, so it is put in the gateway's table directly
    bad = tmp_path / "zero.yaml"
    bad.write_text(dump(route("zero", rule(("echo-a", 0), ("echo-b", 0)))))
    routing = lab.server.gateway.routing
    lab.server.gateway.swap(Routing({8443: RouteTable(load([bad]))}, routing.endpoints))
    response = lab.request("/z")
    assert response.status_code == 500 and "weight 0" in response.text


def test_invalid_apply_changes_nothing(lab: InProcessLab) -> None:
    from lab.spec.validation import InvalidPlan

    lab.apply(dump(route("r", rule("echo-a"))))
    with pytest.raises(InvalidPlan):
        lab.apply(dump(route("r", rule("no-such-service"))))
    assert deployment_of(answered_by(lab.request("/").text)) == "echo-a"
