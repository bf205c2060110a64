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
    writes = [e for e in shared.calls("api") if e["method"] in ("PATCH", "POST", "DELETE")]
    for extra in ((), ("--force-crds",)):  # --force-crds cannot replace CRDs whose stored version would go
        code, out = run("up", "canary-99-1", "--engine", "cluster", "--context", "workshop", "--install-consul",
                        *extra, "--state-dir", str(tmp_path / "s"))
        assert code == 4, out
        assert "without v1alpha2" in out and "Nothing was changed" in out
    assert [e for e in shared.calls("api") if e["method"] in ("PATCH", "POST", "DELETE")] == writes
    assert shared.argv("helm") == [] and not (tmp_path / "s" / "state.json").exists()


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


def test_the_default_namespace_is_derived_from_the_user_name(
    shared: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.engines.kube.tenancy import default_namespace

    assert default_namespace("Alice.Smith") == "lab-alice-smith"
    assert default_namespace("___") == "lab-attendee"
    assert default_namespace("x" * 80) == "lab-" + "x" * 59  # a DNS label: at most 63 characters
    shared.install_consul_by_someone()
    monkeypatch.setattr("getpass.getuser", lambda: "Bob_Jones")
    state_dir = str(tmp_path / "bob")
    code, out = run("up", "canary-99-1", "--engine", "cluster", "--context", "workshop", "--state-dir", state_dir)
    assert code == 0, out
    code, status = run("status", "--state-dir", state_dir, "--output", "json")
    rows = {r["component"]: r for r in json.loads(status)["rows"]}
    assert rows["namespace"]["state"] == "lab-bob-jones"
    with shared.kube.lock:
        assert shared.kube.cluster.get("Namespace", "", "lab-bob-jones") is not None
    assert run("down", "--state-dir", state_dir)[0] == 0


def test_gateway_url_with_its_ca_through_the_cli_and_each_misuse_a_usage_error(shared: World, tmp_path: Path) -> None:
    world = shared
    world.install_consul_by_someone()
    world.start_gateway()  # the cluster exposes the gateway itself (a LoadBalancer)
    ca = str(world.tmp / "test-ca" / "ca.pem")
    url = f"https://localhost:{world.gateway_port}"
    base = ("up", "canary-99-1", "--engine", "cluster", "--context", "workshop", "--state-dir", str(tmp_path / "a"))
    writes = len([e for e in world.calls("api") if e["method"] in ("PATCH", "POST", "DELETE")])
    for extra, said in (
        (("--gateway-url", url), "needs --ca FILE"),
        (("--ca", ca), "--ca is for --gateway-url"),
        (("--gateway-url", url + "/echo", "--ca", ca), "expected https://HOST[:PORT] (no path)"),
        (("--gateway-url", "ftp://localhost", "--ca", ca), "expected https://HOST[:PORT] (no path)"),
    ):
        code, out = run(*base, *extra)
        assert code == 2 and said in " ".join(out.split()), out
    assert len([e for e in world.calls("api") if e["method"] in ("PATCH", "POST", "DELETE")]) == writes
    assert not (tmp_path / "a" / "state.json").exists()
    code, out = run(*base, "--gateway-url", url, "--ca", ca)
    assert code == 0, out
    code, status = run("status", "--state-dir", str(tmp_path / "a"), "--output", "json")
    rows = {r["component"]: r for r in json.loads(status)["rows"]}
    assert rows["gateway"]["state"] == "given" and rows["gateway"]["detail"] == url + "/"
    assert rows["CA bundle"]["detail"] == ca
    assert world.gateway.hits > 0
    assert run("down", "--state-dir", str(tmp_path / "a"))[0] == 0


def doctor_seen() -> dict[str, tuple[bool, str, str]]:
    """`lab doctor --engine cluster --context workshop --namespace lab-alice`: check -> (ok, seen, fix)."""
    from lab.engines.kube import access

    return {c.name: (c.ok, c.detail, c.fix) for c in access.run(ROOT, "workshop", "lab-alice", None)}


def test_doctor_cluster_reports_the_gateway_api_and_consul_it_finds(shared: World) -> None:
    seen = doctor_seen
    empty = seen()  # a bare cluster: what the host's `lab cluster prepare` installs
    assert empty["Gateway API CRDs"][0] is False and empty["Gateway API CRDs"][1].startswith("missing: gatewayclasses.")
    assert "lab cluster prepare" in empty["Gateway API CRDs"][2]
    assert empty["Consul (consul)"][:2] == (False, "no Consul Deployments (app=consul) in namespace consul")
    shared.install_consul_by_someone(**{"api-gateway-controller": ""})
    theirs = seen()
    assert theirs["Gateway API CRDs"][:2] == (True, "v1alpha2 served (someone else's (used as they are))")
    assert theirs["Consul (consul)"][:2] == (False, "no API gateway controller (apiGateway.enabled is off)")


def test_doctor_cluster_on_gateway_api_v1_says_v1alpha2_is_not_served(shared: World) -> None:
    shared.serve_gateway_api_v1()
    v1 = doctor_seen()["Gateway API CRDs"]
    assert v1[0] is False and "httproutes.gateway.networking.k8s.io (bundle v1.0.0) serves v1, v1beta1" in v1[1]
    assert v1[1].endswith("(no v1alpha2)") and "--engine kind" in v1[2]


def test_the_port_forward_on_the_asked_port_is_restarted_by_lab_check_after_it_dropped(
    shared: World, tmp_path: Path
) -> None:
    import os
    import signal

    from lab.engines import processes
    from tests.fakes.world import free_port

    shared.install_consul_by_someone()
    port, state_dir = free_port(), str(tmp_path / "alice")
    code, out = run("up", "canary-99-1", "--engine", "cluster", "--context", "workshop", "--namespace", "lab-alice",
                    "--port", f"8443={port}", "--state-dir", state_dir)
    assert code == 0, out

    def gateway_row() -> dict[str, str]:
        _, status = run("status", "--state-dir", state_dir, "--output", "json")
        return {r["component"]: r for r in json.loads(status)["rows"]}["gateway"]

    assert gateway_row() == {"component": "gateway", "state": "port-forward",
                             "detail": f"https://localhost:{port}/ -> gateway pod port 8443"}
    runtime = json.loads((tmp_path / "alice" / "state.json").read_text())["record"]["tunnel"]
    os.kill(runtime["pid"], signal.SIGKILL)  # the helper drops
    processes.stop(processes.Running(runtime["pid"], runtime["started"]), 5, 0.02)
    assert gateway_row()["state"] == "stopped"
    code, out = run("check", "--state-dir", state_dir)
    assert code == 0, out
    assert f"port-forward to the gateway pod in lab-alice had stopped; restarted on 127.0.0.1:{port} -> port 8443" in out
    assert gateway_row()["state"] == "port-forward"  # on the same local port
    log = (tmp_path / "alice" / "portforward.log").read_text()
    assert log.count(f"forwarding 127.0.0.1:{port} -> lab-alice ") == 2  # started by lab up, then by lab check
    assert run("down", "--state-dir", state_dir)[0] == 0
