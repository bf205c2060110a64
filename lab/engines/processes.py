"""Background processes of the engines: identity, finding them again, stopping them, their logs.

The embedded engine's lab process and the cluster engine's port-forward helper both run detached as
`python -m MODULE --config FILE`. A process is one of ours only when its pid, its start time and its
command line (module and config file) all match, so a recycled pid is never signalled; leftovers of
a state folder are found by their command line, which survives a lost or corrupt state.json. psutil
makes this work the same on Linux and macOS.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from lab.errors import EnvironmentNotReady
from lab.state import read_private, unusable
from lab.waiting import Pending, poll


@dataclass(frozen=True)
class Running:
    """A running background process: pid and start time (psutil's create_time)."""

    pid: int
    started: float


def started_at(pid: int) -> float | None:
    """The start time of process `pid`, or None when there is none (or it is a zombie)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            with contextlib.suppress(psutil.Error, ChildProcessError):
                proc.wait(0)  # reap it when it is our child
            return None
        return float(proc.create_time())
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return None


@dataclass(frozen=True)
class Helper:
    """One kind of background process: `python -m <module> --config FILE`."""

    module: str

    def config_of(self, cmdline: list[str]) -> str | None:
        """The config file of a command line of this kind, None for any other command line."""
        if self.module not in cmdline or "--config" not in cmdline:
            return None
        at = cmdline.index("--config") + 1
        return cmdline[at] if at < len(cmdline) else None

    def is_ours(self, pid: int, started: float | None, config_file: Path | None = None) -> bool:
        """True when `pid` runs this module (with `config_file` when given), started at `started`."""
        try:
            proc = psutil.Process(pid)
            if started is not None and abs(proc.create_time() - started) > 0.05:
                return False
            config = self.config_of(proc.cmdline())
        except psutil.Error:
            return False
        if config is None or proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return config_file is None or Path(config) == config_file

    def alive(self, pid: int | None, started: float | None) -> bool:
        """Whether the recorded process still runs (same pid, same start time, this command line)."""
        return bool(pid) and self.is_ours(int(pid or 0), started)

    def spawn(self, config_file: Path, log_file: Path, cwd: Path) -> subprocess.Popen[bytes]:
        """Start `python -m <module> --config FILE` detached (own session), output appended to `log_file`."""
        try:
            log = open(log_file, "ab")  # noqa: SIM115 (closed below, once the child has it)
        except OSError as exc:
            raise unusable(log_file, "write", exc) from exc
        with log:
            return subprocess.Popen(
                [sys.executable, "-m", self.module, "--config", str(config_file)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                cwd=cwd,
            )

    def find(self, config_file: Path) -> list[Running]:
        """Processes of this kind started with `config_file`, whatever state.json says."""
        found = []
        for proc in psutil.process_iter(["pid", "cmdline", "create_time", "status"]):
            info = proc.info
            if info.get("status") == psutil.STATUS_ZOMBIE:
                continue
            config = self.config_of(list(info.get("cmdline") or []))
            if config is not None and Path(config) == config_file:
                found.append(Running(int(info["pid"]), float(info["create_time"])))
        return found


def read_runtime(path: Path) -> dict[str, Any] | None:
    """The runtime file a background process writes once it serves (None: not there or unreadable)."""
    try:
        data = json.loads(read_private(path, 65536).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def wait_serving(
    proc: subprocess.Popen[bytes], runtime_file: Path, *, what: str, budget: float, interval: float
) -> dict[str, Any] | bool | None:
    """Its runtime record once `proc` wrote it; False when `proc` exited first; None when time ran out."""

    def serving() -> dict[str, Any] | Pending:
        if proc.poll() is not None:
            return {}  # exited: no record will come
        runtime = read_runtime(runtime_file)
        return runtime if runtime and runtime.get("pid") == proc.pid else Pending("no runtime record yet")

    found = poll(serving, what=what, budget=budget, interval=interval)
    return None if found is None else (found or False)


def stop(process: Running, grace: float, interval: float, what: str = "lab process") -> str:
    """SIGTERM, wait up to `grace` s, then SIGKILL; say which it took. Never signals another process."""

    def gone() -> bool | None:
        return True if started_at(process.pid) != process.started else None

    if gone():
        return "already gone"
    for sig, how in ((signal.SIGTERM, "stopped (SIGTERM)"), (signal.SIGKILL, f"killed (SIGKILL after {grace:g} s)")):
        try:
            proc = psutil.Process(process.pid)
            if abs(proc.create_time() - process.started) > 0.05:
                return "already gone"
            proc.send_signal(sig)
        except psutil.NoSuchProcess:
            return "already gone" if sig == signal.SIGTERM else how
        if poll(gone, what=f"{what} {process.pid} to exit", budget=grace, interval=interval):
            return how
    raise EnvironmentNotReady(f"{what} {process.pid} survives SIGKILL", fix=f"check `ps -o stat {process.pid}`")


def log_tail(path: Path, lines: int = 15) -> list[str]:
    """The last lines of a background process's log."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return []
