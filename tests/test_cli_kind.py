"""The kind-engine CLI commands through CliRunner: doctor, prefetch, plan --engine kind, kubeconfig."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lab.engines.kube import doctor
from lab.ui.cli import cli
from tests import upstream
from tests.fakes.world import FAST, World, free_port


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)
    return result.exit_code, result.output


def test_doctor_with_docker_down_exits_4_fast_with_the_fix(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    start = time.monotonic()
    code, out = run("doctor")
    assert time.monotonic() - start < 5
    assert code == 4, out
    assert "Docker daemon" in out and "systemctl start docker" in out


def test_doctor_all_good_on_the_fakes(world: World) -> None:
    checks = doctor.run("kind", ports=(free_port(), free_port()), machine="x86_64")
    assert all(c.ok for c in checks), checks
    shown = {c.name: c.detail for c in checks}
    assert shown["kind"].startswith("kind v0.11.1")
    assert shown["helm"] == "v3.9.4+gdbc6d8e"
    assert shown["kubectl"] == "Client Version: v1.21.1"
    assert shown["Docker memory"].startswith("8.0 GiB")
    versions = [a for a in world.argv("helm") + world.argv("kind") + world.argv("kubectl")]
    assert (
        ["version", "--short"] in versions and ["version"] in versions and ["version", "--client"] in versions
    )


def test_doctor_flags_small_docker_missing_tool_busy_port_helm2_and_arm64(world: World) -> None:
    world.docker.mem_total = 2 * 1024**3
    world.docker.ncpu = 1
    (world.bin / "kubectl").unlink()
    (world.bin / "helm").write_text(f"#!{sys.executable}\nprint('Client: v2.17.0+ga690bad')\n")
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = held.getsockname()[1]
        checks = {c.name: c for c in doctor.run("kind", ports=(busy,), machine="arm64")}
    assert checks["Docker memory"].blocks and "Resources" in checks["Docker memory"].fix
    assert checks["Docker CPUs"].blocks
    assert (
        checks["kubectl"].blocks
        and "dl.k8s.io" in checks["kubectl"].fix
        and "/arm64/" in checks["kubectl"].fix
    )
    assert checks["helm"].blocks and "helm 2" in checks["helm"].detail
    assert checks[f"port {busy}"].blocks and "lsof" in checks[f"port {busy}"].fix
    arch = checks["image architectures"]
    assert not arch.ok and not arch.blocking and "hashicorpdemoapp/frontend" in arch.detail


def test_plan_engine_kind_lists_pulls_then_prefetch_caches_everything(world: World) -> None:
    env = {"LAB_CACHE_DIR": str(world.cache)}
    code, out = run("plan", "canary-99-1", "--engine", "kind", "--output", "json", env=env)
    assert code == 0, out
    cache = json.loads(out)["cache"]
    assert [i["image"] for i in cache["images"]] == [upstream.NODE_IMAGE, *upstream.ALL_IMAGES]
    assert (
        not any(i["cached"] for i in cache["images"])
        and cache["chart"] is None
        and not cache["offline_ready"]
    )
    code, out = run("prefetch", env=env)
    assert code == 0, out
    pulls = [e for e in world.calls("docker") if e["path"] == "/images/create"]
    assert len(pulls) == len(upstream.ALL_IMAGES) + 1
    assert pulls[0]["query"] == {"fromImage": "kindest/node", "tag": upstream.NODE_IMAGE.split("@")[1]}
    pull = next(a for a in world.argv("helm") if a[0] == "pull")
    assert pull[1:8] == [
        "consul",
        "--repo",
        upstream.CHART_REPO_URL,
        "--version",
        "0.40.0",
        "--destination",
        str(world.cache / "charts"),
    ]
    code, out = run("plan", "canary-99-1", "--engine", "kind", env=env)
    assert code == 0, out
    assert "everything cached" in out and "to pull" not in out
    # the plain plan output is unchanged by the option's existence
    code, plain = run("plan", "canary-99-1")
    assert "kind engine: images" not in plain


def test_kubeconfig_print_export_and_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / ".lab"
    state.mkdir()
    kc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kind-lab", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "kind-lab", "user": {"token": "t"}}],
        "contexts": [{"name": "kind-lab", "context": {"cluster": "kind-lab", "user": "kind-lab"}}],
        "current-context": "kind-lab",
    }
    (state / "kubeconfig").write_text(yaml.safe_dump(kc))
    home = tmp_path / "home-config"
    home.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "prod", "cluster": {}}],
                "users": [],
                "contexts": [],
                "current-context": "prod",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(home))
    code, out = run("kubeconfig", "--state-dir", str(state))
    assert code == 0 and "kind-lab" in out
    code, out = run("kubeconfig", "--state-dir", str(state), "--export")
    assert out.strip() == f"export KUBECONFIG={state / 'kubeconfig'}"
    assert yaml.safe_load(home.read_text())["current-context"] == "prod"  # untouched until --merge
    code, out = run("kubeconfig", "--state-dir", str(state), "--merge")
    assert code == 0, out
    merged = yaml.safe_load(home.read_text())
    assert [c["name"] for c in merged["clusters"]] == ["prod", "kind-lab"] and merged[
        "current-context"
    ] == "prod"
    assert oct(os.stat(home).st_mode & 0o777) == "0o600"
    code, out = run("kubeconfig", "--state-dir", str(tmp_path / "nothing"))
    assert code == 4 and "lab up" in out


TRANSCRIPT = Path(__file__).parent / "fixtures" / "kind_up_transcript.txt"


def _contract_run(world: World, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """`lab up canary-99-1 --engine kind` against the behaviour-modelling fakes: Ready and Accepted
    arrive late, the webhook refuses once, and a route needs a retrigger after a BindError."""
    world.engines_in_virtual_time()
    monkeypatch.setattr("lab.ui.cli.app.DEFAULT_TIMEOUTS", FAST)
    b = world.kube.behaviour
    b.webhook_refuse_for = 0.05  # one refusal: the first ServiceDefaults comes right after helm
    b.start_after["echo-2"] = 3.0  # echo-2 reaches Consul after example-route-1 gave up: BindError
    ports = [arg for listener, local in world.port_map for arg in ("--port", f"{listener}={local}")]
    args = ["up", "canary-99-1", "--engine", "kind", "--state-dir", str(world.state.path), *ports]
    return run(*args, "--seed", "1")


def normalise(world: World, text: str) -> str:
    text = text.replace(str(world.tmp), "<tmp>")
    text = re.sub(r"(localhost|127\.0\.0\.1):\d+", r"\1:<port>", text)
    text = re.sub(r"\(\d+\.\d s of ", "(<elapsed> s of ", text)
    # a wait repeats an unchanged line every progress_every virtual seconds; how many pass while the
    # fake helm (a real process) works depends on the machine's load, so a repeat shows once
    lines = text.splitlines(keepends=True)
    return "".join(line for i, line in enumerate(lines) if i == 0 or line != lines[i - 1])


def test_contract_lab_up_canary_99_1_on_kind_shows_live_progress(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _contract_run(world, monkeypatch)
    assert code == 0, out
    # the lab's part is deterministic in the fakes' virtual time; the check's counts and timings are
    # not (real requests), so the transcript keeps its verdict line only
    lab_part = normalise(world, out).split("  /echo: sending")[0]
    text = lab_part + out.strip().splitlines()[-1] + "\n"
    if os.environ.get("LAB_WRITE_TRANSCRIPT"):
        Path(os.environ["LAB_WRITE_TRANSCRIPT"]).write_text(text)
    assert TRANSCRIPT.is_file(), f"{TRANSCRIPT} is missing: it is committed, never written by this test"
    assert text == TRANSCRIPT.read_text(), (
        "transcript changed: write it with LAB_WRITE_TRANSCRIPT=FILE and review"
    )


def test_plan_of_cross_namespace_on_kind_says_reference_policy_is_not_enforced(world: World) -> None:
    code, out = run("plan", "cross-namespace", "--engine", "kind", env={"LAB_CACHE_DIR": str(world.cache)})
    assert code == 0, out
    assert "note (kind): consul-api-gateway v0.1.0-beta does not enforce ReferencePolicy" in " ".join(
        out.split()
    )
    code, out = run("plan", "canary-99-1", "--engine", "kind", env={"LAB_CACHE_DIR": str(world.cache)})
    assert "ReferencePolicy" not in out


def test_prefetch_remembers_its_cache_for_lab_up_and_cache_dir_wins(world: World, tmp_path: Path) -> None:
    from lab.engines.kube import prefetch

    folder = tmp_path / "workshop-cache"
    code, out = run("prefetch", "--cache-dir", str(folder), "--state-dir", str(world.state.path))
    assert code == 0, out
    assert prefetch.resolve_cache(None, world.state.path, {}) == (
        folder.resolve(),
        "remembered from `lab prefetch`",
    )
    assert prefetch.resolve_cache(tmp_path / "x", world.state.path, {})[1] == "--cache-dir"
    assert prefetch.resolve_cache(None, world.state.path, {"LAB_CACHE_DIR": "/c"}) == (
        Path("/c"),
        "LAB_CACHE_DIR",
    )
    engine = world.kind_engine()
    assert engine.cache == folder.resolve() and engine.cache_reason == "remembered from `lab prefetch`"


def test_doctor_flags_helm_before_3_7_and_kubectl_skew_with_fixes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # helm 3.7 marks a release interrupted during --wait as failed (helm/helm pull 9180, 3.7.0);
    # before it the release stays pending-install and refuses every upgrade
    monkeypatch.setenv("FAKE_HELM_VERSION", "v3.6.3")
    monkeypatch.setenv("FAKE_KUBECTL_VERSION", "v1.25.3")
    checks = {c.name: c for c in doctor.run("kind", ports=(free_port(),), machine="x86_64")}
    helm = checks["helm version"]
    assert helm.blocks and "older than helm 3.7" in helm.detail and "get-helm-3" in helm.fix
    kubectl = checks["kubectl version"]
    assert not kubectl.ok and not kubectl.blocks and "v1.21" in kubectl.detail and "dl.k8s.io" in kubectl.fix
    monkeypatch.setenv("FAKE_HELM_VERSION", "v3.7.0")
    monkeypatch.setenv("FAKE_KUBECTL_VERSION", "v1.22.0")  # within one minor version of v1.21
    checks = {c.name: c for c in doctor.run("kind", ports=(free_port(),), machine="x86_64")}
    assert "helm version" not in checks and "kubectl version" not in checks


def test_doctor_names_host_conditions_old_node_images_cannot_boot_on_per_pin(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.docker.cgroup_version, world.docker.kernel = "2", "6.5.0-14-generic"
    checks = {c.name: c for c in doctor.run("kind", ports=(free_port(),), machine="x86_64")}
    host = checks["host cgroups"]
    assert not host.ok and not host.blocks  # a warning: many cgroup v2 hosts do boot it
    assert "cgroup v2" in host.detail and "6.5.0" in host.detail and "#2731" in host.detail
    assert "--kind-pin compat" in host.fix and "kind v0.20.0" in host.fix
    monkeypatch.setenv("FAKE_KIND_VERSION", "v0.20.0")
    compat = {c.name: c for c in doctor.run("kind", ports=(free_port(),), machine="x86_64", pin="compat")}
    assert "host cgroups" not in compat and "kind version" not in compat
    world.docker.server_version, world.docker.kernel = "19.03.15", "4.4.0-210-generic"
    old = {c.name: c for c in doctor.run("kind", ports=(free_port(),), machine="x86_64", pin="compat")}
    assert old["Docker version"].blocks and "20.10" in old["Docker version"].fix
    assert old["host kernel"].blocks and "cgroup namespaces" in old["host kernel"].detail
    code, out = run("doctor", "--kind-pin", "compat")
    assert code == 4 and "Docker version" in out and "host kernel" in out, out


def test_doctor_compat_pin_with_the_tutorial_kind_says_which_kind_to_install(world: World) -> None:
    checks = {c.name: c for c in doctor.run("kind", ports=(free_port(),), machine="x86_64", pin="compat")}
    kind = checks["kind version"]
    assert kind.blocks and "--kind-pin compat needs kind v0.20.0" in kind.detail
    assert "v0.20.0/kind-linux-amd64" in kind.fix
    tutorial = {c.name: c for c in doctor.run("kind", ports=(free_port(),), machine="x86_64")}
    assert "kind version" not in tutorial and tutorial["kind"].detail.startswith("kind v0.11.1")


def test_plan_and_up_use_the_cache_prefetch_filled_and_up_takes_cache_dir(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAB_CACHE_DIR", raising=False)
    folder, state = tmp_path / "workshop-cache", str(world.state.path)
    code, out = run("prefetch", "--cache-dir", str(folder), "--state-dir", state)
    assert code == 0, out
    code, out = run("plan", "canary-99-1", "--engine", "kind", "--state-dir", state)
    assert code == 0 and "everything cached" in out and "to pull" not in out, out
    world.engines_in_virtual_time()
    monkeypatch.setattr("lab.ui.cli.app.DEFAULT_TIMEOUTS", FAST)
    ports = [arg for listener, local in world.port_map for arg in ("--port", f"{listener}={local}")]
    other = tmp_path / "given"
    code, out = run("up", "canary-99-1", "--engine", "kind", "--state-dir", state, *ports, "--no-check",
                    "--cache-dir", str(other))
    assert code == 0, out
    assert f"images: prefetch cache {other} (--cache-dir)" in out
