"""`--engine cluster` through the CLI: `lab cluster prepare`, `lab up/status/down`, `lab doctor --engine cluster`.

Against the fake API server; the shipped attendee RBAC (manifests/cluster/attendee-rbac.yaml) is
enforced by the fake authorizer where a test says so, to show it is all an attendee needs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lab.engines.kube.access import RBAC_MANIFEST, permissions
from lab.ui.cli import cli
from tests.conftest import ROOT
from tests.fakes.world import World


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lab-dir", str(ROOT), *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def shared(world: World) -> World:
    world.use_kubeconfig("workshop")
    world.engines_in_virtual_time()
    return world


def allow_only_the_shipped_rbac(world: World, namespace: str) -> None:
    """The fake authorizer grants this user exactly the shipped attendee roles."""
    granted = {(p.verb, p.group, p.resource, p.namespace, p.name) for p in permissions(ROOT / RBAC_MANIFEST, namespace, "consul")}

    def allowed(verb: str, group: str, resource: str, ns: str, name: str) -> bool:
        return (verb, group, resource, ns, name) in granted or (verb, group, resource, ns, "") in granted

    world.kube.allowed = allowed


def test_host_prepares_then_an_attendee_with_only_the_shipped_rbac_runs_up_status_down(
    shared: World, tmp_path: Path
) -> None:
    world = shared
    code, out = run("cluster", "prepare", "--context", "workshop")
    assert code == 0, out
    assert "installed: CRDs" in out and "Consul release consul in namespace consul" in out
    code, again = run("cluster", "prepare", "--context", "workshop")
    assert code == 0 and "installed: nothing" in again  # idempotent: everything is reused
    with world.kube.lock:  # the host applies the shipped RBAC: the attendee's namespace exists
        world.kube.apply(world.kube.find("", "v1", "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": "lab-alice"}})
    allow_only_the_shipped_rbac(world, "lab-alice")
    state_dir = str(tmp_path / "alice")
    code, out = run("up", "canary-99-1", "--engine", "cluster", "--context", "workshop", "--namespace", "lab-alice",
                    "--state-dir", state_dir)
    assert code == 0, out
    assert "PASS" in out or "match" in out.lower(), out
    code, status = run("status", "--state-dir", state_dir, "--output", "json")
    assert code == 0, status
    rows = {r["component"]: r for r in json.loads(status)["rows"]}
    assert rows["gateway"]["state"] == "port-forward" and rows["gateway"]["detail"].startswith("https://localhost:")
    assert rows["Consul"]["state"] == "ok"
    code, out = run("down", "--state-dir", state_dir)
    assert code == 0, out
    assert world.kube.refused == []


def test_without_the_port_forward_right_the_attendee_cannot_reach_the_gateway(shared: World, tmp_path: Path) -> None:
    world = shared
    world.install_consul_by_someone()
    with world.kube.lock:
        world.kube.apply(world.kube.find("", "v1", "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": "lab-alice"}})
    allow_only_the_shipped_rbac(world, "lab-alice")
    shipped = world.kube.allowed
    world.kube.allowed = lambda verb, group, resource, ns, name: resource != "pods/portforward" and shipped(
        verb, group, resource, ns, name
    )
    code, out = run("up", "canary-99-1", "--engine", "cluster", "--context", "workshop", "--namespace", "lab-alice",
                    "--state-dir", str(tmp_path / "alice"))
    assert code == 5, out
    assert ("get", "pods/portforward") in [(v, r) for v, r, _, _ in world.kube.refused]
    assert "converge" in out
    run("down", "--state-dir", str(tmp_path / "alice"))


def test_cluster_options_are_usage_errors_on_other_engines(shared: World) -> None:
    code, out = run("up", "canary-99-1", "--engine", "local", "--install-consul", "--no-check")
    assert code == 2 and "--install-consul is for --engine cluster" in out


def test_up_on_gateway_api_v1_exits_4_with_the_reason(shared: World, tmp_path: Path) -> None:
    shared.serve_gateway_api_v1()
    code, out = run("up", "canary-99-1", "--engine", "cluster", "--context", "workshop", "--install-consul",
                    "--state-dir", str(tmp_path / "s"))
    assert code == 4, out
    assert "without v1alpha2" in out and "Nothing was changed" in out


def test_doctor_cluster_names_each_rbac_gap_with_the_role_to_grant(shared: World) -> None:
    world = shared
    world.install_consul_by_someone()
    world.kube.denied = {("get", "", "pods/portforward", "lab-alice"), ("patch", "gateway.networking.k8s.io", "gatewayclasses", "")}
    code, out = run("doctor", "--engine", "cluster", "--context", "workshop", "--namespace", "lab-alice")
    assert code == 4, out
    flat = " ".join(out.split())
    assert "get pods/portforward in namespace lab-alice" in flat
    assert "patch gatewayclasses.gateway.networking.k8s.io (cluster-wide)" in flat
    assert "lab-attendee, lab-attendee-cluster" in flat and "attendee-rbac.yaml" in flat
    assert "v1.21.1" in flat and "Consul (consul)" in flat
    world.kube.denied = set()
    code, out = run("doctor", "--engine", "cluster", "--context", "workshop", "--namespace", "lab-alice")
    assert code == 0, out
    assert "every rule of" in " ".join(out.split())


def test_doctor_cluster_with_no_cluster_says_the_api_server_does_not_answer(shared: World) -> None:
    code, out = run("doctor", "--engine", "cluster", "--context", "nowhere")
    assert code == 4 and "API server" in out
