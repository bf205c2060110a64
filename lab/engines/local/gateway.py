"""The embedded engine's gateway: HTTPRoute tables per listener port, filters, and the proxy.

Each request reads the current `Routing` once; `Gateway.swap` replaces that one reference, so an
apply is atomic and in-flight requests finish on the table they started with.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
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
    """Apply a RequestHeaderModifier: set replaces, add appends, remove deletes (names ignore case)."""
    for item in config.get("set") or ():
        headers[str(item["name"]).lower()] = str(item["value"])
    for item in config.get("add") or ():
        headers.add(str(item["name"]).lower(), str(item["value"]))
    for name in config.get("remove") or ():
        headers.popall(str(name), None)


def forwarded_headers(
    incoming: Mapping[str, str] | CIMultiDict[str],
    scheme: str,
    remote: str | None,
    modifiers: Sequence[Mapping[str, Any]],
) -> CIMultiDict[str]:
    """The headers sent to the backend: every client header (hop-by-hop dropped), lower-cased.

    Lower-case names, as Envoy sends them, are also what keeps aiohttp's client from dropping a
    value: ClientSession._prepare_headers (aiohttp/client.py, 3.9 to 3.14) tracks the names it has
    seen in a case-sensitive set, so `x-a: 1` then `X-A: 2` would keep only `X-A: 2`.
    """
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in incoming.items():
        if name.lower() not in HOP_BY_HOP:
            headers.add(name.lower(), value)
    headers["x-forwarded-proto"] = scheme
    if remote:
        headers["x-forwarded-for"] = remote
    for config in modifiers:
        modify_headers(headers, config)
    return headers


def header_modifiers(filters: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The RequestHeaderModifier configurations among filters, in order."""
    return [f.get("requestHeaderModifier") or {} for f in filters if f.get("type") == "RequestHeaderModifier"]


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n", content_type="text/plain")


def _unavailable(rule: Rule, backend: BackendRef | None) -> str:
    """Why a request the rule selected gets 503."""
    if backend is None:
        return "no backendRefs" if not rule.backends else "every backendRef has weight 0"
    if backend.problem is not None:
        return f"backend {backend.key} is invalid ({backend.problem.reason}: {backend.problem.message})"
    return f"backend {backend.key} has no endpoints"


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
        """The backend a request goes to and the pod URL, or None where it cannot be served.

        v0.4.0 HTTPRouteRule.BackendRefs: no backend, a dropped reference or a Service without
        endpoints means no forwarding and HTTP 503, chosen by weight like a valid backend.
        """
        backend = rule.choose(self.rng)
        if backend is None or backend.problem is not None:
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
            for f in rule.filters:
                if f.get("type") == "RequestRedirect":
                    config = f.get("requestRedirect") or {}
                    location = redirect_location(config, listener.scheme, host_header, request.raw_path)
                    return web.Response(
                        status=int(config.get("statusCode", 302)), headers={"Location": location}
                    )
            backend, url = self.pick(rule)
            if backend is None or url is None:
                return _text(503, f"{rule.route} rule {rule.index}: {_unavailable(rule, backend)}")
            modifiers = header_modifiers(rule.filters) + header_modifiers(backend.filters)
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
        headers = forwarded_headers(request.headers, scheme, request.remote, modifiers)
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
