"""The programs the embedded engine runs in place of container images, one aiohttp server per pod.

An echoserver pod answers like registry.k8s.io/e2e-test-images/echoserver:2.5 (plain text,
`Hostname: <pod name>` first); a frontend pod answers a small HTML page; others name themselves.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable

from aiohttp import web

from lab.engines.local.workloads import PodSpec

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
# What the echo page says in "Server values" (the echoserver image's nginx + lua).
ECHO_SERVER_VERSION = "nginx: 1.14.2 - lua: 10015"
NODE_NAME = "lab-local"
POD_IP = "127.0.0.1"


def echo_text(pod: PodSpec, request: web.BaseRequest, body: bytes, server_port: int) -> str:
    """The echoserver's answer for one request."""
    host = (request.headers.get("Host") or "").rsplit(":", 1)[0] if request.headers.get("Host") else POD_IP
    peer = request.remote or ""
    lines = [
        "",
        "",
        f"Hostname: {pod.name}",
        "",
        "Pod Information:",
        f"\tnode name:\t{NODE_NAME}",
        f"\tpod name:\t{pod.name}",
        f"\tpod namespace:\t{pod.namespace}",
        f"\tpod IP:\t{POD_IP}",
        "",
        "Server values:",
        f"\tserver_version={ECHO_SERVER_VERSION}",
        "",
        "Request Information:",
        f"\tclient_address={peer}",
        f"\tmethod={request.method}",
        f"\treal path={request.raw_path}",
        f"\tquery={request.query_string}",
        f"\trequest_version={request.version.major}.{request.version.minor}",
        "\trequest_scheme=http",
        f"\trequest_uri=http://{host}:{server_port}{request.raw_path}",
        "",
        "Request Headers:",
    ]
    for name in sorted({k.lower() for k in request.headers}):
        lines.append(f"\t{name}={','.join(request.headers.getall(name))}")
    lines += ["", "Request Body:"]
    lines.append(body.decode("utf-8", "replace") if body else "\t-no body in request-")
    return "\n".join(lines) + "\n"


def frontend_html(pod: PodSpec) -> str:
    """The frontend's small page, naming the pod that served it."""
    name = html.escape(pod.name)
    return (
        "<!DOCTYPE html>\n<html><head><title>HashiCups</title></head>\n"
        f"<body><h1>HashiCups</h1><p>frontend served by pod {name}</p>\n<p>Hostname: {name}</p></body></html>\n"
    )


def handler_for(pod: PodSpec, services: Callable[[], tuple[str, ...]], port: Callable[[], int]) -> Handler:
    """The request handler of one pod; `services` names the Services selecting it right now."""

    async def echo(request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read() if request.body_exists else b""
        return web.Response(text=echo_text(pod, request, body, port()), content_type="text/plain")

    async def frontend(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(text=frontend_html(pod), content_type="text/html")

    async def plain(request: web.BaseRequest) -> web.StreamResponse:
        names = ", ".join(services()) or pod.deployment
        return web.Response(text=f"{names} (pod {pod.name})\n", content_type="text/plain")

    return {"echo": echo, "frontend": frontend}.get(pod.app, plain)
