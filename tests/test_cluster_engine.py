"""Contract tests of `--engine cluster` (issue 14): many attendees on one shared fake cluster.

The fake API server validates against the real v0.4.0 CRDs and models consul-api-gateway v0.1.0-beta
(tests/fakes/cluster_model.py); each attendee's gateway pod serves HTTPS with a certificate from a
test CA and is reached only through the API server's port-forward endpoint (websocket,
v4.channel.k8s.io), by the lab's port-forward helper process.
"""

from __future__ import annotations

import base64
import re
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lab import lifecycle
from lab.engines.base import EngineOptions
from lab.engines.kube.cluster import ClusterEngine
from lab.engines.kube.record import KubeRecord
from lab.engines.kube.tunnel import HELPER
from lab.errors import EnvironmentNotReady, ExitCode
from lab.spec.plan import Plan, make_plan
from lab.spec.registry import LabDir
from lab.state import LabState, StateDir
from lab.traffic.check import CheckOptions, CheckResult, run_check
from tests.conftest import ROOT
from tests.fakes.world import FAST, World


def plan(name: str = "canary-99-1") -> Plan:
    return make_plan(LabDir(ROOT), name)


def up(engine: ClusterEngine, p: Plan | None = None) -> tuple[LabState, list[str]]:
    p = p or plan()
    messages: list[str] = []
    start = LabState.starting("cluster", p.scenario.name, p.first.step.name, str(p.lab_dir.root))
    state = engine.up(start, p, p.first, messages.append, engine.options.state.write)
    state = state.running()
    engine.options.state.write(state)
    return state, messages


def check(state: LabState, p: Plan | None = None) -> CheckResult:
    p = p or plan()
    return run_check(state, p.first, p.scenario.name, CheckOptions(workers=4))


def api_writes(world: World) -> list[dict[str, Any]]:
    return [e for e in world.calls("api") if e["method"] in ("PATCH", "POST", "DELETE")]


@pytest.fixture
def shared(world: World) -> World:
    world.use_kubeconfig()
    world.engines_in_virtual_time()
    return world


def attendee_options(world: World, name: str) -> EngineOptions:
    """What `lab up --engine cluster --context workshop --namespace lab-NAME --state-dir ...` passes on."""
    return EngineOptions(state=StateDir(world.tmp / f"state-{name}"), timeouts=FAST, kube_context="workshop",
                         namespace=f"lab-{name}")


