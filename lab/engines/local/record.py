"""What the embedded engine records in state.json to find, reach and stop its lab process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lab.state import Fields


@dataclass(frozen=True)
class LocalRecord:
    """The lab process: pid and its start time (a reused pid has another), admin port, bind, log."""

    pid: int | None = None
    # the process's start time as psutil reports it (seconds since the epoch)
    pid_started: float | None = None
    admin_port: int | None = None
    bind: str = "127.0.0.1"
    log: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "pid": self.pid,
            "pid_started": self.pid_started,
            "admin_port": self.admin_port,
            "bind": self.bind,
            "log": self.log,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LocalRecord:
        """Inverse of to_json; CorruptState naming a field of the wrong type."""
        doc = Fields(dict(data), "record")
        started = doc.get("pid_started")
        return cls(
            pid=doc.optional_int("pid"),
            pid_started=None if started is None else doc.number("pid_started"),
            admin_port=doc.optional_int("admin_port"),
            bind=doc.optional_text("bind") or "127.0.0.1",
            log=doc.optional_text("log") or "",
        )
