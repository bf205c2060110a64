"""The API server's pod port-forward endpoint over websocket, as the kubelet serves it.

`GET /api/v1/namespaces/{ns}/pods/{name}/portforward?ports=P` with `Upgrade: websocket` and the
subprotocol `v4.channel.k8s.io` (kubernetes pkg/kubelet/cri/streaming/portforward/websocket.go:
`v4BinaryWebsocketProtocol`; data channel 2*i and error channel 2*i+1 per port, each opened with a
frame holding the port as 2 little-endian bytes, `binary.LittleEndian.PutUint16(portBytes, ...)`,
then the data stream relayed to the pod's port; a failure to reach it is written to the error
channel as "error forwarding port P to pod NAME, uid : ..." and the stream ends). Frames follow RFC
6455 (client frames masked, server frames not). This is the protocol kubernetes.stream.portforward
speaks (kubernetes/stream/ws_client.py PortForward), so the lab's helper is exercised as with a real
cluster.
"""

from __future__ import annotations

import base64
import hashlib
import select
import socket
import struct
from collections.abc import Callable
from typing import Any

PROTOCOL = "v4.channel.k8s.io"
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
BINARY, CLOSE, PING, PONG = 0x2, 0x8, 0x9, 0xA

# (namespace, pod, port) -> (host, port) of what listens there in the fake cluster, or None
PodAddress = Callable[[str, str, int], "tuple[str, int] | None"]


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()  # noqa: S324 - RFC 6455


def frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked server frame."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def _exactly(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_frame(sock: socket.socket) -> tuple[int, bytes] | None:
    """(opcode, payload) of one client frame (unmasked here), None when the connection closed."""
    head = _exactly(sock, 2)
    if head is None:
        return None
    opcode, masked, n = head[0] & 0x0F, head[1] & 0x80, head[1] & 0x7F
    if n == 126:
        raw = _exactly(sock, 2)
        n = struct.unpack("!H", raw)[0] if raw else 0
    elif n == 127:
        raw = _exactly(sock, 8)
        n = struct.unpack("!Q", raw)[0] if raw else 0
    mask = _exactly(sock, 4) if masked else b"\0\0\0\0"
    payload = _exactly(sock, n) if n else b""
    if mask is None or payload is None:
        return None
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def serve(handler: Any, namespace: str, pod: str, ports: list[int], address: PodAddress) -> None:
    """Upgrade the request on `handler` (a BaseHTTPRequestHandler) and relay the first port."""
    offered = [p.strip() for p in (handler.headers.get("Sec-WebSocket-Protocol") or "").split(",")]
    if PROTOCOL not in offered or handler.headers.get("Upgrade", "").lower() != "websocket":
        handler.send_response(400)
        handler.end_headers()
        return
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept_key(handler.headers["Sec-WebSocket-Key"]))
    handler.send_header("Sec-WebSocket-Protocol", PROTOCOL)
    handler.end_headers()
    handler.wfile.flush()
    client: socket.socket = handler.connection
    for index, port in enumerate(ports):
        opening = struct.pack("<H", port)
        client.sendall(frame(BINARY, bytes([2 * index]) + opening) + frame(BINARY, bytes([2 * index + 1]) + opening))
    port = ports[0]
    target = address(namespace, pod, port)
    backend: socket.socket | None = None
    dial_error = "connect: connection refused"  # nothing listens on the pod's port
    if target is not None:
        try:
            backend = socket.create_connection(target, timeout=5)
        except TimeoutError:
            dial_error = "i/o timeout"  # Go's net.Dialer error for a dial that ran out of time
        except OSError as exc:
            dial_error = f"connect: {exc.strerror or exc}".lower()
    if backend is None:
        # containerd internal/cri/server/sandbox_portforward_linux.go: the dial error is wrapped as
        # "failed to connect to localhost:%d inside namespace %s: %w", so the cause is named
        error = f"error forwarding port {port} to pod {pod}, uid : failed to connect to localhost:{port}: {dial_error}"
        client.sendall(frame(BINARY, b"\x01" + error.encode()) + frame(CLOSE, b""))
        return
    _relay(client, backend)


def _relay(client: socket.socket, backend: socket.socket) -> None:
    try:
        while True:
            ready, _, _ = select.select([client, backend], [], [], 30)
            if not ready:
                return
            if backend in ready:
                data = backend.recv(65536)
                if not data:
                    client.sendall(frame(CLOSE, b""))
                    return
                client.sendall(frame(BINARY, b"\x00" + data))
            if client in ready:
                got = read_frame(client)
                if got is None or got[0] == CLOSE:
                    return
                opcode, payload = got
                if opcode == PING:
                    client.sendall(frame(PONG, payload))
                elif opcode == BINARY and payload[:1] == b"\x00":
                    backend.sendall(payload[1:])
    except OSError:
        return
    finally:
        backend.close()
