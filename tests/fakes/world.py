"""Everything a kind-engine contract test needs, wired together: fake tools on PATH, fake Kubernetes
API (behaviour in virtual time), fake Docker, a fake HTTPS gateway with a test CA, and the real pinned
CRD files served from a local URL in place of GitHub.
"""

from __future__ import annotations

import json
import random
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from lab.engines.base import EngineOptions
from lab.engines.kube.engine import ClusterEngine, KindEngine
from lab.spec import pins
from lab.spec.plan import Plan
from lab.state import LabState, StateDir
from lab.timeouts import Timeouts
from tests.fakes import docker_api, kube_api, tls, tools
from tests.fakes.clock import VirtualClock
from tests.fakes.crd_schema import CRD_DIR

# Budgets in the fakes' virtual seconds (the fakes' own delays are around one virtual second).
FAST = Timeouts(
    cluster_create=5,
    crd_established=2,
    helm_install="10m",
    consul_ready=2,
    gateway_class_accepted=2,
    gateway_ready=5,
    route_accepted=8,
    route_retrigger=2,
    webhook_ready=3,
    api_request=2,
    kind_command=20,
    progress_every=5,
    converge=3,
    converge_successes=3,
    poll_interval=0.1,
    request=5,
    docker_ping=1,
    download=5,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class World:
    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp = tmp
        self.monkeypatch = monkeypatch
        self.log = tmp / "calls.jsonl"
        self.log.touch()
        self.fake_state = tmp / "fake-state"
        self.fake_state.mkdir()
        self.bin = tmp / "bin"
        tools.install(self.bin)
        ca_pem, cert, key = tls.make_ca_and_cert(tmp)
        self.ca_pem = ca_pem
        self.clock = VirtualClock()
        self.kube = kube_api.FakeKube(self.log, ca_pem, self.clock)
        # consul-api-gateway's 30 x 1 s backend resolution, shortened like every other delay
        self.kube.behaviour.resolve_retries, self.kube.behaviour.resolve_interval = 3, 0.5
        self.kube_server, self.kube_url = kube_api.serve(self.kube)
        self.docker = docker_api.FakeDocker(self.log, images_file=self.fake_state / "docker_images.json")
        self.docker.sync()
        self.docker_server, self.docker_url = docker_api.serve(self.docker)
        self.rng = random.Random(20261126)
        self.gateway = tls.FakeGateway(self.log, pick=self.pick)
        self.gateway_port = free_port()
        self.port_map = (
            (8443, self.gateway_port),
            (443, free_port()),
            (8501, free_port()),
            (8502, free_port()),
        )
        self._cert, self._key = cert, key
        self.gateway_server: Any = None
        self.kube.cluster.on_gateway_ready = self.start_gateway
        self.kube.on_reset = self.stop_gateway
        self.kube.cluster.on_route_accepted = self.route_accepted
        # the real pinned CRD files, served by the fake API server instead of GitHub
        files = []
        for crd in pins.CRD_FILES:
            self.kube.crd_files[crd.name] = (CRD_DIR / crd.name).read_bytes()
            files.append(pins.CrdFile(crd.name, f"{self.kube_url}/_crds/{crd.name}", crd.sha256))
        monkeypatch.setattr(pins, "CRD_FILES", tuple(files))
        monkeypatch.setenv("PATH", str(self.bin))
        monkeypatch.setenv("FAKE_STATE_DIR", str(self.fake_state))
        monkeypatch.setenv("FAKE_LOG", str(self.log))
        monkeypatch.setenv("FAKE_KUBE_URL", self.kube_url)
        monkeypatch.setenv("DOCKER_HOST", self.docker_url)
        monkeypatch.delenv("KUBECONFIG", raising=False)
        monkeypatch.setenv("HOME", str(tmp / "home"))
        self.cache = tmp / "cache"
        self.state = StateDir(tmp / "lab-state")
        self.sleeps: list[float] = []

    def start_gateway(self) -> None:
        if self.gateway_server is None:
            self.gateway_server, _ = tls.serve_gateway(
                self.gateway, self._cert, self._key, port=self.gateway_port
            )

    def stop_gateway(self) -> None:
        """The cluster is gone, and with it the host port its gateway pod held."""
        if self.gateway_server is not None:
            server, self.gateway_server = self.gateway_server, None
            server.shutdown()
            server.server_close()
            self.gateway.serving = False

    def route_accepted(self, name: str) -> None:
        self.gateway.serving = True

    def pick(self, path: str) -> tuple[str, str] | None:
        with self.kube.lock:
            return self.kube.cluster.answer(path, self.rng)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.sleep(seconds)

    def options(self, **kw: Any) -> EngineOptions:
        return EngineOptions(
            state=self.state, timeouts=kw.pop("timeouts", FAST), port_map=self.port_map, **kw
        )

    def start(self, plan: Plan) -> LabState:
        """The state lab.lifecycle journals before the engine creates anything."""
        return LabState.starting("kind", plan.scenario.name, plan.first.step.name, str(plan.lab_dir.root))

    def journal(self, state: LabState) -> None:
        """lab.lifecycle's journal: persist what the engine reports."""
        self.state.write(state)

    def engines_in_virtual_time(self) -> None:
        """Engines that lab.lifecycle creates itself sleep and tell time through the fakes' clock."""
        from lab.engines.kube.steps import KubernetesLab

        defaults = {
            **(KubernetesLab.__init__.__kwdefaults__ or {}),
            "sleep": self.sleep,
            "clock": self.clock.now,
        }
        self.monkeypatch.setattr(KubernetesLab.__init__, "__kwdefaults__", defaults)

    def kind_engine(self, **kw: Any) -> KindEngine:
        cache = kw.pop("cache", self.cache if not (self.state.path / "prefetch-cache-dir").exists() else None)
        return KindEngine(self.options(**kw), sleep=self.sleep, clock=self.clock.now, cache=cache)

    def cluster_engine(self, **kw: Any) -> ClusterEngine:
        return ClusterEngine(self.options(**kw), sleep=self.sleep, clock=self.clock.now, cache=self.cache)

    def calls(self, src: str | None = None) -> list[dict[str, Any]]:
        entries = [json.loads(line) for line in self.log.read_text().splitlines() if line]
        return [e for e in entries if src is None or e["src"] == src]

    def argv(self, tool: str) -> list[list[str]]:
        return [e["argv"] for e in self.calls(tool)]

    def transcript(self) -> str:
        """The recorded calls, normalised (temp paths, ports) so a reader can diff runs."""
        lines = []
        for e in self.calls():
            if e["src"] in ("kind", "helm", "kubectl"):
                text = f"{e['src']} " + " ".join(e["argv"])
                if e.get("stdin"):
                    text += f"    <stdin values: {json.dumps(e['stdin'], sort_keys=True)}>"
            elif e["src"] == "api":
                text = f"api {e['method']} {e['path']}" + (
                    f"  [{e['content_type']}]" if e.get("content_type") else ""
                )
            elif e["src"] == "docker":
                q = "&".join(f"{k}={v}" for k, v in e["query"].items())
                text = f"docker {e['method']} {e['path']}" + (f"?{q}" if q else "")
            else:
                text = f"{e['src']} {e['method']} https://localhost:<gateway>{e['path']}"
            lines.append(text)
        out = "\n".join(lines) + "\n"
        out = out.replace(str(self.tmp), "<tmp>")
        out = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", out)
        return out

    def close(self) -> None:
        for server in (self.kube_server, self.docker_server, self.gateway_server):
            if server is not None:
                server.shutdown()
                server.server_close()
