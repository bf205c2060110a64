"""A test CA and a localhost certificate, and a tiny HTTPS "gateway" that answers like the echoserver."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab.engines.local.pki import ensure_tls
from lab.state import StateDir


def make_ca_and_cert(folder: Path) -> tuple[bytes, Path, Path]:
    """CA PEM, and cert/key files for localhost/127.0.0.1 signed by it (the lab's own PKI code,
    standing in for the chart's consul-ca-cert and consul-server-cert)."""
    files = ensure_tls(StateDir(folder / "test-ca"))
    return files.ca_file.read_bytes(), files.cert_file, files.key_file


@dataclass
class FakeGateway:
    """Answers like the echoserver behind the Accepted routes (`pick`), or 503; `broken` keeps 503."""

    log_path: Path
    pick: Callable[[str], tuple[str, str] | None] = lambda path: None
    serving: bool = False
    broken: bool = False
    hits: int = 0
    # namespace of the pod behind each 200 answer -> how many
    namespaces: dict[str, int] = field(default_factory=dict)


class _TLSServer(ThreadingHTTPServer):
    """HTTPS with the TLS handshake in each connection's own thread, as Envoy does it on its workers.

    Envoy listens with the kernel's somaxconn on Linux (envoy/common/platform.h:
    ENVOY_TCP_BACKLOG_SIZE -1) and shakes hands in each connection's transport socket
    (source/common/tls/ssl_socket.cc doHandshake); a handshake in the accepting thread let one slow
    client hold up every other and the queue of 5 overflow under load.
    """

    request_queue_size = socket.SOMAXCONN
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except OSError:  # the client left or spoke no TLS: that connection ends, no other
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            self.shutdown_request(conn)


def serve_gateway(fake: FakeGateway, cert: Path, key: Path, port: int = 0) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            fake.hits += 1
            with open(fake.log_path, "a") as fh:
                fh.write(
                    json.dumps({"t": time.time(), "src": "gateway", "method": "GET", "path": self.path})
                    + "\n"
                )
            answer = None if fake.broken else fake.pick(self.path)
            if answer is not None:
                pod, ns = answer
                fake.namespaces[ns] = fake.namespaces.get(ns, 0) + 1
                body = f"\n\nHostname: {pod}\n\nPod Information:\n\tpod namespace:\t{ns}\n".encode()
                self.send_response(200)
            else:
                body = b"no healthy upstream"
                self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = _TLSServer(("127.0.0.1", port), Handler, ctx)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, server.server_address[1]
