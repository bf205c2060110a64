"""Exact messages and values of the cluster engine (issue 16: mutants that survived mutmut).

Each test pins one thing a user or the port-forward helper sees: the fix of an unreachable context,
the helm message of --install-consul, the namespace the diagnostics describe, the progress line of a
namespace lab creates, the kubeconfig and request timeout the helper is started with, the name of
the GatewayClass wait, and the first line of a step that failed with an exception of the client.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lab.engines import processes
from lab.engines.kube.cluster import ClusterEngine
from lab.engines.kube.record import KubeRecord
from lab.engines.kube.tenancy import Tenancy
from lab.errors import EnvironmentNotReady, ExitCode, NotConverged
from lab.spec import pins
from lab.state import LabState
from lab.timeouts import DEFAULT
from tests.fakes.world import FAST, World, free_port
from tests.test_cluster_engine import api_writes, plan, up


@pytest.fixture
def shared(world: World) -> World:
    world.use_kubeconfig()
    world.engines_in_virtual_time()
    return world


def helper_config(state_dir: Path) -> dict[str, Any]:
    """What the port-forward helper was started with (portforward.json in the state folder)."""
    config: dict[str, Any] = json.loads((state_dir / "portforward.json").read_text())
    return config


def kubeconfig_text(server: str, context: str = "workshop") -> str:
    return (
        f"apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: {server}\n  name: shared\n"
        f"contexts:\n- context:\n    cluster: shared\n    user: me\n  name: {context}\ncurrent-context: {context}\n"
        "users:\n- name: me\n  user:\n    token: t\n"
    )


REACH_FIX = "check --context (`lab doctor --engine cluster --context C`)"


@pytest.mark.parametrize("context", ["nowhere", "refusing"])
def test_an_unreachable_context_is_environment_not_ready_with_the_doctor_fix(shared: World, context: str) -> None:
    """A context the kubeconfig does not have, and one whose API server refuses connections."""
    world = shared
    kubeconfig = world.tmp / "refusing-kubeconfig"
    kubeconfig.write_text(kubeconfig_text(f"http://127.0.0.1:{free_port()}", "refusing"))
    world.monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    engine = world.attendee("alice")
    engine.options = replace(engine.options, kube_context=context)
    with pytest.raises(EnvironmentNotReady) as info:
        up(engine)
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert info.value.fix == REACH_FIX
    assert info.value.message.startswith(
        f"cannot reach the Kubernetes API server from the default kubeconfig (context {context}): "
    )
    assert api_writes(world) == [] and not (world.tmp / "state-alice" / "state.json").exists()


def test_install_consul_without_helm_on_path_is_refused_before_anything_changes(shared: World) -> None:
    world = shared
    (world.bin / "helm").unlink()
    with pytest.raises(EnvironmentNotReady) as info:
        up(world.attendee("alice", install_consul=True))
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert info.value.message == "installing Consul needs helm, which is not on PATH"
    assert info.value.fix == pins.TOOL_INSTALL["helm"]
    assert str(info.value) == f"installing Consul needs helm, which is not on PATH\n  fix: {pins.TOOL_INSTALL['helm']}"
    assert api_writes(world) == [] and world.calls("helm") == []
    assert not (world.tmp / "state-alice" / "state.json").exists()


def diagnosed(message: str, stage: str) -> list[str]:
    """The diagnostics lines of a failed step's message (after its header line)."""
    header = f"\ndiagnostics after step {stage!r} failed:\n"
    assert header in message, message
    return message[message.index(header) + len(header):].splitlines()


def test_a_failed_up_diagnoses_the_attendees_namespace_its_pods_and_events(shared: World) -> None:
    world = shared
    world.install_consul_by_someone()
    world.kube.behaviour.unschedulable.add("echo-2")
    with pytest.raises(NotConverged) as info:
        up(world.attendee("alice"))
    lines = diagnosed(info.value.message, "apply")
    with world.kube.lock:
        pods = sorted(p["metadata"]["name"] for p in world.kube.cluster.of_kind("Pod", "lab-alice"))
    (echo_2,) = [p for p in pods if p.startswith("echo-2-")]
    assert lines[0] == "  release consul: revision 1 deployed (Install complete)"  # asked in Consul's namespace
    assert lines[1] == "  pods in lab-alice:"
    end = next(i for i, line in enumerate(lines) if line.startswith("  last "))
    assert sorted(line.split()[0].rstrip(":") for line in lines[2:end]) == pods
    assert f"    {echo_2} Pending (Unschedulable: 0/1 nodes are available: 1 Insufficient memory.), " \
        "last event FailedScheduling: 0/1 nodes are available: 1 Insufficient memory." in lines
    events = lines[end + 1:]
    assert events and {line.split()[2].split("/")[1].rstrip(":") for line in events} <= set(pods)
    assert not any("consul-server-0" in line for line in lines)  # the cluster's Consul is not the attendee's


