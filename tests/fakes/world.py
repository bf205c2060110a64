"""Everything a kind- or cluster-engine contract test needs, wired together: fake tools on PATH, fake
Kubernetes API (behaviour in virtual time), fake Docker, fake HTTPS gateway pods with a test CA (on the
kind host port when the gateway uses host ports, else reachable only through the API server's
port-forward endpoint), and the real pinned CRD files served from a local URL in place of GitHub.
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
        self.kube = kube_api.FakeKube(
            self.log, ca_pem, self.clock, server_cert_pem=cert.read_bytes(), server_key_pem=key.read_bytes()
        )
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
        # gateway pods without host ports: (namespace, pod) -> their HTTPS server, reached by port-forward
        self.pod_servers: dict[tuple[str, str], tuple[Any, int, tls.FakeGateway]] = {}
        self.kube.pod_address = self.pod_address
        self.kube.cluster.on_gateway_ready = self.gateway_pod_ready
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

    def gateway_pod_ready(self, ns: str, gateway: str, pod: str, host_ports: bool) -> None:
        """A gateway pod runs: on kind's host port when it asks for host ports, else on a pod port."""
        if host_ports:
            self.start_gateway()
        elif (ns, pod) not in self.pod_servers:
            fake = tls.FakeGateway(self.log, pick=lambda path: self.pick(path, (ns, gateway)), serving=True)
            server, port = tls.serve_gateway(fake, self._cert, self._key)
            self.pod_servers[(ns, pod)] = (server, port, fake)

    def pod_address(self, ns: str, pod: str, port: int) -> tuple[str, int] | None:
        """Where a gateway pod's listener port answers (for the fake port-forward endpoint)."""
        found = self.pod_servers.get((ns, pod))
        with self.kube.lock:
            obj = self.kube.cluster.get("Pod", ns, pod)
            gateway = self.kube.cluster.get("Gateway", ns, ((obj or {}).get("metadata") or {}).get("labels", {}).get(
                "api-gateway.consul.hashicorp.com/name", ""))
            # the listener gets no certificate: modelled as Envoy keeping a listener whose SDS certificate
            # never came warming, its port not opened (a real one may instead fail the TLS handshake)
            unserved = gateway is not None and any(
                self.kube.cluster.certificate_missing(gateway, lst)
                for lst in gateway["spec"].get("listeners") or [] if lst.get("port") == port
            )
        listeners = [p["containerPort"] for c in (obj or {}).get("spec", {}).get("containers", []) for p in c.get("ports") or []]
        if found is None or port not in listeners or unserved:
            return None
        return "127.0.0.1", found[1]

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

    def pick(self, path: str, gateway: tuple[str, str] | None = None) -> tuple[str, str] | None:
        with self.kube.lock:
            return self.kube.cluster.answer(path, self.rng, gateway)

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
        """Engines that lab.lifecycle creates itself sleep and tell time through the fakes' clock.

        A wrapper rather than new `__kwdefaults__`: mutmut wraps `__init__` in a function of its own
        (`*args, **kwargs`), whose keyword defaults would be changed to no effect.
        """
        from lab.engines.kube.steps import KubernetesLab

        original = KubernetesLab.__init__

        def init(engine: KubernetesLab, *args: Any, **kw: Any) -> None:
            kw.setdefault("sleep", self.sleep)
            kw.setdefault("clock", self.clock.now)
            original(engine, *args, **kw)

        self.monkeypatch.setattr(KubernetesLab, "__init__", init)

    def kind_engine(self, **kw: Any) -> KindEngine:
        cache = kw.pop("cache", self.cache if not (self.state.path / "prefetch-cache-dir").exists() else None)
        return KindEngine(self.options(**kw), sleep=self.sleep, clock=self.clock.now, cache=cache)

    def cluster_engine(self, **kw: Any) -> ClusterEngine:
        return ClusterEngine(self.options(**kw), sleep=self.sleep, clock=self.clock.now, cache=self.cache)

    # -- a shared cluster -------------------------------------------------------------------------
    def use_kubeconfig(self, context: str = "workshop") -> Path:
        """A kubeconfig of the shared (fake) cluster in $KUBECONFIG, its context not the current one."""
        path = self.tmp / "home-kubeconfig"
        path.write_text(
            f"apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: {self.kube_url}\n  name: shared\n"
            f"contexts:\n- context:\n    cluster: shared\n    user: me\n  name: {context}\ncurrent-context: other\n"
            "users:\n- name: me\n  user:\n    token: t\n"
        )
        self.monkeypatch.setenv("KUBECONFIG", str(path))
        return path

    def attendee(self, name: str, **kw: Any) -> ClusterEngine:
        """The cluster engine of one attendee: their own state folder and namespace lab-NAME."""
        options = EngineOptions(
            state=StateDir(self.tmp / f"state-{name}"),
            timeouts=kw.pop("timeouts", FAST),
            kube_context="workshop",
            namespace=kw.pop("namespace", f"lab-{name}"),
            **kw,
        )
        return ClusterEngine(options, sleep=self.sleep, clock=self.clock.now, cache=self.cache)

    def gateway_pods(self, ns: str) -> list[tls.FakeGateway]:
        """The fake gateway pods (reached only by port-forward) of a namespace."""
        return [fake for (pod_ns, _), (_, _, fake) in self.pod_servers.items() if pod_ns == ns]

    def serve_gateway_api_v1(self) -> None:
        """The cluster already serves Gateway API v1.0.0 (standard channel): v1 and v1beta1, no v1alpha2."""
        for plural, kind in (("gatewayclasses", "GatewayClass"), ("gateways", "Gateway"), ("httproutes", "HTTPRoute")):
            crd = {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {
                    "name": f"{plural}.gateway.networking.k8s.io",
                    "annotations": {"gateway.networking.k8s.io/bundle-version": "v1.0.0"},
                },
                "spec": {
                    "group": "gateway.networking.k8s.io",
                    "names": {"plural": plural, "kind": kind},
                    "scope": "Cluster" if kind == "GatewayClass" else "Namespaced",
                    "versions": [
                        {"name": "v1", "served": True, "storage": True},
                        {"name": "v1beta1", "served": True, "storage": False},
                    ],
                },
            }
            with self.kube.lock:
                code, obj = self.kube.apply(self.kube.find("apiextensions.k8s.io", "v1", "customresourcedefinitions"), "", crd)
                assert code == 200, obj["message"]

    def install_consul_by_someone(self, namespace: str = "consul", **images: str) -> None:
        """Consul chart 0.40.0 with the API gateway, installed by someone else (plain helm, their CRDs).

        `images` replaces a component's image (connect-injector=..., api-gateway-controller=...); a
        component given as "" is not there.
        """
        import yaml

        for crd in pins.CRD_FILES:
            for doc in yaml.safe_load_all((CRD_DIR / crd.name).read_bytes()):
                with self.kube.lock:
                    self.kube.apply(self.kube.find("apiextensions.k8s.io", "v1", "customresourcedefinitions"), "", doc)
        self.clock.t += 1
        (self.fake_state / "helm.json").write_text(
            json.dumps({"namespace": namespace, "revision": 1, "status": "deployed", "description": "Install complete",
                        "values": {}, "history": []})
        )
        with self.kube.lock:
            self.kube.clock.due()
            self.kube.helm("install", namespace, False)
            for component, image in images.items():
                key = self.kube.cluster.key("Deployment", namespace, f"consul-{component}")
                if image:
                    self.kube.cluster.objects[key]["spec"]["template"]["spec"]["containers"][0]["image"] = image
                else:
                    self.kube.cluster.objects.pop(key, None)
        self.clock.t += 5
        with self.kube.lock:
            self.kube.clock.due()
            self.kube.helm("deployed", namespace)
        self.clock.frozen = False

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

    def stop_port_forwards(self) -> None:
        """Stop every port-forward helper a test of this world started (a test may end without `lab down`)."""
        import psutil

        from lab.engines import processes
        from lab.engines.kube.tunnel import HELPER

        for proc in psutil.process_iter(["pid", "cmdline", "create_time"]):
            config = HELPER.config_of(list(proc.info.get("cmdline") or []))
            if config is not None and config.startswith(str(self.tmp)):
                processes.stop(processes.Running(proc.info["pid"], proc.info["create_time"]), 5, 0.02, "port-forward helper")

    def close(self) -> None:
        self.stop_port_forwards()
        pods = [server for server, _, _ in self.pod_servers.values()]
        for server in (self.kube_server, self.docker_server, self.gateway_server, *pods):
            if server is not None:
                server.shutdown()
                server.server_close()
