"""The lab's state folder (default `.lab/` beside the lab definition): state.json and a lock.

One running lab per state folder. Writes are atomic (temp file + rename); a lock file held with
flock keeps two lab commands from corrupting it; private keys written here are 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.errors import EnvironmentNotReady

STATE_FILE = "state.json"
LOCK_FILE = "lock"


@dataclass(frozen=True)
class LabState:
    """What a running lab is: engine, scenario, where the gateway answers, how to reach it."""

    engine: str
    scenario: str
    step: str
    lab_dir: str
    started_at: float
    gateway_host: str
    # listener port in the manifests -> port actually listening on this machine
    ports: Mapping[int, int]
    ca_file: str
    pid: int | None = None
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    # keys (group/kind/namespace/name) of what the lab applied, for "apply only what differs"
    applied: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (ports keys as strings)."""
        data = asdict(self)
        data["ports"] = {str(k): v for k, v in self.ports.items()}
        data["applied"] = list(self.applied)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LabState:
        """Inverse of to_json."""
        values = dict(data)
        values["ports"] = {int(k): int(v) for k, v in (data.get("ports") or {}).items()}
        values["applied"] = tuple(data.get("applied") or ())
        values["extra"] = dict(data.get("extra") or {})
        return cls(**values)

    def pods(self) -> list[Mapping[str, Any]]:
        """Pods the engine recorded in `extra["pods"]`: name, namespace, services, port (local)."""
        pods = self.extra.get("pods") or ()
        return [p for p in pods if isinstance(p, Mapping)]

    def pod_services(self) -> dict[str, tuple[str, ...]]:
        """Pod name -> the Services selecting it, as recorded by the engine."""
        return {str(p["name"]): tuple(str(s) for s in p.get("services") or ()) for p in self.pods()}

    def gateway_url(self, listener_port: int, path: str = "/", scheme: str = "https") -> str:
        """The URL that reaches a listener of the running lab (scheme: the listener's, http or https)."""
        return f"{scheme}://{self.gateway_host}:{self.ports.get(listener_port, listener_port)}{path}"


class StateDir:
    """The state folder of one lab definition."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def state_file(self) -> Path:
        """state.json."""
        return self.path / STATE_FILE

    def ensure(self) -> Path:
        """Create the folder (0700) if needed."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.path

    @contextlib.contextmanager
    def lock(self, timeout: float = 10.0, sleep: float = 0.1) -> Iterator[None]:
        """Hold the state lock; another lab command holding it for `timeout` s is an error."""
        self.ensure()
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise EnvironmentNotReady(
                            f"another lab command is using {self.path} (its lock is held)",
                            fix="wait for it to finish, or stop it; then run this again",
                        ) from None
                    time.sleep(sleep)
            yield
        finally:
            os.close(fd)

    def read(self) -> LabState | None:
        """The running lab's state, or None."""
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None
        return LabState.from_json(data)

    def write(self, state: LabState) -> None:
        """Atomically replace state.json."""
        self.ensure()
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state.to_json(), indent=2), encoding="utf-8")
        os.replace(tmp, self.state_file)

    def clear(self) -> None:
        """Remove state.json (the folder and the lock stay)."""
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()

    def write_private(self, name: str, data: bytes) -> Path:
        """Write a file only the user can read (keys): created 0600 before any byte is written."""
        self.ensure()
        path = self.path / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(path, 0o600)
        return path
