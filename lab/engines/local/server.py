"""The embedded engine's lab process: pods, the HTTPS gateway and a token-protected admin endpoint.

Run as `python -m lab.engines.local.server --config <state>/server-config.json` (detached, by
`LocalEngine.up`) or in-process through `LabServer` (tests, benchmarks). The admin endpoint is
plain HTTP on 127.0.0.1 at an ephemeral port; every call carries the token from the state folder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from lab.engines.local.admin import AdminEndpoint, bound_port
from lab.engines.local.apps import handler_for
from lab.engines.local.config import TOKEN_FILE, ServerConfig
from lab.engines.local.gateway import Gateway, ListenerSpec, Routing
from lab.engines.local.pki import TlsFiles
from lab.engines.local.workloads import PodSpec, not_emulated, plan_pods, plan_services
from lab.errors import EnvironmentNotReady, LabError
from lab.spec.conditions import serves, summary
from lab.spec.findings import findings
from lab.spec.manifests import Resource, load
from lab.spec.routing import RouteTable
from lab.spec.topology import Topology
from lab.spec.validation import ensure_valid

# Seconds the gateway lets in-flight requests finish when it stops.
SHUTDOWN_GRACE = 1.0


@dataclass(frozen=True)
class RunningPod:
    """A pod's backend server and the port it answers on."""

    spec: PodSpec
    runner: web.ServerRunner
    port: int

    @property
    def url(self) -> str:
        """Base URL the gateway proxies to."""
        return f"http://127.0.0.1:{self.port}"


def _listener_ports(topo: Topology) -> dict[int, str]:
    """Manifest port -> scheme for every listener the lab's controller serves (Ready, HTTP/HTTPS)."""
    out: dict[int, str] = {}
    for lst in topo.listeners():
        if serves(topo, lst):
            out.setdefault(lst.port, lst.scheme)
    return out


def _tables(topo: Topology) -> dict[int, RouteTable]:
    """One table per port: the routes of every served listener on it, narrowed to its hostname.

    BackendRefs the controller drops stay in their rules and get 503 for their share.
    """
    by_port: dict[int, list[tuple[Resource, str | None]]] = {}
    for lst in topo.listeners():
        if not serves(topo, lst):
            continue
        routes = by_port.setdefault(lst.port, [])
        for route in topo.attached_routes(lst):
            if (route, lst.hostname) not in routes:
                routes.append((route, lst.hostname))
    return {port: RouteTable(routes, resolve=topo.backend_problem) for port, routes in by_port.items()}


