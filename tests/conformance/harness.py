"""One embedded lab process for the whole conformance suite: apply a case's manifests, send requests.

The process is the real one (`python -m lab.engines.local.server`), started once with every
listener port of the suite remapped to a free local port; each case is applied through the admin
endpoint, as `lab apply` does, and its status read back from GET /objects.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import secrets
import ssl
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from lab.engines.local.config import CONFIG_FILE, LOG_FILE, RUNTIME_FILE, TOKEN_FILE, ServerConfig
from lab.engines.local.pki import ensure_tls
from lab.engines.local.ports import free_port
from lab.engines.local.process import LabProcess, log_tail, started_at, stop
from lab.spec.manifests import load
from lab.spec.topology import Topology
from lab.state import StateDir
from lab.timeouts import DEFAULT
from lab.waiting import poll

HERE = Path(__file__).resolve().parent
BASE = HERE / "base.yaml"
MANIFESTS = HERE / "manifests"
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Echo:
    """What an echoserver pod reports about the request it received."""

    pod: str
    namespace: str
    method: str
    path: str
    headers: Mapping[str, str]


def parse_echo(text: str) -> Echo | None:
    """Read the echoserver page (lab/engines/local/apps.py echo_text); None when it is not one."""
    fields: dict[str, str] = {}
    headers: dict[str, str] = {}
    section = ""
    for line in text.split("\n"):
        if line.startswith("Hostname: "):
            fields["pod"] = line.removeprefix("Hostname: ")
        elif line and not line.startswith("\t"):
            section = line
        elif section == "Request Headers:" and "=" in line:
            name, _, value = line.strip().partition("=")
            headers[name] = value
        elif ":\t" in line:
            key, _, value = line.strip().partition(":\t")
            fields[key] = value
        elif "=" in line:
            key, _, value = line.strip().partition("=")
            fields.setdefault(key, value)
    if "pod" not in fields:
        return None
    return Echo(
        fields["pod"],
        fields.get("pod namespace", ""),
        fields.get("method", ""),
        fields.get("real path", ""),
        headers,
    )


@dataclass(frozen=True)
class Answer:
    """A response: status, headers (lower-case names) and the echo it carries, if any."""

    status: int
    headers: Mapping[str, str]
    echo: Echo | None
    body: str


def listener_ports(files: Iterable[Path]) -> dict[int, str]:
    """Every listener port (and its scheme) the suite's manifests declare."""
    out: dict[int, str] = {}
    for lst in Topology(load(files)).listeners():
        out.setdefault(lst.port, lst.scheme)
    return out


class SuiteLab:
    """The lab process, its admin endpoint and a client for each manifest port."""

    def __init__(self, state_dir: Path, all_files: Iterable[Path]) -> None:
        self.state = StateDir(state_dir)
        self.state.ensure()
        self.tls = ensure_tls(self.state)
        self.token = secrets.token_urlsafe(16)
        self.state.write_private(TOKEN_FILE, self.token.encode())
        self.schemes = listener_ports([BASE, *all_files])
        self.ports = {port: free_port() for port in self.schemes}
        config = ServerConfig(
            state_dir=str(state_dir),
            files=(str(BASE),),
            bind="127.0.0.1",
            port_map=tuple(self.ports.items()),
            ca_file=str(self.tls.ca_file),
            cert_file=str(self.tls.cert_file),
            key_file=str(self.tls.key_file),
            seed=1,
        )
        (state_dir / CONFIG_FILE).write_text(json.dumps(config.to_json()), encoding="utf-8")
        with open(state_dir / LOG_FILE, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lab.engines.local.server", "--config", str(state_dir / CONFIG_FILE)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.process = LabProcess(self.proc.pid, started_at(self.proc.pid) or 0.0)
        runtime = poll(
            self._runtime,
            what="the conformance lab process to be ready",
            budget=DEFAULT.local_start,
            interval=DEFAULT.local_poll,
        )
        if runtime is None:
            self.stop()
            raise RuntimeError("the lab process did not start:\n" + "\n".join(log_tail(state_dir / LOG_FILE)))
        self.admin_port = int(runtime["admin_port"])
        self.session = requests.Session()
        self.session.trust_env = False

    def _runtime(self) -> dict[str, Any] | None:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads((self.state.path / RUNTIME_FILE).read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("pid") == self.proc.pid:
                return data
        return None

    def _admin(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self.session.request(
            method,
            f"http://127.0.0.1:{self.admin_port}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=DEFAULT.local_admin,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def apply(self, files: Iterable[Path]) -> None:
        """The desired set: the base and these files (what is not in it is removed)."""
        self._admin("POST", "/apply", {"files": [str(BASE), *map(str, files)]})

    def objects(self) -> list[dict[str, Any]]:
        """Every applied object with its status."""
        return list(self._admin("GET", "/objects")["items"])

    def request(
        self, port: int, path: str, method: str, host: str | None, headers: Iterable[tuple[str, str]]
    ) -> Answer:
        """One request to a manifest port; the Host names that port the way curl would."""
        scheme = self.schemes[port]
        if host is None:
            host = "localhost" if DEFAULT_PORTS[scheme] == port else f"localhost:{port}"
        if scheme == "https":
            context = ssl.create_default_context(cafile=str(self.tls.ca_file))
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "localhost", self.ports[port], context=context, timeout=5
            )
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.ports[port], timeout=5)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
            names = {k.lower(): v for k, v in response.getheaders()}
            return Answer(response.status, names, parse_echo(body), body)
        finally:
            conn.close()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after the stop timeout; reap the child."""
        if hasattr(self, "session"):
            self.session.close()
        stop(self.process, DEFAULT.local_stop, DEFAULT.local_poll)
        self.proc.wait(DEFAULT.local_stop)
