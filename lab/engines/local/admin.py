"""The lab process's admin endpoint: how the CLI applies manifests to, and reads, a running lab.

Plain HTTP on 127.0.0.1 at an ephemeral port; every call carries the bearer token from the state
folder. A body it cannot take is 400 with the reason, never a traceback or a half-applied lab.
"""

from __future__ import annotations

import hmac
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lab.engines.local.config import RUNTIME_FILE, ServerConfig
from lab.errors import InvalidInput, LabError
from lab.spec.conditions import status_of
from lab.spec.manifests import load
from lab.spec.topology import Topology
from lab.state import atomic_write

if TYPE_CHECKING:
    from lab.engines.local.server import LabServer

TOKEN_HEADER = "Authorization"  # noqa: S105 - a header name


def bound_port(runner: web.BaseRunner) -> int:
    """The TCP port a runner listens on (it was asked for port 0: any free one)."""
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("the server bound no TCP address")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(data, indent=2).encode(), 0o600)


def objects(topo: Topology) -> list[dict[str, Any]]:
    """Every resource as applied, with the status the controller writes (Gateways, HTTPRoutes)."""
    out = []
    for r in topo.resources:
        body = dict(r.body)
        status = status_of(topo, r)
        if status is not None:
            body["status"] = status
        out.append(body)
    return out


class BadRequest(InvalidInput):
    """An admin request whose body is not what the endpoint takes (HTTP 400, exit 3)."""


def apply_files(body: bytes) -> tuple[str, ...]:
    """The manifest paths of a POST /apply body: a JSON object with a non-empty `files` list."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"the body is not JSON ({type(exc).__name__}: {exc})") from exc
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
        raise BadRequest('the body must be a JSON object {"files": ["path", ...]}')
    if not files:
        raise BadRequest(
            "files is empty: the desired set would remove the Gateway and every pod",
            fix="send the lab's full list of manifest files (`lab apply FILE` does)",
        )
    return tuple(files)


class AdminEndpoint:
    """POST /apply {"files": [...]} and GET /status, for the CLI; each needs the bearer token."""

    def __init__(self, lab: LabServer, config: ServerConfig, token: str) -> None:
        self.lab = lab
        self.config = config
        self.token = token
        self.runtime_file = Path(config.state_dir) / RUNTIME_FILE
        self.runner: web.AppRunner | None = None
        self.port = 0

    def _authorized(self, request: web.Request) -> bool:
        return hmac.compare_digest(request.headers.get(TOKEN_HEADER, ""), f"Bearer {self.token}")

    def runtime(self) -> dict[str, Any]:
        """The runtime record the CLI waits for and reads: pid, admin port, listeners, pods."""
        return {**self.lab.snapshot(), "admin_port": self.port, "files": list(self.config.files)}

    def write_runtime(self) -> None:
        """Atomically rewrite server.json."""
        _write_json(self.runtime_file, self.runtime())

    async def status(self, request: web.Request) -> web.Response:
        """The live snapshot."""
        if not self._authorized(request):
            return web.json_response({"error": "bad token"}, status=401)
        return web.json_response(self.runtime())

    async def objects(self, request: web.Request) -> web.Response:
        """Every applied resource with its status (what `lab get` prints)."""
        if not self._authorized(request):
            return web.json_response({"error": "bad token"}, status=401)
        return web.json_response({"items": objects(self.lab.topology)})

    async def apply(self, request: web.Request) -> web.Response:
        """Load and validate the files, then apply them; nothing changes when invalid.

        A body that is not `{"files": [path, ...]}` with at least one path is 400 with the reason:
        an empty desired set would tear the gateway down while the state says it runs.
        """
        if not self._authorized(request):
            return web.json_response({"error": "bad token"}, status=401)
        try:
            files = apply_files(await request.read())
            await self.lab.apply(load(Path(f) for f in files))
        except InvalidInput as error:  # a bad body or bad files (BadRequest, ManifestError, InvalidPlan)
            return web.json_response({"error": str(error), "exit_code": int(error.exit_code)}, status=400)
        except LabError as error:
            return web.json_response({"error": str(error), "exit_code": int(error.exit_code)}, status=422)
        self.config = ServerConfig(**{**self.config.__dict__, "files": files})
        self.write_runtime()
        return web.json_response(self.runtime())

    async def start(self) -> None:
        """Listen on 127.0.0.1 at an ephemeral port."""
        app = web.Application()
        app.router.add_get("/status", self.status)
        app.router.add_get("/objects", self.objects)
        app.router.add_post("/apply", self.apply)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = bound_port(self.runner)

    async def stop(self) -> None:
        """Stop answering."""
        if self.runner is not None:
            await self.runner.cleanup()