class LabServer:
    """The running embedded lab: start from resources, apply new ones atomically, stop."""

    def __init__(
        self,
        tls: TlsFiles,
        *,
        bind: str = "127.0.0.1",
        port_map: Sequence[tuple[int, int]] = (),
        rng: random.Random | None = None,
    ) -> None:
        self.tls = tls
        self.bind = bind
        self.port_map = dict(port_map)
        self.rng = rng or random.Random()  # noqa: S311 - names and splits, not security
        self.gateway = Gateway(Routing({}), self.rng)
        self.pods: dict[str, RunningPod] = {}
        self.pod_services: dict[str, tuple[str, ...]] = {}
        self.listeners: dict[int, tuple[web.ServerRunner, int]] = {}
        self.topology = Topology(())
        self.started_at = time.time()
        self._lock = asyncio.Lock()

    async def start(self, resources: Sequence[Resource]) -> None:
        """Start pods and listeners for a validated set of resources."""
        await self.gateway.open()
        await self.apply(resources)

    async def _start_pod(self, spec: PodSpec) -> RunningPod:
        port_box = [0]
        handler = handler_for(spec, lambda: self.pod_services.get(spec.name, ()), lambda: port_box[0])
        runner = web.ServerRunner(
            web.Server(handler, access_log=None), handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_box[0] = bound_port(runner)
        return RunningPod(spec, runner, port_box[0])

    async def _start_listener(self, spec: ListenerSpec) -> tuple[web.ServerRunner, int]:
        local = self.port_map.get(spec.port, spec.port)
        server = web.Server(self.gateway.handler(spec), access_log=None, auto_decompress=False)
        runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE)
        await runner.setup()
        ssl_context = self.tls.server_context() if spec.scheme == "https" else None
        site = web.TCPSite(runner, self.bind, local, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise EnvironmentNotReady(
                f"gateway listener port {local} on {self.bind} is busy ({exc.strerror})",
                fix=f"free the port, or remap it: --port {spec.port}=<free port>",
            ) from exc
        return runner, bound_port(runner)

    async def apply(self, resources: Sequence[Resource]) -> None:
        """Validate, then converge pods and listeners and swap the routing in one assignment."""
        ensure_valid(resources)
        async with self._lock:
            topo = Topology(resources)
            previous = tuple(p.spec for p in self.pods.values())
            wanted = plan_pods(topo, self.rng, previous)
            wanted_names = {p.name for p in wanted}
            wanted_ports = _listener_ports(topo)
            started: dict[str, RunningPod] = {}
            opened: dict[int, tuple[web.ServerRunner, int]] = {}
            try:
                for port, scheme in wanted_ports.items():
                    if port not in self.listeners:
                        opened[port] = await self._start_listener(ListenerSpec(port, scheme))
                for spec in wanted:
                    if spec.name not in self.pods:
                        started[spec.name] = await self._start_pod(spec)
            except BaseException:
                for runner, _ in opened.values():
                    await runner.cleanup()
                for pod in started.values():
                    await pod.runner.cleanup()
                raise
            pods = {name: pod for name, pod in {**self.pods, **started}.items() if name in wanted_names}
            services = plan_services(topo, wanted)
            endpoints = {s.key: tuple(pods[n].url for n in s.pods) for s in services if s.pods}
            selecting: dict[str, list[str]] = {}
            for s in services:
                for n in s.pods:
                    selecting.setdefault(n, []).append(s.name)
            retired_pods = [p for name, p in self.pods.items() if name not in wanted_names]
            retired_listeners = [v for port, v in self.listeners.items() if port not in wanted_ports]
            # the swap: one assignment each; requests already routed finish on the old table
            self.pod_services = {n: tuple(v) for n, v in selecting.items()}
            self.gateway.swap(Routing(_tables(topo), endpoints))
            self.pods = pods
            self.listeners = {p: v for p, v in {**self.listeners, **opened}.items() if p in wanted_ports}
            self.topology = topo
            for pod in retired_pods:
                await pod.runner.cleanup()
            for runner, _ in retired_listeners:
                await runner.cleanup()

    @property
    def ports(self) -> dict[int, int]:
        """Listener port in the manifests -> port listening on this machine."""
        return {port: local for port, (_, local) in self.listeners.items()}

    def snapshot(self) -> dict[str, Any]:
        """What `lab status` shows: listeners, pods with their Services and ports, not emulated."""
        return {
            "pid": os.getpid(),
            "started_at": self.started_at,
            "bind": self.bind,
            "ports": {str(k): v for k, v in self.ports.items()},
            "schemes": {str(k): scheme for k, scheme in _listener_ports(self.topology).items()},
            "pods": [
                {
                    "name": p.spec.name,
                    "namespace": p.spec.namespace,
                    "deployment": p.spec.deployment,
                    "app": p.spec.app,
                    "image": p.spec.image,
                    "services": list(self.pod_services.get(name, ())),
                    "port": p.port,
                }
                for name, p in self.pods.items()
            ],
            "not_emulated": [{"ref": n.ref, "reason": n.reason} for n in not_emulated(self.topology)],
            "conditions": summary(self.topology),
            "findings": [
                {
                    "ref": f.resource.ref,
                    "condition": f.condition,
                    "message": f.message,
                    "effect": f.effect,
                    "kind_engine": f.kind_engine,
                }
                for f in findings(self.topology.resources)
            ],
        }

    async def stop(self) -> None:
        """Close listeners first (no new requests), then pods, then the client pool."""
        for runner, _ in self.listeners.values():
            await runner.cleanup()
        self.listeners = {}
        for pod in self.pods.values():
            await pod.runner.cleanup()
        self.pods = {}
        await self.gateway.close()


async def serve(config: ServerConfig) -> int:
    """Run the lab until SIGTERM or SIGINT; return the exit status."""
    state_dir = Path(config.state_dir)
    token = (state_dir / TOKEN_FILE).read_text(encoding="utf-8").strip()
    lab = LabServer(
        TlsFiles(Path(config.ca_file), Path(config.cert_file), Path(config.key_file)),
        bind=config.bind,
        port_map=config.port_map,
        rng=None if config.seed is None else random.Random(config.seed),  # noqa: S311 - splits
    )
    admin = AdminEndpoint(lab, config, token)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await lab.start(load(Path(f) for f in config.files))
        await admin.start()
        admin.write_runtime()
        print(f"lab process {os.getpid()} ready: ports {lab.ports}, admin port {admin.port}", flush=True)
        await stop.wait()
        print("lab process stopping (signal)", flush=True)
        return 0
    except LabError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return int(error.exit_code)
    finally:
        await admin.stop()
        await lab.stop()
        with contextlib.suppress(FileNotFoundError):
            admin.runtime_file.unlink()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the background lab process."""
    parser = argparse.ArgumentParser(prog="python -m lab.engines.local.server")
    parser.add_argument("--config", required=True, type=Path)
    args = parser.parse_args(argv)
    config = ServerConfig.from_json(json.loads(args.config.read_text(encoding="utf-8")))
    return asyncio.run(serve(config))


if __name__ == "__main__":
    sys.exit(main())