def test_two_attendees_at_once_each_judged_through_their_own_port_forward_then_one_down_leaves_the_other(
    shared: World,
) -> None:
    world = shared
    world.install_consul_by_someone()
    results: dict[str, Any] = {}
    with world.kube.lock:
        consul_ca = world.kube.cluster.get("Secret", "consul", "consul-ca-cert")

    def attendee(name: str) -> None:
        """`lab up canary-99-1 --engine cluster`, then `lab check` (the lab found again from its state)."""
        try:
            options, messages = attendee_options(world, name), []
            lifecycle.up(plan(), lifecycle.choose_engine("cluster"), options, messages.append)
            state = lifecycle.running(options)
            results[name] = (options, state, messages, check(state))
        except BaseException as exc:  # reported below
            results[name] = exc

    threads = [threading.Thread(target=attendee, args=(n,)) for n in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for name in ("alice", "bob"):
        assert not isinstance(results[name], BaseException), results[name]
        _, state, messages, result = results[name]
        assert result.outcome.exit_code == ExitCode.OK, result
        (judged,) = result.checks
        assert judged.verdict.n > 0 and judged.url.startswith(f"https://localhost:{state.ports[8443]}/")
        assert state.gateway_host == "localhost" and state.ports[8443] != 8443  # a local port of its own
        # TLS verified against the cluster's Consul CA (consul/consul-ca-cert), whose certificate names localhost
        assert Path(state.ca_file).read_bytes() == base64.b64decode(consul_ca["data"]["tls.crt"])
        record = state.record
        assert isinstance(record, KubeRecord) and record.tunnel is not None
        assert record.namespace == f"lab-{name}" and record.namespaces_created == (f"lab-{name}",)
        assert any("reusing the Consul in namespace consul" in m for m in messages)
        # the answers came from this attendee's own pods, through its own gateway pod
        (gateway,) = world.gateway_pods(f"lab-{name}")
        assert set(gateway.namespaces) == {f"lab-{name}"} and gateway.hits >= judged.verdict.n
    assert results["alice"][1].ports[8443] != results["bob"][1].ports[8443]
    assert world.argv("helm") == []  # the cluster's Consul, reused by both
    # every request went through the API server's port-forward endpoint (no host port exists)
    forwards = [e["path"] for e in world.calls("api") if e["path"].endswith("/portforward?ports=8443")]
    assert any("/namespaces/lab-alice/pods/" in p for p in forwards)
    assert any("/namespaces/lab-bob/pods/" in p for p in forwards)
    assert world.gateway_server is None
    # each attendee has its own GatewayClass without host ports
    with world.kube.lock:
        classes = {c["metadata"]["name"] for c in world.kube.cluster.of_kind("GatewayClass")}
        configs = {c["metadata"]["name"]: c["spec"] for c in world.kube.cluster.of_kind("GatewayClassConfig")}
    assert {"lab-lab-alice", "lab-lab-bob"} <= classes
    # Consul OSS has one namespace: every name it sees is the attendee's own (else one echo-1 for both)
    assert {"echo-1-lab-alice", "echo-1-lab-bob"} <= set(world.kube.cluster.catalog)
    assert "echo-1" not in world.kube.cluster.catalog
    with world.kube.lock:
        gateways = {(g["metadata"]["namespace"], g["metadata"]["name"]) for g in world.kube.cluster.of_kind("Gateway")}
    assert gateways == {("lab-alice", "example-gateway-lab-alice"), ("lab-bob", "example-gateway-lab-bob")}
    assert configs["lab-lab-alice"]["useHostPorts"] is False and configs["lab-lab-alice"]["serviceType"] == "ClusterIP"

    said: list[str] = []
    lifecycle.down(results["alice"][0], said.append)  # `lab down` in alice's state folder
    with world.kube.lock:
        left = [key for key in world.kube.cluster.objects if "lab-alice" in key[2] or "lab-alice" in key[3]]
        consul_pods = [p for p in world.kube.cluster.of_kind("Pod", "consul")]
        crds = [k for k in world.kube.cluster.objects if k[1] == "customresourcedefinitions"]
    assert left == [], left
    assert consul_pods and len(crds) == 8  # Consul and the CRDs are the cluster's: left alone
    assert not any("bob" in m for m in said), said
    assert HELPER.find(results["alice"][0].state.path / "portforward.json") == []  # alice's port-forward stopped
    bob = lifecycle.running(results["bob"][0])  # `lab check` in bob's state folder: bob's lab still serves
    assert check(bob).outcome.exit_code == ExitCode.OK


def test_a_cluster_on_gateway_api_v1_without_v1alpha2_is_refused_with_exit_4_and_nothing_changes(
    shared: World,
) -> None:
    world = shared
    world.serve_gateway_api_v1()
    before = len(api_writes(world))
    for install in (False, True):
        with pytest.raises(EnvironmentNotReady) as info:
            up(world.attendee("alice", install_consul=install))
        text = str(info.value)
        assert info.value.exit_code == ExitCode.ENVIRONMENT
        assert "without v1alpha2" in text and "httproutes.gateway.networking.k8s.io (bundle v1.0.0) serves v1, v1beta1" in text
        assert "Nothing was changed" in text
    assert len(api_writes(world)) == before
    assert not any(a[0] == "upgrade" for a in world.argv("helm"))
    assert not (world.tmp / "state-alice" / "state.json").exists()


def test_an_existing_compatible_consul_is_reused_even_where_lab_may_install_one(shared: World) -> None:
    world = shared
    world.install_consul_by_someone()
    before = len(api_writes(world))
    state, messages = up(world.attendee("alice", install_consul=True))
    assert world.argv("helm") == []  # no install, no upgrade: the cluster's Consul is used as it is
    platform = [e["path"] for e in api_writes(world)[before:]
                if "/namespaces/lab-alice" not in e["path"] and "lab-lab-alice" not in e["path"]
                and not e["path"].endswith("/namespaces")]
    assert platform == []  # no CRD, no ClusterRole, nothing in Consul's namespace
    assert any("reusing the Consul in namespace consul" in m for m in messages)
    assert check(state).outcome.exit_code == ExitCode.OK


@pytest.mark.parametrize(
    ("images", "reason"),
    [
        ({"connect-injector": "hashicorp/consul-k8s-control-plane:0.39.0"},
         "the connect injector runs hashicorp/consul-k8s-control-plane:0.39.0, not hashicorp/consul-k8s-control-plane:0.40.0"),
        ({"api-gateway-controller": ""}, "no API gateway controller (apiGateway.enabled is off)"),
        ({"api-gateway-controller": "hashicorp/consul-api-gateway:0.2.0"},
         "the API gateway controller runs hashicorp/consul-api-gateway:0.2.0, not hashicorp/consul-api-gateway:0.1.0-beta"),
        ({"connect-injector": ""}, "no connect-injector Deployment (connectInject.enabled is off)"),
    ],
)
def test_an_incompatible_consul_is_refused_with_exit_4_and_nothing_changes(
    shared: World, images: dict[str, str], reason: str
) -> None:
    world = shared
    world.install_consul_by_someone(**images)
    before = len(api_writes(world))
    with pytest.raises(EnvironmentNotReady) as info:
        up(world.attendee("alice", install_consul=True))
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert reason in str(info.value) and "Nothing was changed" in str(info.value)
    assert world.argv("helm") == [] and len(api_writes(world)) == before


def test_without_consul_an_attendee_is_told_the_host_prepares_the_cluster(shared: World) -> None:
    with pytest.raises(EnvironmentNotReady) as info:
        up(shared.attendee("alice"))
    assert "lab cluster prepare" in str(info.value) and "Nothing was changed" in str(info.value)
    assert api_writes(shared) == []


def test_install_consul_installs_the_platform_once_in_its_namespace(shared: World) -> None:
    world = shared
    state, alice = up(world.attendee("alice", install_consul=True))
    assert [m for m in alice if m.startswith("namespace: ")] == ["namespace: creating lab-alice"]
    upgrade = next(a for a in world.argv("helm") if a[0] == "upgrade")
    assert upgrade[upgrade.index("--namespace") + 1] == "consul"
    values = next(e for e in world.calls("helm") if e["argv"][0] == "upgrade")["stdin"]
    assert values["apiGateway"]["managedGatewayClass"]["useHostPorts"] is False
    with world.kube.lock:
        bindings = [b for b in world.kube.cluster.of_kind("ClusterRoleBinding")]
        crds = [o for k, o in world.kube.cluster.objects.items() if k[1] == "customresourcedefinitions"]
    assert {s["namespace"] for b in bindings for s in b["subjects"]} == {"consul"}
    assert all(c["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "lab" for c in crds)
    assert check(state).outcome.exit_code == ExitCode.OK
    # the second attendee reuses it
    before = len(world.argv("helm"))
    _, bob = up(world.attendee("bob", install_consul=True))
    assert not any(a[0] == "upgrade" for a in world.argv("helm")[before:])
    assert any("reusing the Consul" in m for m in bob)
    assert [m for m in bob if m.startswith("namespace: ")] == ["namespace: creating lab-bob"]


def test_every_object_carries_the_run_id_and_down_never_deletes_another_runs(shared: World) -> None:
    world = shared
    world.install_consul_by_someone()
    configmaps = world.kube.find("", "v1", "configmaps")
    with world.kube.lock:  # the host made the attendee's namespace, and something else lives there
        world.kube.apply(world.kube.find("", "v1", "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": "lab-alice"}})
        world.kube.apply(configmaps, "lab-alice", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "theirs", "namespace": "lab-alice",
            "labels": {"app.kubernetes.io/managed-by": "lab", "lab.gateway-lab.dev/run-id": "other"}}})
    engine = world.attendee("alice")
    state, messages = up(engine)
    assert any("using lab-alice (lab will not delete it)" in m for m in messages)
    with world.kube.lock:
        # lab's objects: not pods, events or the controller's gateway Deployment, and not theirs
        mine = [o for k, o in world.kube.cluster.objects.items()
                if k[2] == "lab-alice" and k[1] not in ("pods", "events") and k[3] != "theirs"
                and "api-gateway.consul.hashicorp.com/managed" not in (o["metadata"].get("labels") or {})]
        own_class = world.kube.cluster.get("GatewayClass", "", "lab-lab-alice")
    assert mine and own_class is not None
    assert all(
        o["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "lab"
        and o["metadata"]["labels"]["lab.gateway-lab.dev/run-id"] == state.run_id
        for o in [*mine, own_class]
    )
    said: list[str] = []
    world.monkeypatch.delenv("KUBECONFIG")  # `lab down` from another shell: the recorded kubeconfig is used
    engine.down(state, said.append)
    with world.kube.lock:
        left = [k for k in world.kube.cluster.objects if k[2] == "lab-alice" and k[1] not in ("pods", "events")]
        assert world.kube.cluster.get("GatewayClass", "", "lab-lab-alice") is None
        assert world.kube.cluster.get("Namespace", "", "lab-alice") is not None  # not lab's to delete
    assert left == [("", "configmaps", "lab-alice", "theirs")]
    assert any("left running in namespace consul" in m for m in said)


def test_the_port_forward_helper_is_restarted_when_it_drops_and_down_stops_it(shared: World) -> None:
    import os
    import signal

    from lab.engines import processes

    world = shared
    world.install_consul_by_someone()
    engine = world.attendee("alice")
    state, _ = up(engine)
    record = state.record
    assert isinstance(record, KubeRecord) and record.tunnel is not None
    os.kill(record.tunnel.pid, signal.SIGKILL)
    processes.stop(processes.Running(record.tunnel.pid, record.tunnel.started), 5, 0.02)
    liveness = engine.alive(state)
    assert liveness.alive and "restarted" in liveness.detail
    assert check(state).outcome.exit_code == ExitCode.OK  # the same local port, through the new helper
    engine.down(state, lambda m: None)
    assert engine.tunnel.found() == []


def test_gateway_url_and_ca_reach_an_exposed_gateway_without_a_port_forward(shared: World) -> None:
    world = shared
    world.install_consul_by_someone()
    world.start_gateway()  # a gateway the cluster exposes itself (a LoadBalancer) on this port
    ca = world.tmp / "test-ca" / "ca.pem"
    engine = world.attendee("alice", gateway_url=f"https://localhost:{world.gateway_port}", ca_file=ca)
    state, _ = up(engine)
    assert state.ports == {8443: world.gateway_port} and state.ca_file == str(ca)
    assert isinstance(state.record, KubeRecord) and state.record.tunnel is None
    assert engine.tunnel.found() == []
    assert check(state).outcome.exit_code == ExitCode.OK


def test_switching_a_running_lab_to_a_scenario_with_a_team_namespace(shared: World) -> None:
    world = shared
    world.install_consul_by_someone()
    engine = world.attendee("alice")
    state, _ = up(engine)
    tunnel = state.record.tunnel if isinstance(state.record, KubeRecord) else None
    cross = plan("cross-namespace")
    said: list[str] = []
    state = engine.switch(state, cross, cross.first, said.append, engine.options.state.write)
    engine.options.state.write(state)
    assert check(state, cross).outcome.exit_code == ExitCode.OK
    assert isinstance(state.record, KubeRecord) and state.record.tunnel == tunnel  # the same port-forward
    with world.kube.lock:
        team = world.kube.cluster.get("Namespace", "", "lab-alice-team-a")
        policy = world.kube.cluster.of_kind("ReferencePolicy", "lab-alice")
    assert team is not None and team["metadata"]["labels"]["lab.gateway-lab.dev/run-id"] == state.run_id
    assert policy and policy[0]["spec"]["from"][0]["namespace"] == "lab-alice-team-a"
    engine.down(state, said.append)
    with world.kube.lock:
        assert world.kube.cluster.get("Namespace", "", "lab-alice-team-a") is None


def test_the_port_forward_follows_a_gateway_pod_that_was_replaced(shared: World) -> None:
    import requests

    world = shared
    world.install_consul_by_someone()
    engine = world.attendee("alice")
    state, _ = up(engine)
    with world.kube.lock:  # the gateway pod dies; its Deployment makes another one, with another name
        (old,) = [p for p in world.kube.cluster.of_kind("Pod", "lab-alice") if "example-gateway" in p["metadata"]["name"]]
        world.kube.cluster.objects.pop(world.kube.cluster.key("Pod", "lab-alice", old["metadata"]["name"]))
        labels = dict(old["metadata"]["labels"])
        world.kube.cluster.start_pod("lab-alice", "example-gateway-lab-alice-new-x1", labels, {}, "envoy",
                                     "example-gateway-lab-alice", [{"containerPort": 8443}])
    world.sleep(2)
    with world.kube.lock:
        world.kube.clock.due()
    url = state.gateway_url(8443, "/echo")
    answers = []
    for _ in range(3):
        try:
            answers.append(requests.get(url, verify=state.ca_file, timeout=5).status_code)
        except requests.ConnectionError:
            answers.append(0)  # the stream to the dead pod: the helper looks the pod up again
    assert answers == [0, 200, 200], answers  # one connection lost to the dead pod, then the new one
    log = (engine.state_path / "portforward.log").read_text()
    assert f"port-forward to lab-alice/{old['metadata']['name']}:8443 failed" in log
    engine.down(state, lambda m: None)


def test_crds_someone_else_installed_are_used_as_they_are_unless_force_crds(shared: World) -> None:
    from lab.engines.base import EngineOptions
    from lab.engines.kube.cluster import prepare
    from lab.state import StateDir
    from tests.fakes.world import FAST

    world = shared
    world.install_consul_by_someone()  # with its own copy of the v0.4.0 CRDs, not marked as lab's

    def crd_patches() -> list[str]:
        return [e["path"] for e in world.calls("api") if e["method"] == "PATCH" and "customresourcedefinitions" in e["path"]]

    options = EngineOptions(state=StateDir(world.tmp / "host"), timeouts=FAST, kube_context="workshop")
    said: list[str] = []
    assert prepare(options, plan(), said.append, sleep=world.sleep, clock=world.clock.now) == []
    assert crd_patches() == []
    assert any("not installed by lab; --force-crds replaces it" in m for m in said)
    forced = replace(options, force_crds=True)
    done = prepare(forced, plan(), said.append, sleep=world.sleep, clock=world.clock.now)
    assert len(crd_patches()) == 8 and done and done[0].startswith("CRDs ")
    with world.kube.lock:
        crds = [o for k, o in world.kube.cluster.objects.items() if k[1] == "customresourcedefinitions"]
    assert all(c["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "lab" for c in crds)


def test_crds_lab_installed_under_another_pin_are_replaced_and_its_current_ones_left(shared: World) -> None:
    from lab.engines.base import EngineOptions
    from lab.engines.kube.cluster import prepare
    from lab.state import StateDir
    from tests.fakes.world import FAST

    world = shared
    options = EngineOptions(state=StateDir(world.tmp / "host"), timeouts=FAST, kube_context="workshop")
    said: list[str] = []
    first = prepare(options, plan(), said.append, sleep=world.sleep, clock=world.clock.now)
    assert first[0].startswith("CRDs ") and first[0].count(".") >= 8  # all eight, on an empty cluster
    stale = "httproutes.gateway.networking.k8s.io"
    with world.kube.lock:  # lab's own copy from an older pin of lab
        crd = world.kube.cluster.get("CustomResourceDefinition", "", stale)
        crd["metadata"]["annotations"]["lab.gateway-lab.dev/pin"] = "0" * 64
    before = len(api_writes(world))
    again = prepare(options, plan(), said.append, sleep=world.sleep, clock=world.clock.now)
    assert again == [f"CRDs {stale}"]
    assert [e["path"].split("?")[0].rsplit("/", 1)[-1] for e in api_writes(world)[before:]] == [stale]


def test_the_fake_api_server_records_stored_versions_and_refuses_a_crd_that_drops_one(shared: World) -> None:
    """apiextensions-apiserver strategy.go PrepareForCreate/PrepareForUpdate append the storage version to
    status.storedVersions; validation refuses a spec.versions without one of them (what makes --force-crds
    unable to replace Gateway API v1 CRDs, and v1 CRDs unable to replace v0.4.0 ones)."""
    world = shared
    world.install_consul_by_someone()  # v0.4.0 CRDs: v1alpha2 stored
    with world.kube.lock:
        crd = world.kube.cluster.get("CustomResourceDefinition", "", "httproutes.gateway.networking.k8s.io")
    assert crd["status"]["storedVersions"] == ["v1alpha2"]
    with pytest.raises(AssertionError, match=re.escape('status.storedVersions[0]: Invalid value: "v1alpha2"')):
        world.serve_gateway_api_v1()


def test_the_gateway_serves_only_with_the_certificate_copied_into_the_attendees_namespace(
    shared: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Gateway's certificateRefs name consul-server-cert in its own namespace; consul-api-gateway
    v0.1.0-beta resolves it there, and without it Envoy has no certificate for the listener."""
    from lab.engines.kube.tenancy import Tenancy
    from lab.errors import NotConverged

    world = shared
    world.install_consul_by_someone()
    own = Tenancy.own_objects
    monkeypatch.setattr(Tenancy, "own_objects", lambda *a: [d for d in own(*a) if d["kind"] != "Secret"])
    engine = world.attendee("alice")
    with pytest.raises(NotConverged) as info:
        up(engine)
    assert info.value.exit_code == ExitCode.NOT_CONVERGED
    with world.kube.lock:
        (gateway,) = world.kube.cluster.of_kind("Gateway", "lab-alice")
    (listener,) = gateway["status"]["listeners"]
    resolved = {c["type"]: c for c in listener["conditions"]}["ResolvedRefs"]
    assert (resolved["status"], resolved["reason"], resolved["message"]) == (
        "False", "InvalidCertificateRef", "certificate not found"
    )
    engine.down(None, lambda m: None)


def test_a_second_lab_in_a_namespace_another_run_uses_is_refused_and_changes_nothing(shared: World) -> None:
    """Workshop machines often share one user name (ubuntu, student): the default namespaces collide."""
    world = shared
    world.install_consul_by_someone()
    alice, _ = up(world.attendee("alice", namespace="lab-ubuntu"))
    before = len(api_writes(world))
    with pytest.raises(EnvironmentNotReady) as info:
        up(world.attendee("bob", namespace="lab-ubuntu"))
    text = " ".join(str(info.value).split())
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert f"namespace lab-ubuntu is used by another lab (run {alice.run_id})" in text and "--namespace" in text
    assert "Nothing was changed" in text
    assert len(api_writes(world)) == before and not (world.tmp / "state-bob" / "state.json").exists()
    assert check(alice).outcome.exit_code == ExitCode.OK  # the first lab still serves
    with world.kube.lock:  # a GatewayClass of that name lab did not make is not taken over either
        world.kube.apply(world.kube.find("gateway.networking.k8s.io", "v1alpha2", "gatewayclasses"), "", {
            "apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "GatewayClass",
            "metadata": {"name": "lab-lab-carol"}, "spec": {"controllerName": "example.net/other"}})
    with pytest.raises(EnvironmentNotReady) as info:
        up(world.attendee("carol"))
    assert "namespace lab-carol is used by something else: GatewayClass lab-lab-carol" in " ".join(str(info.value).split())
