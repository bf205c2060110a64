"""The cluster engine's way to its gateway: the port-forward helper process, started, found and stopped.

The helper (lab.engines.kube.portforward) runs detached, like the embedded engine's lab process:
identified by pid + start time + command line (`-m lab.engines.kube.portforward --config
<state>/portforward.json`), recorded in the engine's state record, found again from its command
line when the record is lost, restarted on the same local ports when it died, stopped by `lab down`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lab.engines import processes
from lab.errors import EnvironmentNotReady, NotConverged
from lab.state import StateDir, read_private
from lab.timeouts import DEFAULT, Timeouts

MODULE = "lab.engines.kube.portforward"
CONFIG_FILE = "portforward.json"
RUNTIME_FILE = "portforward-runtime.json"
LOG_FILE = "portforward.log"
HELPER = processes.Helper(MODULE)


@dataclass(frozen=True)
class Forward:
    """One forwarded port: local 127.0.0.1 port (0: any free one) -> `remote` on a pod of `selector`."""

    namespace: str
    selector: str
    remote: int
    local: int = 0


@dataclass(frozen=True)
class TunnelConfig:
    """What the helper is started with (portforward.json in the state folder)."""

    kubeconfig: str | None
    context: str | None
    forwards: tuple[Forward, ...]
    runtime_file: str
    bind: str = "127.0.0.1"
    request_timeout: float = DEFAULT.api_request

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kubeconfig": self.kubeconfig,
            "context": self.context,
            "forwards": [[f.namespace, f.selector, f.remote, f.local] for f in self.forwards],
            "runtime_file": self.runtime_file,
            "bind": self.bind,
            "request_timeout": self.request_timeout,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TunnelConfig:
        """Inverse of to_json."""
        return cls(
            kubeconfig=data.get("kubeconfig"),
            context=data.get("context"),
            forwards=tuple(Forward(str(n), str(s), int(r), int(lo)) for n, s, r, lo in data["forwards"]),
            runtime_file=str(data["runtime_file"]),
            bind=str(data.get("bind", "127.0.0.1")),
            request_timeout=float(data.get("request_timeout", DEFAULT.api_request)),
        )


@dataclass(frozen=True)
class TunnelRecord:
    """The running helper: pid, start time, and listener port -> local port it forwards."""

    pid: int
    started: float
    ports: Mapping[int, int]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"pid": self.pid, "started": self.started, "ports": {str(k): v for k, v in self.ports.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TunnelRecord:
        """Inverse of to_json (the caller turns a malformed record into CorruptState)."""
        ports = data["ports"]
        return cls(int(data["pid"]), float(data["started"]), {int(k): int(v) for k, v in ports.items()})


class Tunnel:
    """Starts, checks and stops the port-forward helper of one state folder."""

    def __init__(self, state: StateDir, timeouts: Timeouts) -> None:
        self.state = state
        self.timeouts = timeouts

    @property
    def config_file(self) -> Path:
        """portforward.json in the state folder (the helper's identity on its command line)."""
        return self.state.path / CONFIG_FILE

    @property
    def log_file(self) -> Path:
        """Where the helper writes what it does."""
        return self.state.path / LOG_FILE

    def start(self, config: TunnelConfig) -> TunnelRecord:
        """Start the helper and wait until it listens; the config keeps the ports it got, for a restart."""
        self.state.write_private(CONFIG_FILE, json.dumps(config.to_json(), indent=2).encode())
        (self.state.path / RUNTIME_FILE).unlink(missing_ok=True)
        proc = HELPER.spawn(self.config_file, self.log_file, self.state.path)
        started = processes.started_at(proc.pid) or 0.0
        runtime = processes.wait_serving(
            proc,
            self.state.path / RUNTIME_FILE,
            what="the port-forward helper to listen",
            budget=self.timeouts.tunnel_start,
            interval=self.timeouts.local_poll,
        )
        if not isinstance(runtime, dict):
            if proc.poll() is None:
                processes.stop(processes.Running(proc.pid, started), self.timeouts.local_stop, self.timeouts.local_poll)
            tail = "\n    ".join(processes.log_tail(self.log_file))
            raise EnvironmentNotReady(
                f"the port-forward helper did not start listening within {self.timeouts.tunnel_start:g} s:\n    {tail}",
                fix=f"see {self.log_file}; a local port taken by another program is named there",
            )
        ports = {int(k): int(v) for k, v in runtime["ports"].items()}
        kept = tuple(Forward(f.namespace, f.selector, f.remote, ports[f.remote]) for f in config.forwards)
        self.state.write_private(
            CONFIG_FILE, json.dumps(replace(config, forwards=kept).to_json(), indent=2).encode()
        )
        return TunnelRecord(proc.pid, started, ports)

    def alive(self, record: TunnelRecord | None) -> bool:
        """Whether the recorded helper still runs (same pid, start time and command line)."""
        return record is not None and HELPER.alive(record.pid, record.started)

    def forwards(self) -> tuple[Forward, ...] | None:
        """What the helper of this state folder forwards (None without a readable config)."""
        try:
            return TunnelConfig.from_json(json.loads(read_private(self.config_file, 65536).decode("utf-8"))).forwards
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def restart(self) -> TunnelRecord:
        """Start the helper again from its config (the same local ports)."""
        try:
            config = TunnelConfig.from_json(json.loads(read_private(self.config_file, 65536).decode("utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise NotConverged(
                f"the port-forward helper is gone and its config {self.config_file} is unreadable ({exc})",
                fix="`lab down`, then `lab up`",
            ) from exc
        return self.start(config)

    def found(self) -> list[processes.Running]:
        """Helpers of this state folder, found by their command line."""
        return HELPER.find(self.config_file)

    def stop(self, record: TunnelRecord | None) -> list[str]:
        """Stop the recorded helper and any other of this state folder; what was done, per process."""
        targets = {p.pid: p for p in self.found()}
        if record is not None and HELPER.is_ours(record.pid, record.started, self.config_file):
            targets[record.pid] = processes.Running(record.pid, record.started)
        done = []
        for target in targets.values():
            how = processes.stop(target, self.timeouts.local_stop, self.timeouts.local_poll, "port-forward helper")
            done.append(f"port-forward helper {target.pid}: {how}")
        for name in (CONFIG_FILE, RUNTIME_FILE):
            (self.state.path / name).unlink(missing_ok=True)
        return done
