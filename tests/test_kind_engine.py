"""Contract tests of the kind engine against fake kind/helm/kubectl, a fake API server and fake Docker."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lab.errors import ChartNotFound, ChecksumMismatch, EnvironmentNotReady, ExitCode, NotConverged
from lab.spec import pins
from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from tests.conftest import ROOT
from tests.fakes.world import World

FIXTURE = Path(__file__).parent / "fixtures" / "kind_up_transcript.txt"


def plan(name: str = "canary-99-1"):  # type: ignore[no-untyped-def]
    return make_plan(LabDir(ROOT), name)


def up(world: World, name: str = "canary-99-1", **kw):  # type: ignore[no-untyped-def]
    p = plan(name)
    messages: list[str] = []
    state = world.kind_engine(**kw).up(p, p.first, messages.append)
    return state, messages


def test_full_up_order_arguments_and_transcript(world: World) -> None:
    state, messages = up(world)
    kind = world.argv("kind")
    assert kind[0] == ["get", "clusters"]
    create = next(a for a in kind if a[:2] == ["create", "cluster"])
    assert "--name=lab" in create and f"--image={pins.NODE_IMAGE}" in create
    assert f"--kubeconfig={world.state.path / 'kubeconfig'}" in create
    assert create[create.index("--config") + 1] == str(world.state.path / "kind-cluster.yaml")
    helm = world.argv("helm")
    assert helm[0] == ["version", "--template", "{{ .Version }}"]
    assert helm[1][:2] == ["show", "chart"] and helm[1][2:8] == [
        "consul",
        "--repo",
        pins.CHART_REPO_URL,
        "--version",
        "0.40.0",
        "--kubeconfig",
    ]
    upgrade = next(a for a in helm if a[0] == "upgrade")
    assert upgrade[1:3] == ["consul", "consul"]
    assert upgrade[upgrade.index("--version") + 1] == "0.40.0"
    assert upgrade[upgrade.index("--timeout") + 1] == "1m" and "--wait" in upgrade
    assert upgrade[upgrade.index("--kubeconfig") + 1] == str(world.state.path / "kubeconfig")
    values = next(e for e in world.calls("helm") if e["argv"][0] == "upgrade")["stdin"]
    assert (
        values["apiGateway"]["image"] == pins.API_GATEWAY_IMAGE and values["global"]["tls"]["enabled"] is True
    )
    # order of operations: CRDs applied and Established before helm, Gateway before routes
    seq = [(e["src"], e.get("method"), e.get("path", ""), (e.get("argv") or [""])[0]) for e in world.calls()]
    first_crd = next(i for i, s in enumerate(seq) if s[1] == "PATCH" and "customresourcedefinitions" in s[2])
    helm_up = next(i for i, s in enumerate(seq) if s[0] == "helm" and s[3] == "upgrade")
    gw = next(i for i, s in enumerate(seq) if s[1] == "PATCH" and "/gateways/" in s[2])
    route = next(i for i, s in enumerate(seq) if s[1] == "PATCH" and "/httproutes/" in s[2])
    probe = next(i for i, s in enumerate(seq) if s[0] == "gateway")
    assert first_crd < helm_up < gw < route < probe
    # every apply is server-side apply with field manager lab
    patches = [e for e in world.calls("api") if e["method"] == "PATCH"]
    assert patches and all(e["content_type"] == "application/apply-patch+yaml" for e in patches)
    assert all("fieldManager=lab&force=true" in e["path"] for e in patches)
    # the state
    assert state.engine == "kind" and state.ports == {8443: world.gateway_port}
    assert state.kubeconfig == str(world.state.path / "kubeconfig") and state.context == "kind-lab"
    assert Path(state.ca_file).read_bytes() == world.ca_pem
    assert "gateway.networking.k8s.io/HTTPRoute/default/example-route-1" in state.applied
    assert [m.split(":")[0] for m in messages] == [
        "preflight",
        "cluster",
        "crds",
        "consul",
        "consul",
        "manifests",
        "gateway",
        "routes",
        "converge",
    ]
    # nothing written outside the state folder (and the fakes' own folders)
    assert (
        not (Path.cwd() / ".pytest-kind").exists()
        or (Path.cwd() / ".pytest-kind").stat().st_mtime < time.time() - 60
    )
    assert not (world.tmp / "home" / ".kube").exists()
    # the transcript a reader can inspect
    text = world.transcript()
    if os.environ.get("LAB_UPDATE_FIXTURES") or not FIXTURE.exists():
        FIXTURE.write_text(text)
    assert text == FIXTURE.read_text(), (
        "transcript changed: rerun with LAB_UPDATE_FIXTURES=1 and review the diff"
    )


def test_up_twice_reuses_cluster_and_release(world: World) -> None:
    up(world)
    before = len(world.argv("helm"))
    _, messages = up(world)
    assert any("reusing kind cluster" in m for m in messages)
    assert sum(1 for a in world.argv("kind") if a[:2] == ["create", "cluster"]) == 1
    later = world.argv("helm")[before:]
    assert not any(a[0] == "upgrade" for a in later), later
    assert any("unchanged" in m for m in messages)


def test_docker_down_exits_4_fast_before_any_tool(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    start = time.monotonic()
    with pytest.raises(EnvironmentNotReady) as info:
        up(world)
    assert time.monotonic() - start < 5
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert "Docker" in str(info.value) and "systemctl start docker" in str(info.value)
    assert world.argv("kind") == [] and world.argv("helm") == []


def test_missing_tool_exits_4_with_install_command(world: World) -> None:
    (world.bin / "helm").unlink()
    with pytest.raises(EnvironmentNotReady) as info:
        up(world)
    assert "helm is not on PATH" in str(info.value) and "get-helm-3" in str(info.value)
    assert world.argv("kind") == []


def test_busy_host_port_exits_4(world: World) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", world.port_map[1][1]))
        s.listen()
        with pytest.raises(EnvironmentNotReady) as info:
            up(world)
    assert f"port {world.port_map[1][1]}" in str(info.value) and "lsof" in str(info.value)


def test_chart_not_found_names_what_to_check(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HELM_MODE", "chart-not-found")
    with pytest.raises(ChartNotFound) as info:
        up(world)
    text = str(info.value)
    assert info.value.exit_code == ExitCode.NOT_CONVERGED
    assert "0.40.0" in text and pins.CHART_REPO_URL in text and "lab prefetch" in text
    assert "diagnostics after step 'consul'" in text


def test_helm_failure_carries_stderr_and_diagnostics(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HELM_MODE", "install-fails")
    with pytest.raises(NotConverged) as info:
        up(world)
    assert "timed out waiting for the condition" in str(info.value)
    assert "release consul: not installed" in str(info.value)


@pytest.mark.parametrize(
    ("switch", "condition", "stage"),
    [
        ("crd_established", "CRDsMustBeEstablished", "crds"),
        ("consul_pods_ready", "ConsulPodsMustBeReady", "consul"),
        ("gateway_class_accepted", "GatewayClassMustBeAccepted", "consul"),
        ("gateway_ready", "GatewayMustBeReady", "apply"),
        ("route_accepted", "HTTPRouteMustBeAccepted", "apply"),
    ],
)
def test_each_wait_fails_with_its_name_and_diagnostics(
    world: World, switch: str, condition: str, stage: str
) -> None:
    setattr(world.kube.switches, switch, False)
    with pytest.raises(NotConverged) as info:
        up(world)
    text = str(info.value)
    assert info.value.exit_code == ExitCode.NOT_CONVERGED
    assert text.startswith(f"{stage}: {condition}:"), text
    assert f"diagnostics after step {stage!r}" in text
    assert "release consul" in text
    if stage != "crds":
        assert "consul-server-0: Running" in text and "Started container consul" in text
    assert world.sleeps and all(s == 0.05 for s in world.sleeps)
    # nothing is torn down
    assert not any(a[:2] == ["delete", "cluster"] for a in world.argv("kind"))


def test_route_never_live_fails_in_converge(world: World) -> None:
    world.gateway.serving = False
    with pytest.raises(NotConverged) as info:
        up(world)
    assert "converge:" in str(info.value) and "HTTP 503" in str(info.value)


def test_crd_checksum_mismatch_is_clear(world: World) -> None:
    name = pins.CRD_FILES[2].name
    world.kube.crd_files[name] = world.kube.crd_files[name] + b"# tampered\n"
    with pytest.raises(ChecksumMismatch) as info:
        up(world)
    assert name in str(info.value) and "sha256" in str(info.value)
    assert info.value.exit_code == ExitCode.ENVIRONMENT


def test_switch_applies_only_what_differs_and_waits_for_the_new_generation(world: World) -> None:
    state, _ = up(world)
    p = plan("split-50-50")
    world.kube.switches.route_lag_gets = 2
    world.log.write_text("")
    messages: list[str] = []
    new = world.kind_engine().switch(state, p, p.first, messages.append)
    patches = [e["path"] for e in world.calls("api") if e["method"] == "PATCH"]
    assert len(patches) == 1 and "/httproutes/example-route-1" in patches[0], patches
    route_gets = [
        e
        for e in world.calls("api")
        if e["method"] == "GET" and e["path"].endswith("/httproutes/example-route-1")
    ]
    assert len(route_gets) >= 2  # waited until observedGeneration caught up
    assert new.step == "split-50-50" and new.extra["objects"] != state.extra["objects"]
    assert any(e["src"] == "gateway" for e in world.calls())


def test_switch_deletes_routes_no_longer_wanted(world: World, lab_copy) -> None:  # type: ignore[no-untyped-def]
    state, _ = up(world)
    lab_copy.write(
        "scenarios/only_echo.py",
        "from lab import Scenario, Traffic\nSCENARIO = Scenario(name='only-echo', summary='one route', "
        "manifests=('routes/only-echo.yaml',), traffic=(Traffic(path='/echo'),))\n",
    )
    text = (ROOT / "manifests/routes/canary-99-1.yaml").read_text().split("---")[0]
    lab_copy.write("manifests/routes/only-echo.yaml", text)
    p = make_plan(LabDir(lab_copy.root), "only-echo")
    world.log.write_text("")
    new = world.kind_engine().switch(state, p, p.first, lambda m: None)
    deletes = [e["path"] for e in world.calls("api") if e["method"] == "DELETE"]
    assert deletes == [
        "/apis/gateway.networking.k8s.io/v1alpha2/namespaces/default/httproutes/example-route-2"
    ]
    assert "gateway.networking.k8s.io/HTTPRoute/default/example-route-2" not in new.applied


def test_offline_up_uses_the_prefetch_cache(world: World) -> None:
    from lab.engines.kube import prefetch

    messages: list[str] = []
    prefetch.prefetch(
        world.cache, messages.append, helm_path=str(world.bin / "helm"), timeouts=world.options().timeouts
    )
    assert (world.cache / "charts" / "consul-0.40.0.tgz").is_file()
    assert set(prefetch.images()) <= {
        i.replace("kindest/node@", "kindest/node:v1.21.1@") for i in world.docker.images
    } | set(world.docker.images) or len(world.docker.images) == len(prefetch.images())
    world.kube.crd_files.clear()  # "no network": the CRD URLs now answer 404
    world.log.write_text("")
    state, _ = up(world)
    loads = [a for a in world.argv("kind") if a[:2] == ["load", "docker-image"]]
    assert [a[-1] for a in loads] == list(pins.ALL_IMAGES)
    helm = world.argv("helm")
    assert ["show", "chart", str(world.cache / "charts" / "consul-0.40.0.tgz")] == helm[1][:3]
    assert not any("--repo" in a for a in helm)
    assert not any(e["path"].startswith("/_crds/") for e in world.calls("api"))
    assert state.engine == "kind"


def test_down_deletes_cluster_and_state_and_is_safe_twice(world: World) -> None:
    state, _ = up(world)
    world.state.write(state)
    engine = world.kind_engine()
    engine.down(state, lambda m: None)
    assert world.state.read() is None and not (world.state.path / "kubeconfig").exists()
    assert [
        "delete",
        "cluster",
        "--name=lab",
        f"--kubeconfig={world.state.path / 'kubeconfig'}",
    ] in world.argv("kind")
    engine.down(None, lambda m: None)  # a missing cluster is fine


def test_status_rows(world: World) -> None:
    state, _ = up(world)
    rows = {r.component: r for r in world.kind_engine().status(state)}
    assert rows["cluster"].state == "running"
    assert rows["Consul"].state == "ok" and "deployed" in rows["Consul"].detail
    assert rows["Gateway default/example-gateway"].state == "ok"
    assert rows["HTTPRoute default/example-route-1"].state == "ok"


def test_cluster_engine_uses_context_and_its_own_namespace(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    kc = world.tmp / "home-kubeconfig"
    kc.write_text(
        f"apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: {world.kube_url}\n  name: shared\n"
        "contexts:\n- context:\n    cluster: shared\n    user: me\n  name: workshop\ncurrent-context: other\n"
        "users:\n- name: me\n  user:\n    token: t\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kc))
    p = plan()
    state = world.cluster_engine(kube_context="workshop").up(p, p.first, lambda m: None)
    assert world.argv("kind") == []
    upgrade = next(a for a in world.argv("helm") if a[0] == "upgrade")
    assert upgrade[upgrade.index("--namespace") + 1] == "lab"
    assert upgrade[upgrade.index("--kube-context") + 1] == "workshop"
    paths = [
        e["path"]
        for e in world.calls("api")
        if e["method"] == "PATCH" and "customresourcedefinitions" not in e["path"]
    ]
    assert paths[0].startswith("/api/v1/namespaces/lab?")
    assert any("/namespaces/lab/httproutes/example-route-1" in x for x in paths)
    assert not any("/namespaces/default/" in x for x in paths)
    assert state.namespace == "lab" and state.context == "workshop"
