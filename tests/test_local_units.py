"""Pure pieces of the embedded engine: lab CA reuse, pod naming, engine factory, port owner."""

from __future__ import annotations

import os
import random
import socket
import stat
from pathlib import Path

import pytest

from lab.engines import create
from lab.engines.base import EngineOptions
from lab.engines.local.engine import LocalEngine
from lab.engines.local.pki import ensure_tls
from lab.engines.local.ports import free_port, owner
from lab.engines.local.workloads import K8S_ALPHABET, not_emulated, plan_pods, plan_services
from lab.errors import EnvironmentNotReady
from lab.spec.manifests import load
from lab.spec.topology import Topology
from lab.state import StateDir
from lab.timeouts import DEFAULT

ROOT = Path(__file__).resolve().parent.parent


def test_lab_ca_is_made_once_private_and_reused(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    first = ensure_tls(state)
    for key in ("ca-key.pem", "server-key.pem"):
        assert stat.S_IMODE(os.stat(tmp_path / key).st_mode) == 0o600
    ca = first.ca_file.read_bytes()
    second = ensure_tls(state)
    assert second.ca_file.read_bytes() == ca
    assert b"BEGIN CERTIFICATE" in second.cert_file.read_bytes()


def test_pods_are_named_like_kubernetes_and_kept_when_unchanged() -> None:
    topo = Topology(load([ROOT / "manifests" / "base"]))
    rng = random.Random(3)
    pods = plan_pods(topo, rng)
    names = {p.deployment: p.name for p in pods}
    assert "postgres" not in names  # tcp: not run
    for dep, name in names.items():
        prefix, template_hash, suffix = name[: len(dep)], *name[len(dep) + 1 :].split("-")
        assert prefix == dep and len(template_hash) == 10 and len(suffix) == 5
        assert set(template_hash + suffix) <= set(K8S_ALPHABET)
    assert plan_pods(topo, rng, pods) == pods
    services = {s.name: s.pods for s in plan_services(topo, pods)}
    assert services["echo-1"] == (names["echo-1"],) and "postgres" not in services
    refs = {n.ref for n in not_emulated(topo)}
    assert {"service/postgres -n default", "serviceintentions/public-api -n default"} <= refs
    assert "service/echo-1 -n default" not in refs


def test_filters_the_gateway_does_not_apply_are_listed_as_not_emulated(tmp_path: Path) -> None:
    """Issue 13 item 6: HTTPBackendRef.filters were accepted and silently ignored."""
    route = tmp_path / "route.yaml"
    header = "{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: a, value: '1'}]}}"
    mirror = "{type: RequestMirror, requestMirror: {backendRef: {name: echo-2, port: 8090}}}"
    route.write_text(
        "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: HTTPRoute\nmetadata: {name: r}\n"
        f"spec:\n  parentRefs: [{{name: example-gateway}}]\n  rules:\n  - filters: [{mirror}]\n"
        f"    backendRefs:\n    - {{name: echo-1, port: 8080, filters: [{header}, {mirror}]}}\n"
    )
    topo = Topology(load([ROOT / "manifests" / "base", route]))
    reasons = sorted(n.reason for n in not_emulated(topo) if n.ref == "httproute/r -n default")
    assert reasons == [
        "rules[0].backendRefs[0].filters[1] RequestMirror: filter not emulated (ignored)",
        "rules[0].filters[0] RequestMirror: filter not emulated (ignored)",
    ]


def test_what_routing_reads_is_not_listed_as_not_emulated() -> None:
    """A ReferencePolicy decides RefNotPermitted and Namespace labels decide allowedRoutes selectors."""
    manifests = ROOT / "manifests"
    topo = Topology(
        load(
            [
                manifests / "base",
                manifests / "cross-namespace" / "gateway.yaml",
                manifests / "cross-namespace" / "team-a.yaml",
            ]
        )
    )
    kinds = {n.ref.split("/")[0] for n in not_emulated(topo)}
    assert kinds.isdisjoint({"referencepolicy", "namespace"}), kinds
    assert "serviceaccount" in kinds


def test_engine_factory(tmp_path: Path) -> None:
    options = EngineOptions(state=StateDir(tmp_path), timeouts=DEFAULT)
    assert isinstance(create("local", options), LocalEngine)
    try:
        import lab.engines.kube.engine  # noqa: F401
    except ImportError:
        with pytest.raises(EnvironmentNotReady, match="kind engine is not available"):
            create("kind", options)


def test_port_owner_names_the_listening_process() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert f"(pid {os.getpid()})" in (owner(port) or "")