def test_a_failed_switch_diagnoses_the_attendees_namespace_not_the_shared_consuls(shared: World) -> None:
    """The attendee's pods and events (Consul's namespace is the cluster's, maybe not theirs to read)."""
    world = shared
    world.install_consul_by_someone()
    engine = world.attendee("alice")
    state, _ = up(engine)
    for pod in world.gateway_pods("lab-alice"):
        pod.broken = True  # Envoy answers 503: the switch does not converge
    p = plan("split-50-50")
    with pytest.raises(NotConverged) as info:
        engine.switch(state, p, p.first, lambda m: None, engine.options.state.write)
    lines = diagnosed(info.value.message, "converge")
    with world.kube.lock:
        pods = sorted(p["metadata"]["name"] for p in world.kube.cluster.of_kind("Pod", "lab-alice"))
    assert lines[:2] == ["  release consul: revision 1 deployed (Install complete)", "  pods in lab-alice:"]
    assert sorted(line.split()[0].rstrip(":") for line in lines[2 : 2 + len(pods)]) == pods
    assert not any("consul-server-0" in line for line in lines)
    engine.down(state, lambda m: None)


@pytest.fixture
def alice(shared: World) -> Iterator[tuple[ClusterEngine, LabState]]:
    """Alice's lab, up on a cluster whose Consul someone else installed; taken down after the test."""
    shared.install_consul_by_someone()
    engine = shared.attendee("alice")
    state, _ = up(engine)
    yield engine, state
    engine.down(state, lambda m: None)


