"""`--engine cluster` after `lab up`: what `lab status` lists, and `lab down` when the API server fails."""

from __future__ import annotations

from typing import Any

import pytest

from lab.engines.kube.cluster import ClusterEngine
from lab.errors import LabError, NotConverged
from lab.state import LabState
from tests.fakes.world import World
from tests.test_cluster_engine import up


@pytest.fixture
def alice(world: World) -> tuple[ClusterEngine, LabState]:
    world.use_kubeconfig()
    world.engines_in_virtual_time()
    world.install_consul_by_someone()
    engine = world.attendee("alice")
    state, _ = up(engine)
    return engine, state


def test_status_lists_namespace_gateway_ca_consul_then_the_gateway_and_routes(
    alice: tuple[ClusterEngine, LabState],
) -> None:
    engine, state = alice
    rows = engine.status(state)
    assert [(r.component, r.state) for r in rows] == [
        ("namespace", "lab-alice"),
        ("gateway", "port-forward"),
        ("CA bundle", ""),
        ("Consul", "ok"),
        ("Gateway lab-alice/example-gateway-lab-alice", "ok"),
        ("HTTPRoute lab-alice/example-route-1", "ok"),
        ("HTTPRoute lab-alice/example-route-2", "ok"),
    ]
    assert rows[0].detail == "context workshop"
    assert rows[1].detail == f"https://localhost:{state.ports[8443]}/ -> gateway pod port 8443"
    assert rows[2].detail == str(engine.state_path / "ca.pem")
    assert rows[3].detail.startswith(
        "namespace consul: api-gateway-controller: hashicorp/consul-api-gateway:0.1.0-beta"
    )
    assert rows[3].detail.endswith(" (the cluster's, shared)")
    assert [r.detail for r in rows[4:]] == ["Ready=True reason=Ready", "Accepted", "Accepted"]


def test_status_when_the_api_server_does_not_answer(
    alice: tuple[ClusterEngine, LabState], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, state = alice

    def unreachable(*args: Any) -> Any:
        raise NotConverged("the API server does not answer")

    monkeypatch.setattr(engine, "_reach", unreachable)
    rows = engine.status(state)
    assert [r.component for r in rows] == ["namespace", "gateway", "CA bundle", "API server"]
    assert (rows[-1].state, rows[-1].detail) == ("down", "the API server does not answer")


def test_down_without_a_state_only_stops_the_helper_and_clears_the_files(
    alice: tuple[ClusterEngine, LabState], world: World
) -> None:
    engine, _ = alice
    assert (engine.state_path / "ca.pem").is_file()
    world.log.write_text("")
    said: list[str] = []
    engine.down(None, said.append)
    assert [m for m in said if not m.startswith("port-forward helper")] == []
    assert [e for e in world.calls("api") if e["method"] == "DELETE"] == []
    assert (
        not (engine.state_path / "ca.pem").exists()
        and not (engine.state_path / "kube-discovery.json").exists()
    )
    assert engine.tunnel.found() == []


def test_down_keeps_going_after_a_failure_and_raises_the_first(
    alice: tuple[ClusterEngine, LabState], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, state = alice

    def unreachable(*args: Any) -> Any:
        raise NotConverged("the API server does not answer")

    monkeypatch.setattr(engine, "_reach", unreachable)
    said: list[str] = []
    with pytest.raises(LabError, match=r"^the API server does not answer$"):
        engine.down(state, said.append)
    assert said[-1] == (
        "consul: left running in namespace consul (the cluster's, shared by every attendee); the CRDs stay too"
    )
    assert not any(m.startswith("delete: ") for m in said)
    assert not (engine.state_path / "ca.pem").exists()  # the files go all the same
    assert engine.tunnel.found() == []


def test_a_running_lab_is_alive_and_a_stopped_helper_shows_in_status(
    alice: tuple[ClusterEngine, LabState],
) -> None:
    import os
    import signal

    from lab.engines import processes
    from lab.engines.kube.record import KubeRecord

    engine, state = alice
    assert engine.alive(state).alive and engine.alive(state).detail == ""
    record = state.record
    assert isinstance(record, KubeRecord) and record.tunnel is not None
    os.kill(record.tunnel.pid, signal.SIGKILL)
    processes.stop(processes.Running(record.tunnel.pid, record.tunnel.started), 5, 0.02)
    gateway = next(r for r in engine.status(state) if r.component == "gateway")
    assert gateway.state == "stopped"


def test_status_of_a_gateway_the_cluster_exposes_itself(world: World) -> None:
    world.use_kubeconfig()
    world.engines_in_virtual_time()
    world.install_consul_by_someone()
    world.start_gateway()
    ca = world.tmp / "test-ca" / "ca.pem"
    engine = world.attendee("alice", gateway_url=f"https://localhost:{world.gateway_port}", ca_file=ca)
    state, _ = up(engine)
    assert engine.alive(state).alive
    gateway = next(r for r in engine.status(state) if r.component == "gateway")
    assert (gateway.state, gateway.detail) == ("given", f"https://localhost:{world.gateway_port}/")


def test_down_says_each_object_it_deletes_routes_first_cluster_scoped_without_a_namespace(
    alice: tuple[ClusterEngine, LabState],
) -> None:
    engine, state = alice
    said: list[str] = []
    engine.down(state, said.append)
    deletes = [m for m in said if m.startswith("delete: ")]
    assert deletes[:3] == [
        "delete: HTTPRoute lab-alice/example-route-1",
        "delete: HTTPRoute lab-alice/example-route-2",
        "delete: Gateway lab-alice/example-gateway-lab-alice",
    ]
    assert "delete: GatewayClass lab-lab-alice" in deletes
    assert "delete: GatewayClassConfig lab-lab-alice" in deletes
    assert deletes[-1] == "delete: Namespace lab-alice (lab created it)"


def test_status_marks_a_route_the_controller_has_not_accepted_as_a_problem(
    alice: tuple[ClusterEngine, LabState], world: World
) -> None:
    engine, state = alice
    with world.kube.lock:
        route = world.kube.cluster.get("HTTPRoute", "lab-alice", "example-route-1")
        assert route is not None
        route["status"] = {}
    rows = {r.component: r for r in engine.status(state)}
    row = rows["HTTPRoute lab-alice/example-route-1"]
    assert (row.state, row.detail) == ("problem", "no status.parents yet (the controller has not bound the route)")


def test_status_surveys_the_consul_namespace_lab_up_was_given_even_from_a_shell_without_it(world: World) -> None:
    world.use_kubeconfig()
    world.engines_in_virtual_time()
    world.install_consul_by_someone(namespace="platform")
    state, _ = up(world.attendee("alice", consul_namespace="platform"))
    later = world.attendee("alice")  # `lab status` in a new shell: no --consul-namespace
    consul = next(r for r in later.status(state) if r.component == "Consul")
    assert consul.state == "ok"
    assert consul.detail.startswith("namespace platform: api-gateway-controller: hashicorp/consul-api-gateway:0.1.0-beta")
