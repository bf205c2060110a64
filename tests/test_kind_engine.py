"""Contract tests of the kind engine against fake kind/helm/kubectl, a fake API server and fake Docker."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from lab.engines.kube.record import KubeRecord
from lab.errors import (
    ChartNotFound,
    ChecksumMismatch,
    EnvironmentNotReady,
    ExitCode,
    InvalidInput,
    NotConverged,
)
from lab.objects import ObjectKey
from lab.spec import pins
from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from tests import upstream
from tests.conftest import ROOT
from tests.fakes.world import FAST, World


def plan(name: str = "canary-99-1"):  # type: ignore[no-untyped-def]
    return make_plan(LabDir(ROOT), name)


def up(world: World, name: str = "canary-99-1", **kw):  # type: ignore[no-untyped-def]
    p = plan(name)
    world.messages = messages = []
    state = world.kind_engine(**kw).up(world.start(p), p, p.first, messages.append, world.journal)
    return state, messages


def test_full_up_order_and_arguments(world: World) -> None:
    state, messages = up(world)
    kind = world.argv("kind")
    assert kind[:2] == [["version"], ["get", "clusters"]]
    create = next(a for a in kind if a[:2] == ["create", "cluster"])
    assert "--name=lab" in create and f"--image={upstream.NODE_IMAGE}" in create
    assert f"--kubeconfig={world.state.path / 'kubeconfig'}" in create
    assert create[create.index("--config") + 1] == str(world.state.path / "kind-cluster.yaml")
    helm = world.argv("helm")
    assert helm[0] == ["version", "--template", "{{ .Version }}"]
    show = next(a for a in helm if a[:2] == ["show", "chart"])
    assert show[2:8] == ["consul", "--repo", upstream.CHART_REPO_URL, "--version", "0.40.0", "--kubeconfig"]
    upgrade = next(a for a in helm if a[0] == "upgrade")
    assert upgrade[1:3] == ["consul", "consul"]
    assert upgrade[upgrade.index("--version") + 1] == "0.40.0"
    assert upgrade[upgrade.index("--timeout") + 1] == "10m" and "--wait" in upgrade
    assert upgrade[upgrade.index("--kubeconfig") + 1] == str(world.state.path / "kubeconfig")
    values = next(e for e in world.calls("helm") if e["argv"][0] == "upgrade")["stdin"]
    assert (
        values["apiGateway"]["image"] == upstream.API_GATEWAY_IMAGE and values["global"]["tls"]["enabled"] is True
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
    assert isinstance(state.record, KubeRecord)
    assert (
        state.record.kubeconfig == str(world.state.path / "kubeconfig") and state.record.context == "kind-lab"
    )
    assert state.record.cluster == "lab"  # lab created it, so `lab down` may delete it
    assert Path(state.ca_file).read_bytes() == world.ca_pem
    assert ObjectKey.parse("gateway.networking.k8s.io/HTTPRoute/default/example-route-1") in state.applied
    steps = [m.split(":")[0] for m in messages if not m.startswith("waiting for")]
    assert steps == [
        "preflight",
        "cluster",
        "images",
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
    assert "0.40.0" in text and upstream.CHART_REPO_URL in text and "lab prefetch" in text
    assert "diagnostics after step 'consul'" in text


def test_helm_wait_shows_why_pods_are_not_ready_and_its_failure_carries_them(world: World) -> None:
    world.kube.behaviour.crashing.add(upstream.CONSUL_IMAGE)
    with pytest.raises(NotConverged) as info:
        up(world, timeouts=replace(FAST, helm_install="8s"))
    text = str(info.value)
    assert text.startswith("consul: ") and "CrashLoopBackOff" in text
    assert "Back-off restarting failed container" in text and "release consul" in text
    messages = world.messages
    during = [m for m in messages if m.startswith("waiting for helm --wait")]
    assert any("consul-server-0 Running (CrashLoopBackOff" in m and " s of 38 s)" in m for m in during), (
        during
    )


@pytest.mark.parametrize(
    ("breaks", "condition", "stage", "seen"),
    [
        ("crd", "CRDsMustBeEstablished", "crds", "Established=False"),
        ("class", "GatewayClassMustBeAccepted", "consul", "InvalidParameters"),
        ("gateway", "GatewayMustBeReady", "apply", "ImagePullBackOff"),
        ("backend", "HTTPRouteMustBeAccepted", "apply", "BindError"),
    ],
)
def test_each_wait_fails_with_its_name_what_it_saw_and_diagnostics(
    world: World, breaks: str, condition: str, stage: str, seen: str
) -> None:
    b = world.kube.behaviour
    if breaks == "crd":
        b.crd_established = False
    elif breaks == "class":
        b.gateway_class_accepted = False
    elif breaks == "gateway":
        b.image_pull_errors.add(upstream.ENVOY_IMAGE)  # the gateway pod runs Envoy
    else:
        b.unschedulable.add("echo-2")
    with pytest.raises(NotConverged) as info:
        up(world)
    text = str(info.value)
    assert info.value.exit_code == ExitCode.NOT_CONVERGED
    assert text.startswith(f"{stage}: {condition}:"), text
    assert seen in text and f"diagnostics after step {stage!r}" in text and "release consul" in text
    if stage != "crds":
        assert "consul-server-0: Ready" in text and "Started container" in text
    # every pause is the poll interval, except the last, which lab.waiting cuts to the budget left
    assert world.sleeps and all(s == FAST.poll_interval for s in world.sleeps[:-1])
    assert 0 <= world.sleeps[-1] <= FAST.poll_interval
    assert not any(a[:2] == ["delete", "cluster"] for a in world.argv("kind"))  # nothing torn down


def test_route_never_live_fails_in_converge(world: World) -> None:
    world.gateway.broken = True
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
    world.kube.behaviour.status_lag = 0.5
    world.log.write_text("")
    messages: list[str] = []
    new = world.kind_engine().switch(state, p, p.first, messages.append, world.journal)
    patches = [e["path"] for e in world.calls("api") if e["method"] == "PATCH"]
    assert len(patches) == 1 and "/httproutes/example-route-1" in patches[0], patches
    route_gets = [
        e
        for e in world.calls("api")
        if e["method"] == "GET" and e["path"].endswith("/httproutes/example-route-1")
    ]
    assert len(route_gets) >= 2  # waited until observedGeneration caught up
    assert any("status is for generation 1, the object is at 2" in m for m in messages), messages
    assert new.step == "split-50-50" and new.record != state.record
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
    new = world.kind_engine().switch(state, p, p.first, lambda m: None, world.journal)
    deletes = [e["path"] for e in world.calls("api") if e["method"] == "DELETE"]
    assert deletes == [
        "/apis/gateway.networking.k8s.io/v1alpha2/namespaces/default/httproutes/example-route-2"
    ]
    assert ObjectKey.parse("gateway.networking.k8s.io/HTTPRoute/default/example-route-2") not in new.applied


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
    state, messages = up(world)
    assert f"images: prefetch cache {world.cache} (given)" in messages
    loads = [a for a in world.argv("kind") if a[:2] == ["load", "docker-image"]]
    assert [a[-1] for a in loads] == list(upstream.ALL_IMAGES)
    helm = world.argv("helm")
    show = next(a for a in helm if a[:2] == ["show", "chart"])
    assert ["show", "chart", str(world.cache / "charts" / "consul-0.40.0.tgz")] == show[:3]
    assert not any("--repo" in a for a in helm)
    assert not any(e["path"].startswith("/_crds/") for e in world.calls("api"))
    assert state.engine == "kind"


def test_down_deletes_cluster_and_state_and_is_safe_twice(world: World) -> None:
    state, _ = up(world)
    world.state.write(state)
    engine = world.kind_engine()
    engine.down(state, lambda m: None)
    assert not (world.state.path / "kubeconfig").exists()  # state.json is lab.lifecycle's to clear
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
    import getpass

    world.use_kubeconfig("workshop")
    p = plan()
    engine = world.cluster_engine(kube_context="workshop", install_consul=True)
    state = engine.up(world.start(p), p, p.first, lambda m: None, world.journal)
    assert world.argv("kind") == []
    upgrade = next(a for a in world.argv("helm") if a[0] == "upgrade")
    assert upgrade[upgrade.index("--namespace") + 1] == "consul"  # the cluster's one Consul
    assert upgrade[upgrade.index("--kube-context") + 1] == "workshop"
    mine = f"lab-{getpass.getuser()}"  # the default namespace: derived from the user name
    paths = [e["path"] for e in world.calls("api") if e["method"] == "PATCH"]
    assert any(x.startswith(f"/api/v1/namespaces/{mine}?") for x in paths)
    assert any(f"/namespaces/{mine}/httproutes/example-route-1" in x for x in paths)
    assert not any("/namespaces/default/" in x for x in paths)
    assert isinstance(state.record, KubeRecord)
    assert state.record.namespace == mine and state.record.context == "workshop"
    engine.down(state, lambda m: None)


# -- issue 12: each item reproduced against the behaviour-modelling fakes -------------------------


def _release(world: World, status: str, revision: int) -> None:
    history = [
        {
            "revision": r,
            "updated": "2022-02-01T10:00:00Z",
            "status": "superseded",
            "chart": "consul-0.40.0",
            "app_version": "1.11.2",
            "description": "Install complete",
        }
        for r in range(1, revision)
    ]
    history.append(
        {
            "revision": revision,
            "updated": "2022-02-01T10:00:00Z",
            "status": status,
            "chart": "consul-0.40.0",
            "app_version": "1.11.2",
            "description": "interrupted",
        }
    )
    release = {
        "namespace": "default",
        "revision": revision,
        "status": status,
        "values": {},
        "description": "interrupted",
        "history": history,
    }
    (world.fake_state / "helm.json").write_text(json.dumps(release))


@pytest.mark.parametrize(
    ("status", "revision", "done", "command"),
    [
        ("pending-install", 1, "uninstalled it to install anew", "uninstall"),
        ("failed", 1, "uninstalled it to install anew", "uninstall"),
        ("pending-upgrade", 2, "rolled it back to revision 1", "rollback"),
        ("failed", 3, "rolled it back to revision 2", "rollback"),
    ],
)
def test_a_release_left_pending_or_failed_is_recovered_with_a_message(
    world: World, status: str, revision: int, done: str, command: str
) -> None:
    _release(world, status, revision)
    _, messages = up(world)
    assert any(f"was left {status}" in m and done in m for m in messages), messages
    helm = [a[0] for a in world.argv("helm")]
    assert helm.index(command) < helm.index("upgrade")
    assert json.loads((world.fake_state / "helm.json").read_text())["status"] == "deployed"


def test_every_api_call_has_a_request_timeout(world: World) -> None:
    from lab.engines.kube.client import ApiTimeout, Kube

    up(world)
    world.kube.stall.add("/gatewayclasses/")
    kube = Kube(world.state.path / "kubeconfig", discovery_cache=world.tmp / "d.json", request_timeout=0.5)
    start = time.monotonic()
    with pytest.raises(ApiTimeout) as info:
        kube.get("gateway.networking.k8s.io/v1alpha2", "GatewayClass", "consul-api-gateway")
    assert time.monotonic() - start < 5
    assert "did not answer GET" in str(info.value) and "0.5 s" in str(info.value)


def test_a_route_stuck_on_bind_error_is_retriggered_and_the_progress_says_so(world: World) -> None:
    world.kube.behaviour.start_after["echo-2"] = 3.0  # registers in Consul after the route gave up
    _, messages = up(world)
    bumps = [m for m in messages if "retriggering the controller" in m]
    assert len(bumps) == 1 and "example-route-1 is stuck on BindError" in bumps[0], messages
    assert any(
        "BindError" in m and m.startswith("waiting for HTTPRoute default/example-route-1") for m in messages
    )
    route = world.kube.cluster.get("HTTPRoute", "default", "example-route-1")
    assert route is not None and route["metadata"]["annotations"]["lab.gateway-lab.dev/retrigger"] == "1"
    assert route["status"]["parents"][0]["conditions"][0]["status"] == "True"


def test_the_probe_ignores_https_proxy_from_the_environment(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    state, _ = up(world)
    assert state.engine == "kind"


def test_apply_is_retried_while_the_webhooks_do_not_serve_then_gives_up_within_its_budget(
    world: World,
) -> None:
    world.kube.behaviour.webhook_refuse_for = 0.25
    _, messages = up(world)
    refused = [m for m in messages if "the webhook does not serve yet" in m]
    # said once, at the first refusal, however many looks the wait then takes
    assert refused == ["manifests: ServiceDefaults default/echo-1 refused, the webhook does not serve yet; retrying"]
    assert world.calls("api") and len([e for e in world.calls("api") if e["method"] == "PATCH" and "servicedefaults/echo-1" in e["path"]]) > 2
    world2_refuse = 100.0
    world.kube.behaviour.webhook_refuse_for = world2_refuse
    world.kube.cluster.deployed_at = world.clock.now()
    state = world.kind_engine()
    p = plan("split-50-50")
    with pytest.raises(NotConverged) as info:
        state.up(world.start(p), p, p.first, lambda m: None, world.journal)
    assert "WebhooksMustServe" in str(info.value) and "failed calling webhook" in str(info.value)


def test_gateway_ready_counts_only_for_the_current_generation(world: World) -> None:
    from lab.engines.kube.apply import Applier
    from lab.engines.kube.client import Kube
    from lab.engines.kube.waits import Waiter

    up(world)
    world.kube.behaviour.status_lag = 0.5
    kube = Kube(world.state.path / "kubeconfig", discovery_cache=world.tmp / "d.json", request_timeout=2)
    gw = kube.get("gateway.networking.k8s.io/v1alpha2", "Gateway", "example-gateway", "default")
    assert gw is not None
    body = {
        "apiVersion": gw["apiVersion"],
        "kind": "Gateway",
        "metadata": {"name": "example-gateway", "namespace": "default"},
        "spec": {**gw["spec"], "listeners": [{**gw["spec"]["listeners"][0], "name": "https-2"}]},
    }
    kube.apply(body)
    seen: list[str] = []
    waiter = Waiter(0.1, seen.append, sleep=world.sleep, clock=world.clock.now)
    Applier(kube, FAST, waiter, seen.append, world.clock.now).wait_gateway(body)
    assert any("status is for generation 1, the object is at 2" in m for m in seen), seen


def test_cross_namespace_on_kind_says_reference_policy_is_not_enforced(world: World) -> None:
    state, messages = up(world, "cross-namespace")
    notes = [m for m in messages if m.startswith("note:")]
    assert (
        notes and "does not enforce ReferencePolicy" in notes[0] and "HTTPRoute team-a/team-route" in notes[0]
    )
    rows = {r.component: r for r in world.kind_engine().status(state)}
    assert "does not enforce ReferencePolicy" in rows["HTTPRoute team-a/team-route"].detail
    assert "ReferencePolicy" not in rows["HTTPRoute default/example-route-1"].detail
    _, plain = up(world)
    assert not any(m.startswith("note:") for m in plain)


def test_fake_kind_refuses_a_config_kind_v0111_cannot_read(world: World, lab_copy) -> None:  # type: ignore[no-untyped-def]
    text = (ROOT / "manifests/kind/cluster.yaml").read_text()
    lab_copy.write("manifests/kind/cluster.yaml", text + "networking:\n  dnsSearch: []\n")
    p = make_plan(LabDir(lab_copy.root), "canary-99-1")
    with pytest.raises(NotConverged) as info:
        world.kind_engine().up(world.start(p), p, p.first, lambda m: None, world.journal)
    assert "create cluster" in str(info.value)
    clusters = world.fake_state / "clusters.json"
    assert not clusters.exists() or "lab" not in json.loads(clusters.read_text())


def test_an_old_node_image_that_cannot_boot_points_to_the_compat_pin_which_works(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HOST_CANNOT_BOOT", "kindest/node:v1.21.1")
    with pytest.raises(NotConverged) as info:
        up(world)
    assert "lab doctor" in str(info.value) and "--kind-pin compat" in str(info.value)
    with pytest.raises(EnvironmentNotReady) as refused:  # compat needs its own kind release
        up(world, kind_pin="compat")
    assert "needs kind v0.20.0" in str(refused.value) and "v0.20.0/kind-" in str(refused.value)
    monkeypatch.setenv("FAKE_KIND_VERSION", "v0.20.0")
    _, messages = up(world, kind_pin="compat")
    create = [a for a in world.argv("kind") if a[:2] == ["create", "cluster"]][-1]
    assert f"--image={upstream.COMPAT_NODE_IMAGE}" in create
    assert any("pin compat" in m and "kindest/node:v1.21.14" in m for m in messages), messages


def test_kind_other_than_the_pin_is_a_note_not_a_refusal(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KIND_VERSION", "v0.17.0")
    _, messages = up(world)
    assert any(m.startswith("preflight: note: kind v0.17.0") and "--kind-pin compat" in m for m in messages)


def test_a_failed_image_load_falls_back_to_pulling_in_the_node(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.engines.kube import prefetch

    prefetch.prefetch(world.cache, lambda m: None, helm_path=str(world.bin / "helm"), timeouts=FAST)
    monkeypatch.setenv("FAKE_KIND_LOAD_FAILS", upstream.ENVOY_IMAGE)
    state, messages = up(world)
    failed = [m for m in messages if "failed" in m and upstream.ENVOY_IMAGE in m]
    assert failed and "the node will pull it from its registry itself" in failed[0]
    assert state.engine == "kind"
    loads = [a[-1] for a in world.argv("kind") if a[:2] == ["load", "docker-image"]]
    assert loads == list(upstream.ALL_IMAGES)  # the images after the failed one are still loaded


def test_an_image_missing_from_the_cache_is_skipped_and_the_ones_after_it_are_still_loaded(world: World) -> None:
    from lab.engines.kube import prefetch

    prefetch.prefetch(world.cache, lambda m: None, helm_path=str(world.bin / "helm"), timeouts=FAST)
    first = upstream.ALL_IMAGES[0]
    world.docker.images.discard(prefetch.pull_reference(first))  # `docker image rm` of the first one
    world.docker.sync()
    state, messages = up(world)
    loads = [a[-1] for a in world.argv("kind") if a[:2] == ["load", "docker-image"]]
    assert loads == list(upstream.ALL_IMAGES[1:])
    assert f"images: kind load docker-image {first}" not in messages
    assert state.engine == "kind"


def test_a_consul_without_its_ca_secret_fails_at_the_ca_step_with_diagnostics(world: World) -> None:
    world.kube.behaviour.tls_init_runs = False
    with pytest.raises(NotConverged) as info:
        up(world)
    text = str(info.value)
    assert text.startswith(
        "ca: secret default/consul-ca-cert has no tls.crt; the chart's TLS init did not run\n"
        "diagnostics after step 'ca' failed:"
    ), text
    assert info.value.fix == "check global.tls.enabled in the values file and the consul-tls-init job"


def test_events_are_listed_only_in_the_namespace_lab_waits_in(world: World) -> None:
    # a cluster-wide event list reads other teams' events and needs a ClusterRole a namespaced
    # install may not have; the Consul pods' events are in the release namespace
    up(world)
    lists = [e["path"].split("?")[0] for e in world.calls("api") if e["method"] == "GET" and "/events" in e["path"]]
    assert lists and set(lists) == {"/api/v1/namespaces/default/events"}, sorted(set(lists))


def test_killing_lab_up_at_each_step_then_lab_down_leaves_no_cluster_and_up_succeeds(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab import lifecycle

    world.engines_in_virtual_time()
    options, choice, p = world.options(), lifecycle.EngineChoice("kind", "asked for"), plan()
    clusters = world.fake_state / "clusters.json"
    for step in ("cluster", "images", "crds", "consul", "manifests", "gateway", "routes", "converge"):

        def kill(message: str, step: str = step) -> None:
            if message.startswith(step + ":"):
                raise KeyboardInterrupt  # Ctrl-C as this step starts

        with pytest.raises(KeyboardInterrupt):
            lifecycle.up(p, choice, options, kill)
        assert lifecycle.recorded(options) is not None, step  # the record of what to remove is there
        lifecycle.down(options, lambda m: None)
        assert not clusters.exists() or json.loads(clusters.read_text()) == [], step
        assert lifecycle.recorded(options) is None
    state = lifecycle.up(p, choice, options, lambda m: None)
    assert state.phase == "running" and json.loads(clusters.read_text()) == ["lab"]


def test_lab_down_never_deletes_a_cluster_lab_did_not_create(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab import lifecycle

    world.engines_in_virtual_time()
    (world.fake_state / "clusters.json").write_text('["lab"]')  # someone else's cluster named lab
    options, messages = world.options(), []
    lifecycle.up(plan(), lifecycle.EngineChoice("kind", "asked for"), options, messages.append)
    assert any("lab has no record of creating it" in m for m in messages)
    lifecycle.down(options, messages.append)
    assert json.loads((world.fake_state / "clusters.json").read_text()) == ["lab"]
    assert any("leaving kind cluster lab (lab did not create it)" in m for m in messages)


# -- what Consul API Gateway 0.1.0 never serves: refused up front (exit 3), nothing created --------


@pytest.mark.parametrize(
    ("scenario", "old", "new", "route"),
    [
        ("canary-99-1", "name: frontend", "name: frontend-9", "example-route-2"),
        # the workshop case: the judged split sends 1% to a missing echo-3
        ("canary-99-1", "name: echo-2\n", "name: echo-3\n", "example-route-1"),
        ("three-way", "weight: 50", "weight: 1", "example-route-1"),
    ],
)
@pytest.mark.parametrize("engine", ["kind", "cluster"])
def test_a_plan_consul_api_gateway_never_serves_is_refused_before_anything_is_created(  # type: ignore[no-untyped-def]
    world: World, lab_copy, scenario: str, old: str, new: str, route: str, engine: str
) -> None:
    manifest = "manifests/routes/" + ("canary-99-1.yaml" if scenario == "canary-99-1" else "three-way.yaml")
    lab_copy.edit(manifest, old, new)
    if scenario == "three-way":
        lab_copy.edit(manifest, "weight: 30", "weight: 1")
        lab_copy.edit(manifest, "weight: 20", "weight: 1")
    p = make_plan(LabDir(lab_copy.root), scenario)
    assert p.first.warnings  # the embedded engine accepts it (a warning), as Kubernetes would
    make = world.kind_engine if engine == "kind" else world.cluster_engine
    with pytest.raises(InvalidInput) as info:
        make().up(world.start(p), p, p.first, lambda m: None, world.journal)
    assert info.value.exit_code == ExitCode.INVALID_INPUT
    text = str(info.value)
    said = "unresolved backendRef" if scenario == "canary-99-1" else "Consul rounds the splitter shares"
    assert said in text and route in text and "--engine local" in text and "kind engine:" in text
    assert world.argv("kind") == [] and world.argv("helm") == [] and world.calls("api") == []
    assert world.state.read(lambda e, d: None) is None  # nothing journalled


def test_a_kind_create_that_never_returns_is_stopped_at_its_timeout_and_lab_down_removes_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KIND_CREATE_HANGS", "1")
    start = time.monotonic()
    with pytest.raises(NotConverged) as info:
        up(world, timeouts=replace(FAST, cluster_create=1))  # real seconds: kind is a real process
    assert time.monotonic() - start < 30
    text = str(info.value)
    assert "kind create cluster" in text and "did not finish within 1 s" in text and "lab down" in text
    state = world.state.read(lambda e, d: KubeRecord.from_json(d))  # what `lab down` reads
    assert state is not None and isinstance(state.record, KubeRecord) and state.record.cluster == "lab"
    monkeypatch.delenv("FAKE_KIND_CREATE_HANGS")
    world.kind_engine().down(state, lambda m: None)
    assert json.loads((world.fake_state / "clusters.json").read_text()) == []


def test_a_kind_load_that_never_returns_is_stopped_and_the_node_pulls_the_image(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.engines.kube import prefetch

    prefetch.prefetch(world.cache, lambda m: None, helm_path=str(world.bin / "helm"), timeouts=FAST)
    monkeypatch.setenv("FAKE_KIND_LOAD_HANGS", upstream.ENVOY_IMAGE)
    start = time.monotonic()
    state, messages = up(world, timeouts=replace(FAST, kind_command=1))
    assert time.monotonic() - start < 60
    stopped = [m for m in messages if upstream.ENVOY_IMAGE in m and "did not finish within 1 s" in m]
    assert stopped and "the node will pull it from its registry itself" in stopped[0], messages
    assert state.engine == "kind"


def test_the_converge_probe_says_what_it_gets_while_it_waits(world: World) -> None:
    world.gateway.broken = True
    with pytest.raises(NotConverged):
        up(world)
    waiting = [m for m in world.messages if m.startswith("waiting for https://localhost:")]
    assert waiting and all("/echo to serve (" in m and " s of 3 s): HTTP 503" in m for m in waiting), waiting
    assert len(waiting) <= 1 + FAST.converge / FAST.progress_every  # on change, else every progress_every


def test_a_stuck_api_connection_during_up_fails_at_the_engines_request_timeout(world: World) -> None:
    world.kube.stall.add("/namespaces/default/gateways/example-gateway")
    start = time.monotonic()
    with pytest.raises(NotConverged) as info:
        up(world, timeouts=replace(FAST, api_request=0.5))
    assert time.monotonic() - start < 60  # without a request timeout: blocked until the server gives up
    text = str(info.value)
    assert text.startswith("apply: ") and "did not answer PATCH" in text and "within 0.5 s" in text, text
    assert "Timeouts.api_request" in (info.value.fix or "")


def test_lab_down_after_a_failed_lab_up_removes_the_cluster_it_created(world: World) -> None:
    from lab import lifecycle

    world.engines_in_virtual_time()
    world.kube.behaviour.unschedulable.add("echo-2")  # example-route-1 is never Accepted: exit 5
    options, choice = world.options(), lifecycle.EngineChoice("kind", "asked for")
    with pytest.raises(NotConverged):
        lifecycle.up(plan(), choice, options, lambda m: None)
    recorded = lifecycle.recorded(options)
    assert recorded is not None and recorded.phase == "starting"
    assert isinstance(recorded.record, KubeRecord) and recorded.record.cluster == "lab"
    messages: list[str] = []
    lifecycle.down(options, messages.append)
    assert json.loads((world.fake_state / "clusters.json").read_text()) == []
    assert "cluster: deleting kind cluster lab" in messages and lifecycle.recorded(options) is None


def test_a_helm_stuck_past_its_own_timeout_is_stopped_and_the_next_up_recovers_its_release(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HELM_MODE", "hang")
    start = time.monotonic()
    with pytest.raises(NotConverged) as info:
        up(world, timeouts=replace(FAST, helm_install="30s"))  # helm_grace 30: 60 virtual s
    assert time.monotonic() - start < 60  # not the 120 s the stuck helm would take
    text = str(info.value)
    assert text.startswith("consul: ConsulReleaseMustDeploy:") and "helm was stopped" in text, text
    assert json.loads((world.fake_state / "helm.json").read_text())["status"] == "pending-install"
    monkeypatch.delenv("FAKE_HELM_MODE")
    _, messages = up(world)
    assert any("was left pending-install" in m for m in messages), messages


def test_a_helm_status_that_never_answers_is_stopped_in_up_and_in_status(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, _ = up(world)
    monkeypatch.setenv("FAKE_HELM_MODE", "status-hangs")
    start = time.monotonic()
    rows = {r.component: r for r in world.kind_engine(timeouts=replace(FAST, helm_command=1)).status(state)}
    assert rows["Consul"].state == "problem" and "did not answer within 1 s" in rows["Consul"].detail
    with pytest.raises(NotConverged) as info:
        up(world, timeouts=replace(FAST, helm_command=1))
    assert time.monotonic() - start < 60  # not 2 x the 120 s the stuck helm would take
    assert "consul: " in str(info.value) and "helm status consul did not answer within 1 s" in str(info.value)


def test_the_fake_controller_runs_a_gateway_as_a_deployment_whose_pod_makes_it_ready(world: World) -> None:
    world.kube.behaviour.start_after["example-gateway"] = 2.0
    _, messages = up(world)
    dep = world.kube.cluster.get("Deployment", "default", "example-gateway")
    assert dep is not None and dep["spec"]["selector"]["matchLabels"] == {
        "api-gateway.consul.hashicorp.com/name": "example-gateway",
        "api-gateway.consul.hashicorp.com/namespace": "default",
        "api-gateway.consul.hashicorp.com/managed": "true",
    }
    waited = [m for m in messages if m.startswith("waiting for Gateway default/example-gateway Ready")]
    assert waited and "gateway pod: 0/1 Ready" in waited[0] and "ListenersNotReady" in waited[0], messages


def test_the_cluster_is_created_through_pytest_kind_with_the_kind_on_path_and_no_download(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytest_kind
    import requests

    created = []
    original = pytest_kind.KindCluster.create

    def spy(self, config_file=None):  # type: ignore[no-untyped-def]
        created.append((self.kind_path, config_file))
        return original(self, config_file=config_file)

    def no_network(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError(f"pytest-kind downloaded {args}")

    monkeypatch.setattr(pytest_kind.KindCluster, "create", spy)
    monkeypatch.setattr(requests, "get", no_network)  # pytest_kind/cluster.py L56 ensure_kind's download
    up(world)
    assert created == [((world.bin / "kind").resolve(), world.state.path / "kind-cluster.yaml")]
    assert (world.state.path / ".pytest-kind" / "lab").is_dir()  # KindCluster's work folder, not the cwd
    # pytest-kind's own `kind get clusters` before its `kind create cluster` (cluster.py L96-122)
    kind = [a[:2] for a in world.argv("kind")]
    assert kind.index(["create", "cluster"]) > 2 and kind[kind.index(["create", "cluster"]) - 1] == [
        "get",
        "clusters",
    ]
    world.kind_engine().down(world.state.read(lambda e, d: KubeRecord.from_json(d)), lambda m: None)
    assert not (world.state.path / ".pytest-kind").exists()


def test_ctrl_c_while_kind_create_hangs_stops_kind_and_is_raised(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal
    import threading

    import psutil

    def running_create(proc: psutil.Process) -> bool:
        try:
            return proc.status() != psutil.STATUS_ZOMBIE and "create" in proc.cmdline()
        except psutil.Error:
            return False

    sent: list[float] = []

    def ctrl_c_once_kind_create_runs() -> None:  # Ctrl-C while lab waits for the hung create
        deadline = time.monotonic() + 120  # the fake kind is a Python script: slow to start on a busy machine
        while time.monotonic() < deadline:
            if any(running_create(p) for p in psutil.Process().children()):
                time.sleep(0.5)  # the fake has printed its line and sleeps
                sent.append(time.monotonic())
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.05)

    monkeypatch.setenv("FAKE_KIND_CREATE_HANGS", "1")
    threading.Thread(target=ctrl_c_once_kind_create_runs, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        up(world, timeouts=replace(FAST, cluster_create=600))  # the budget never runs out first
    assert sent and time.monotonic() - sent[0] < 30  # stopped on Ctrl-C, not at the budget
    assert any(a[:2] == ["create", "cluster"] for a in world.argv("kind"))  # interrupted during create
    assert [p.pid for p in psutil.Process().children(recursive=True) if running_create(p)] == []
