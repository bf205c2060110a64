"""An embedded lab run in-process (its own event loop in a thread) for the local engine's tests."""

from __future__ import annotations

import asyncio
import http.client
import random
import ssl
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import requests
import yaml

from lab.engines.local.pki import ensure_tls
from lab.engines.local.ports import free_port
from lab.engines.local.server import LabServer
from lab.spec.manifests import load
from lab.state import StateDir

T = TypeVar("T")
START_TIMEOUT = 10.0


def dump(*docs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


class InProcessLab:
    """LabServer on free ports in a background thread; requests verify TLS against the lab CA."""

    def __init__(self, tmp: Path, manifests: str, listener_port: int = 8443, seed: int = 1) -> None:
        self.tmp = tmp
        self.state = StateDir(tmp / "state")
        self.tls = ensure_tls(self.state)
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = LabServer(self.tls, port_map=((listener_port, self.port),), rng=random.Random(seed))
        self.base = self.write("base.yaml", manifests)
        self.run(self.server.start(load([self.base])))
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would override the lab CA
        self._n = 0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(START_TIMEOUT)

    def write(self, name: str, text: str) -> Path:
        path = self.tmp / name
        path.write_text(text)
        return path

    def apply(self, routes: str) -> None:
        self._n += 1
        path = self.write(f"routes-{self._n}.yaml", routes)
        self.run(self.server.apply(load([self.base, path])))

    def url(self, path: str) -> str:
        return f"https://localhost:{self.port}{path}"

    def request(self, path: str, method: str = "GET", **kwargs: Any) -> requests.Response:
        return self.session.request(
            method, self.url(path), allow_redirects=False, timeout=5, verify=str(self.tls.ca_file), **kwargs
        )

    def raw(self, path: str, headers: list[tuple[str, str]]) -> tuple[int, str]:
        """GET with headers exactly as given (repeated names, any case), which requests would merge."""
        context = ssl.create_default_context(cafile=str(self.tls.ca_file))
        conn = http.client.HTTPSConnection("localhost", self.port, context=context, timeout=5)
        try:
            conn.putrequest("GET", path)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    def close(self) -> None:
        self.session.close()
        self.run(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
