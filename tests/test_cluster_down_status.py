"""`--engine cluster` after `lab up`: what `lab status` lists and what `lab down` removes (and keeps)."""

from __future__ import annotations

from typing import Any

import pytest

from lab.errors import LabError, NotConverged
from lab.objects import ObjectKey
from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from lab.state import LabState
from tests.conftest import ROOT
from tests.fakes.world import World


def cluster_up(world: World, monkeypatch: pytest.MonkeyPatch) -> LabState:
    kc = world.tmp / "home-kubeconfig"
    kc.write_text(
        f"apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: {world.kube_url}\n  name: shared\n"
        "contexts:\n- context:\n    cluster: shared\n    user: me\n  name: workshop\ncurrent-context: other\n"
        "users:\n- name: me\n  user:\n    token: t\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kc))
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    return world.cluster_engine(kube_context="workshop").up(
        world.start(plan), plan, plan.first, lambda m: None, world.journal
    )


def deletes(world: World) -> list[str]:
    return [e["path"].split("?")[0] for e in world.calls("api") if e["method"] == "DELETE"]


def test_status_lists_consul_then_the_gateway_and_routes_in_the_labs_namespace(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = cluster_up(world, monkeypatch)
    rows = world.cluster_engine(kube_context="workshop").status(state)
    assert [(r.component, r.state) for r in rows] == [
        ("Consul", "ok"),
        ("Gateway lab/example-gateway", "ok"),
        ("HTTPRoute lab/example-route-1", "ok"),
        ("HTTPRoute lab/example-route-2", "ok"),
    ]
    assert "deployed" in rows[0].detail
    assert world.argv("kind") == []  # no cluster lifecycle, no cluster row


def test_down_deletes_what_the_lab_applied_in_reverse_then_uninstalls_consul(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = cluster_up(world, monkeypatch)
    applied = [ObjectKey.parse(str(k)) for k in state.record.objects]  # type: ignore[union-attr]
    world.log.write_text("")
    messages: list[str] = []
    engine = world.cluster_engine(kube_context="workshop")
    assert (engine.state_path / "ca.pem").is_file()
    engine.down(state, messages.append)
    kept = [k for k in reversed(applied) if k.kind != "Namespace"]
    assert [m for m in messages if m.startswith("delete: ")] == [f"delete: {k.display()}" for k in kept]
    assert len(deletes(world)) == len(kept)
    assert deletes(world)[0].endswith("/namespaces/lab/httproutes/example-route-2")
    assert not any(p.endswith("/namespaces/lab") for p in deletes(world))  # the namespace stays
    assert messages[-1] == "consul: helm uninstall consul -n lab"
    (uninstall,) = [a for a in world.argv("helm") if a[0] == "uninstall"]
    assert uninstall[1] == "consul"
    assert uninstall[uninstall.index("--namespace") + 1] == "lab"
    assert uninstall[uninstall.index("--kube-context") + 1] == "workshop"
    assert not (engine.state_path / "ca.pem").exists()


def test_down_without_a_state_only_clears_the_files(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster_up(world, monkeypatch)
    world.log.write_text("")
    engine = world.cluster_engine(kube_context="workshop")
    assert (engine.state_path / "ca.pem").is_file()
    messages: list[str] = []
    engine.down(None, messages.append)
    assert messages == [] and world.calls() == []
    assert not (engine.state_path / "ca.pem").exists()


def test_down_keeps_going_after_a_failure_and_raises_the_first(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = cluster_up(world, monkeypatch)
    world.log.write_text("")
    engine = world.cluster_engine(kube_context="workshop")

    def unreachable(*args: Any) -> Any:
        raise NotConverged("the API server does not answer")

    monkeypatch.setattr(engine, "_connect", unreachable)
    messages: list[str] = []
    with pytest.raises(LabError, match=r"^the API server does not answer$"):
        engine.down(state, messages.append)
    assert messages == ["consul: helm uninstall consul -n lab"]  # helm still ran
    assert [a[0] for a in world.argv("helm") if a[0] == "uninstall"] == ["uninstall"]
    assert not (engine.state_path / "ca.pem").exists()