def test_a_switch_that_cannot_connect_fails_at_its_connect_stage(
    alice: tuple[ClusterEngine, LabState], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.engines.kube.steps import KubernetesLab

    engine, state = alice

    def unreachable(*args: object, **kwargs: object) -> None:
        raise NotConverged("the API server did not answer within 2 s")

    connect = KubernetesLab._connect
    monkeypatch.setattr(KubernetesLab, "_connect", unreachable)
    p = plan("split-50-50")
    with pytest.raises(NotConverged) as info:
        engine.switch(state, p, p.first, lambda m: None, engine.options.state.write)
    assert info.value.message.startswith(
        "connect: the API server did not answer within 2 s\ndiagnostics after step 'connect' failed:\n"
    ), info.value.message
    monkeypatch.setattr(KubernetesLab, "_connect", connect)  # the fixture's `lab down` connects


def test_the_restart_message_names_every_forwarded_listener(
    alice: tuple[ClusterEngine, LabState], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Gateway with two listeners (HTTPS 8443 and HTTP 8080): the restarted helper forwards both."""
    from lab.engines.kube.tunnel import TunnelRecord

    engine, state = alice
    restarted = TunnelRecord(4242, 0.0, {8443: 18443, 8080: 18080})
    monkeypatch.setattr(engine.tunnel, "alive", lambda record: False)
    monkeypatch.setattr(engine.tunnel, "found", lambda: [])
    monkeypatch.setattr(engine.tunnel, "restart", lambda: restarted)
    assert engine.alive(state).detail == (
        "port-forward to the gateway pod in lab-alice had stopped; restarted on "
        "127.0.0.1:18443 -> port 8443, 127.0.0.1:18080 -> port 8080 (pid 4242)"
    )


def kill_helper(state: Any) -> None:
    record = state.record
    assert isinstance(record, KubeRecord) and record.tunnel is not None
    os.kill(record.tunnel.pid, signal.SIGKILL)
    processes.stop(processes.Running(record.tunnel.pid, record.tunnel.started), 5, 0.02)


def test_the_port_forward_helper_reads_the_kubeconfig_lab_reads(world: World) -> None:
    """~/.kube/config when nothing else is given; $KUBECONFIG when the record names none (a restart)."""
    home = world.tmp / "home"
    assert Path(os.path.expanduser("~")) == home  # the World's HOME: the real ~/.kube/config is never read
    default = home / ".kube" / "config"
    default.parent.mkdir(parents=True)
    default.write_text(kubeconfig_text(world.kube_url))
    world.engines_in_virtual_time()
    world.install_consul_by_someone()
    engine = world.attendee("alice")
    state, _ = up(engine)  # no $KUBECONFIG: ~/.kube/config
    assert isinstance(state.record, KubeRecord) and state.record.kubeconfig is None
    assert helper_config(engine.state_path)["kubeconfig"] == str(default)
    kill_helper(state)
    given = world.tmp / "given-kubeconfig"  # `lab switch` from a shell with $KUBECONFIG
    given.write_text(kubeconfig_text(world.kube_url))
    world.monkeypatch.setenv("KUBECONFIG", str(given))
    said: list[str] = []
    p = plan()
    state = engine.switch(state, p, p.first, said.append, engine.options.state.write)
    assert "port-forward: restarting the helper (it had stopped)" in said
    assert isinstance(state.record, KubeRecord) and state.record.kubeconfig is None
    assert helper_config(engine.state_path)["kubeconfig"] == str(given)
    engine.down(state, said.append)


def test_the_port_forward_helper_gets_the_request_timeout_of_the_timeouts_table(shared: World) -> None:
    world = shared
    world.install_consul_by_someone()
    timeouts = replace(FAST, api_request=1.75)
    assert timeouts.api_request != DEFAULT.api_request
    engine = world.attendee("alice", timeouts=timeouts)
    state, _ = up(engine)
    assert helper_config(engine.state_path)["request_timeout"] == 1.75
    engine.down(state, lambda m: None)


def test_the_attendees_gateway_class_never_accepted_fails_its_named_wait(
    shared: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without its GatewayClassConfig the controller marks the class InvalidParameters
    (tests/fakes/cluster_model.py _gateway_class); no Gateway is applied on an unaccepted class."""
    world = shared
    world.install_consul_by_someone()
    own = Tenancy.own_objects
    monkeypatch.setattr(Tenancy, "own_objects", lambda *a: [d for d in own(*a) if d["kind"] != "GatewayClassConfig"])
    with pytest.raises(NotConverged) as info:
        up(world.attendee("alice"))
    assert info.value.exit_code == ExitCode.NOT_CONVERGED
    first, header = info.value.message.splitlines()[:2]
    assert first == (
        "apply: GatewayClassMustBeAccepted: GatewayClass lab-lab-alice Accepted did not happen within 2 s; "
        "last seen: Accepted=False reason=InvalidParameters gateway class not found"
    )
    assert header == "diagnostics after step 'apply' failed:"
    with world.kube.lock:
        assert world.kube.cluster.of_kind("Gateway", "lab-alice") == []


def test_a_read_the_attendee_has_no_right_to_is_exit_4_in_one_line_without_http_headers(shared: World) -> None:
    """The API server's 403 reading Consul's certificate: what was read, the server's message, the fix."""
    world = shared
    world.install_consul_by_someone()
    world.kube.denied = {("get", "", "secrets", "consul")}
    with pytest.raises(EnvironmentNotReady) as info:
        up(world.attendee("alice"))
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert type(info.value.__cause__).__name__ == "ForbiddenError"
    assert info.value.message == (
        "reading Secret consul/consul-server-cert: HTTP 403 Forbidden: "
        'secrets.core "consul-server-cert" is forbidden: User "attendee" cannot get resource "secrets" '
        'in API group "" in the namespace "consul"'
    )
    assert info.value.fix == "ask the cluster's host for the rights lab needs (`lab doctor --engine cluster` lists them)"


def test_a_step_failing_with_a_non_lab_exception_names_its_type_then_the_diagnostics(
    shared: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a LabError (a bug, or a library raising something lab does not expect): NotConverged, exit 5."""
    from lab.engines.kube.steps import KubernetesLab

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("tls.crt")

    world = shared
    world.install_consul_by_someone()
    monkeypatch.setattr(KubernetesLab, "_fetch_ca", broken)
    with pytest.raises(NotConverged) as info:
        up(world.attendee("alice"))
    assert type(info.value) is NotConverged and info.value.exit_code == ExitCode.NOT_CONVERGED
    assert type(info.value.__cause__) is KeyError
    assert info.value.message.startswith("apply: KeyError: 'tls.crt'\ndiagnostics after step 'apply' failed:\n")


@pytest.mark.parametrize(
    ("status", "reason", "error", "code"),
    [(403, "Forbidden", EnvironmentNotReady, ExitCode.ENVIRONMENT), (500, "Internal Server Error", NotConverged, ExitCode.NOT_CONVERGED)],
)
def test_an_api_refusal_while_reading_is_one_line_naming_what_was_read(
    status: int, reason: str, error: type[Exception], code: ExitCode
) -> None:
    from kubernetes.client.exceptions import ApiException
    from kubernetes.dynamic.exceptions import api_exception

    from lab.engines.kube.client import _reading

    raw = ApiException(status=status, reason=reason)
    raw.body = json.dumps({"kind": "Status", "message": "etcd is sad", "code": status})
    with pytest.raises(error) as info, _reading("Pod objects in lab-alice"):
        raise api_exception(raw)
    assert str(info.value).splitlines()[0] == f"reading Pod objects in lab-alice: HTTP {status} {reason}: etcd is sad"
    assert info.value.exit_code == code  # type: ignore[attr-defined]
