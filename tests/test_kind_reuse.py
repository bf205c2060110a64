"""The kind engine reusing a cluster it finds: the kubeconfig export, and what status says without kind."""

from __future__ import annotations

from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from tests.conftest import ROOT
from tests.fakes.world import World


def up(world: World) -> list[str]:
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    messages: list[str] = []
    world.kind_engine().up(world.start(plan), plan, plan.first, messages.append, world.journal)
    return messages


def test_a_cluster_found_without_its_kubeconfig_gets_it_exported_into_the_state_folder(world: World) -> None:
    up(world)
    kubeconfig = world.state.path / "kubeconfig"
    first = kubeconfig.read_text()
    kubeconfig.unlink()  # a fresh state folder next to the running cluster
    world.log.write_text("")
    messages = up(world)
    assert any(m.startswith("cluster: reusing kind cluster lab") for m in messages), messages
    exports = [a for a in world.argv("kind") if a[:2] == ["export", "kubeconfig"]]
    assert exports == [["export", "kubeconfig", "--name", "lab", "--kubeconfig", str(kubeconfig)]]
    assert kubeconfig.read_text() == first
    # with the kubeconfig in place, nothing is exported
    world.log.write_text("")
    up(world)
    assert not any(a[:2] == ["export", "kubeconfig"] for a in world.argv("kind"))


def test_status_without_kind_on_path_says_so(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    monkeypatch.setenv("PATH", str(world.tmp / "empty"))
    rows = world.kind_engine().status(world.start(plan))
    assert [(r.component, r.state, r.detail) for r in rows] == [("kind", "missing", "kind is not on PATH")]
