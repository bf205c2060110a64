"""Local TCP ports: is one free, who holds it (best effort, as the OS tells), and pick free ones.

Checked before the embedded engine starts anything, so a busy port fails fast and names the fix.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import subprocess
from pathlib import Path

from lab.timeouts import DEFAULT

_SS_USER = re.compile(r'\("([^"]+)",pid=(\d+)')


def bind_error(host: str, port: int) -> OSError | None:
    """Why a listener could not bind (host, port) now, or None when it could."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        return exc
    return None


def is_free(host: str, port: int) -> bool:
    """True when a listener could bind (host, port) now."""
    return bind_error(host, port) is None


def ensure_bindable(host: str, port: int, listener_port: int) -> None:
    """EnvironmentNotReady (exit 4) saying why (host, port) cannot serve Gateway listener `listener_port`."""
    from lab.errors import EnvironmentNotReady

    error = bind_error(host, port)
    if error is None:
        return
    if error.errno == errno.EADDRINUSE:
        holder = owner(port)
        raise EnvironmentNotReady(
            f"port {port} on {host} (Gateway listener {listener_port}) is already in use"
            + (f" by {holder}" if holder else ""),
            fix=f"stop what holds it, or remap the listener: --port {listener_port}={free_port()}",
        )
    if error.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(error, socket.gaierror):
        raise EnvironmentNotReady(
            f"--bind {host}: not an address of this machine ({error.strerror or error})",
            fix="use 127.0.0.1 (the default), ::1, 0.0.0.0, or an address `ip addr` lists",
        )
    raise EnvironmentNotReady(
        f"cannot listen on {host}:{port} (Gateway listener {listener_port}): {error.strerror or error}",
        fix=f"remap the listener to a port above 1023: --port {listener_port}={free_port()}"
        if error.errno == errno.EACCES
        else "check --bind and --port",
    )


def free_port(host: str = "127.0.0.1") -> int:
    """An ephemeral port that is free right now (for tests, benchmarks and suggestions)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _from_ss(port: int) -> str | None:
    try:
        out = subprocess.run(
            ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=DEFAULT.os_query, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = _SS_USER.search(out)
    if found:
        return f"{found.group(1)} (pid {found.group(2)})"
    return None


def _socket_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(parts[9])
    return inodes


def _from_proc(port: int) -> str | None:
    inodes = _socket_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{i}]" for i in inodes}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in targets:
                        comm = Path(f"/proc/{pid}/comm").read_text().strip()
                        return f"{comm} (pid {pid})"
    return None


def owner(port: int) -> str | None:
    """Which process listens on a TCP port, e.g. `nginx (pid 123)`; None when the OS does not say."""
    return _from_ss(port) or _from_proc(port)
