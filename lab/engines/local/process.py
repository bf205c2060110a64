"""The embedded lab's background process: its identity, finding it, stopping it, reading its log.

A process is the lab's only when its pid, its start time and its command line all match, so a
recycled pid is never signalled. Leftover lab processes of a state folder are found by their
command line (`-m lab.engines.local.server --config <state>/server-config.json`), which survives a
lost or corrupt state.json. psutil makes this work the same on Linux and macOS.
"""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass
from pathlib import Path

import psutil

from lab.errors import EnvironmentNotReady
from lab.waiting import poll

SERVER_MODULE = "lab.engines.local.server"
LOG_TAIL = 15


@dataclass(frozen=True)
class LabProcess:
    """A running lab process: pid and start time (psutil's create_time)."""

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
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return None


def _config_of(cmdline: list[str]) -> str | None:
    if SERVER_MODULE not in cmdline or "--config" not in cmdline:
        return None
    at = cmdline.index("--config") + 1
    return cmdline[at] if at < len(cmdline) else None


def is_lab_process(pid: int, started: float | None, config_file: Path | None = None) -> bool:
    """True when `pid` is a lab server (of `config_file` when given) started at `started`."""
    try:
        proc = psutil.Process(pid)
        if started is not None and abs(proc.create_time() - started) > 0.05:
            return False
        config = _config_of(proc.cmdline())
    except psutil.Error:
        return False
    if config is None or proc.status() == psutil.STATUS_ZOMBIE:
        return False
    return config_file is None or Path(config) == config_file


def alive(pid: int | None, started: float | None) -> bool:
    """Whether the recorded lab process still runs (same pid, same start time, lab command line)."""
    return bool(pid) and is_lab_process(int(pid or 0), started)


def find(config_file: Path) -> list[LabProcess]:
    """Lab processes started with this config file (the state folder's), whatever state.json says."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "create_time", "status"]):
        info = proc.info
        cmdline = info.get("cmdline") or []
        if info.get("status") == psutil.STATUS_ZOMBIE:
            continue
        config = _config_of(list(cmdline))
        if config is not None and Path(config) == config_file:
            found.append(LabProcess(int(info["pid"]), float(info["create_time"])))
    return found


def stop(process: LabProcess, grace: float, interval: float) -> str:
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
        if poll(gone, what=f"lab process {process.pid} to exit", budget=grace, interval=interval):
            return how
    raise EnvironmentNotReady(
        f"lab process {process.pid} survives SIGKILL", fix=f"check `ps -o stat {process.pid}`"
    )


def log_tail(path: Path, lines: int = LOG_TAIL) -> list[str]:
    """The last lines of the lab process's log."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return []
