"""The embedded lab's background process: its identity, finding it, stopping it, reading its log.

A process is the lab's only when its pid, its start time and its command line all match, so a
recycled pid is never signalled. Leftover lab processes of a state folder are found by their
command line (`-m lab.engines.local.server --config <state>/server-config.json`), which survives a
lost or corrupt state.json. The mechanics are lab.engines.processes', shared with the cluster
engine's port-forward helper.
"""

from __future__ import annotations

from pathlib import Path

from lab.engines import processes
from lab.engines.processes import Running as LabProcess
from lab.engines.processes import started_at

__all__ = ["LOG_TAIL", "SERVER_MODULE", "LabProcess", "alive", "find", "is_lab_process", "log_tail", "started_at", "stop"]

SERVER_MODULE = "lab.engines.local.server"
LOG_TAIL = 15
SERVER = processes.Helper(SERVER_MODULE)


def is_lab_process(pid: int, started: float | None, config_file: Path | None = None) -> bool:
    """True when `pid` is a lab server (of `config_file` when given) started at `started`."""
    return SERVER.is_ours(pid, started, config_file)


def alive(pid: int | None, started: float | None) -> bool:
    """Whether the recorded lab process still runs (same pid, same start time, lab command line)."""
    return SERVER.alive(pid, started)


def find(config_file: Path) -> list[LabProcess]:
    """Lab processes started with this config file (the state folder's), whatever state.json says."""
    return SERVER.find(config_file)


def stop(process: LabProcess, grace: float, interval: float) -> str:
    """SIGTERM, wait up to `grace` s, then SIGKILL; say which it took. Never signals another process."""
    return processes.stop(process, grace, interval, "lab process")


def log_tail(path: Path, lines: int = LOG_TAIL) -> list[str]:
    """The last lines of the lab process's log."""
    return processes.log_tail(path, lines)
