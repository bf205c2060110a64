"""The embedded engine's gateway: HTTPRoute tables per listener port, filters, and the proxy.

Each request reads the current `Routing` once; `Gateway.swap` replaces that one reference, so an
apply is atomic and in-flight requests finish on the table they started with.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from lab.spec.routing import BackendRef, Request, RouteTable, Rule

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Response headers aiohttp recomputes for the body it sends.
_RESPONSE_SKIP = HOP_BY_HOP | {"content-length"}
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Routing:
    """Everything the gateway routes with: a table per listener port and the pods per Service."""

    tables: Mapping[int, RouteTable]
    # (namespace, service name) -> base URLs of the pods it selects; absent = invalid backend
    endpoints: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ListenerSpec:
    """A port the gateway listens on: the manifest port and the scheme it serves."""

    port: int
    scheme: str


def _split_host(host_header: str) -> tuple[str, int | None]:
    """Host and port of a Host header (IPv6 literals keep their brackets)."""
    if host_header.startswith("["):
        end = host_header.find("]")
        host, rest = host_header[: end + 1], host_header[end + 1 :]
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    name, sep, port = host_header.rpartition(":")
    if sep and port.isdigit():
        return name, int(port)
    return host_header, None


def redirect_location(config: Mapping[str, Any], scheme: str, host_header: str, raw_path: str) -> str:
    """The Location of a RequestRedirect (v1alpha2: scheme, hostname, port; path kept)."""
    host, port = _split_host(host_header)
    new_scheme = str(config.get("scheme") or scheme)
    new_host = str(config.get("hostname") or host)
    new_port = config.get("port") or port
    if new_port is None or DEFAULT_PORTS.get(new_scheme) == new_port:
        authority = new_host
    else:
        authority = f"{new_host}:{new_port}"
    return f"{new_scheme}://{authority}{raw_path}"


def modify_headers(headers: CIMultiDict[str], config: Mapping[str, Any]) -> None:
    """Apply a RequestHeaderModifier: set replaces, add appends, remove deletes."""
    for item in config.get("set") or ():
        headers[str(item["name"])] = str(item["value"])
    for item in config.get("add") or ():
        headers.add(str(item["name"]), str(item["value"]))
    for name in config.get("remove") or ():
        headers.popall(str(name), None)


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n", content_type="text/plain")


class Gateway:
    """Routes and proxies requests; one instance serves every listener of the lab."""

    def __init__(self, routing: Routing, rng: random.Random | None = None) -> None:
        self.routing = routing
        self.rng = rng or random.Random()  # noqa: S311 - traffic splitting, not security
        self._session: aiohttp.ClientSession | None = None

    def swap(self, routing: Routing) -> None:
        """Replace the routing in one assignment (requests already routed keep the old one)."""
        self.routing = routing

    async def open(self) -> None:
        """Create the pooled keep-alive client session to the pods."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=512, limit_per_host=256, ttl_dns_cache=None),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
            timeout=aiohttp.ClientTimeout(total=60),
        )

    async def close(self) -> None:
        """Close the pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def pick(self, rule: Rule) -> tuple[BackendRef | None, str | None]:
        """The backend a request goes to and the pod URL, or None where it cannot be served."""
        backend = rule.choose(self.rng)
        if backend is None:
            return None, None
        if backend.kind != "Service" or backend.group != "":
            return backend, None
        pods = self.routing.endpoints.get((backend.namespace, backend.name))
        if not pods:
            return backend, None
        return backend, pods[0] if len(pods) == 1 else self.rng.choice(pods)

    def handler(self, listener: ListenerSpec) -> Handler:
        """The request handler for one listener port."""

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            routing = self.routing
            table = routing.tables.get(listener.port)
            host_header = request.headers.get("Host", "")
            host, _ = _split_host(host_header)
            if table is None:
                return _text(404, "no route matches")
            selection = table.select(
                Request(
                    path=request.path,
                    method=request.method,
                    host=host.lower(),
                    headers=request.headers,
                    query=request.query,
                )
            )
            if selection is None:
                return _text(404, "no route matches")
            rule = selection.rule
            modifiers = []
            for f in rule.filters:
                ftype = f.get("type")
                if ftype == "RequestRedirect":
                    config = f.get("requestRedirect") or {}
                    location = redirect_location(config, listener.scheme, host_header, request.raw_path)
                    return web.Response(
                        status=int(config.get("statusCode", 302)), headers={"Location": location}
                    )
                if ftype == "RequestHeaderModifier":
                    modifiers.append(f.get("requestHeaderModifier") or {})
            backend, url = self.pick(rule)
            if url is None:
                what = (
                    "every backend has weight 0" if backend is None else f"backend {backend.key} is invalid"
                )
                return _text(500, f"{rule.route} rule {rule.index}: {what}")
            return await self._proxy(request, url, modifiers, listener.scheme)

        return handle

    async def _proxy(
        self,
        request: web.BaseRequest,
        base_url: str,
        modifiers: list[Mapping[str, Any]],
        scheme: str,
    ) -> web.StreamResponse:
        assert self._session is not None  # noqa: S101 - opened before listening
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in request.headers.items():
            if name.lower() not in HOP_BY_HOP:
                headers.add(name, value)
        headers["X-Forwarded-Proto"] = scheme
        if request.remote:
            headers["X-Forwarded-For"] = request.remote
        for config in modifiers:
            modify_headers(headers, config)
        body = await request.read() if request.body_exists else None
        try:
            async with self._session.request(
                request.method,
                base_url + request.raw_path,
                headers=headers,
                data=body,
                allow_redirects=False,
            ) as upstream:
                payload = await upstream.read()
                out = CIMultiDict(
                    (k, v) for k, v in upstream.headers.items() if k.lower() not in _RESPONSE_SKIP
                )
                return web.Response(status=upstream.status, body=payload, headers=out)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return _text(503, f"upstream connect error: {type(exc).__name__}")
