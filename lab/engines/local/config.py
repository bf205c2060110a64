"""What the embedded engine and its server process share: the runtime file names and the config.

Kept apart from lab.engines.local.server so that commands which only read a running lab's state
(`lab check`, `lab status`) do not import the server (aiohttp.web, cryptography).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONFIG_FILE = "server-config.json"
RUNTIME_FILE = "server.json"
TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret
LOG_FILE = "server.log"


@dataclass(frozen=True)
class ServerConfig:
    """What the lab process is started with (written by the CLI as server-config.json)."""

    state_dir: str
    files: tuple[str, ...]
    bind: str
    port_map: tuple[tuple[int, int], ...]
    ca_file: str
    cert_file: str
    key_file: str
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "state_dir": self.state_dir,
            "files": list(self.files),
            "bind": self.bind,
            "port_map": [list(p) for p in self.port_map],
            "ca_file": self.ca_file,
            "cert_file": self.cert_file,
            "key_file": self.key_file,
            "seed": self.seed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerConfig:
        """Inverse of to_json."""
        return cls(
            state_dir=str(data["state_dir"]),
            files=tuple(str(f) for f in data["files"]),
            bind=str(data["bind"]),
            port_map=tuple((int(a), int(b)) for a, b in data["port_map"]),
            ca_file=str(data["ca_file"]),
            cert_file=str(data["cert_file"]),
            key_file=str(data["key_file"]),
            seed=None if data.get("seed") is None else int(data["seed"]),
        )
