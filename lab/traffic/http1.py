"""One keep-alive HTTP/1.1 client connection: h11's state machine over asyncio streams.

The driver's whole client. h11 does the protocol (framing, chunked bodies, keep-alive rules);
asyncio does TLS (verified against the lab's CA) and sockets. It imports in a few milliseconds,
where aiohttp's client took ~0.15 s of every `lab check` (its import builds two SSL contexts
from the system trust store that the driver never uses).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

READ_CHUNK = 65536


class ConnectionDropped(ConnectionError):
    """The server closed a reused keep-alive connection before answering (safe to resend)."""


@dataclass(frozen=True)
class Target:
    """Where requests go: parsed once from the URL."""

    host: str
    port: int
    path: str
    authority: str
    tls: ssl.SSLContext | None

    @classmethod
    def from_url(cls, url: str, tls: ssl.SSLContext | None) -> Target:
        """`https://localhost:8443/echo?x=1` -> host, port, request target, Host header value."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL with a host: {url!r}")
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        authority = shown if port == (443 if secure else 80) else f"{shown}:{port}"
        return cls(host=host, port=port, path=path, authority=authority, tls=tls if secure else None)


class Connection:
    """One HTTP/1.1 connection, reused for request after request while the server keeps it open."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._h11 = h11.Connection(h11.CLIENT)
        self.used = False
        self._answering = False

    @classmethod
    async def open(cls, target: Target) -> Connection:
        """Connect (TLS with SNI and hostname verification when the URL is https)."""
        reader, writer = await asyncio.open_connection(
            target.host,
            target.port,
            ssl=target.tls,
            server_hostname=target.host if target.tls is not None else None,
            happy_eyeballs_delay=0.25,
        )
        return cls(reader, writer)

    @property
    def reusable(self) -> bool:
        """True when both sides finished the last exchange and the server did not ask to close."""
        return self._h11.our_state is h11.IDLE and self._h11.their_state is h11.IDLE

    async def request(self, method: str, target: Target, headers: list[tuple[str, str]]) -> tuple[int, bytes]:
        """Send one request without a body and read the whole answer: (status, body)."""
        reused, self.used = self.used, True
        names = {name.lower() for name, _ in headers}
        head = [("Host", target.authority)] if "host" not in names else []
        if method not in ("GET", "HEAD", "OPTIONS", "DELETE", "TRACE") and "content-length" not in names:
            head.append(("Content-Length", "0"))
        self._writer.write(
            self._h11.send(h11.Request(method=method, target=target.path, headers=head + headers))
        )
        self._writer.write(self._h11.send(h11.EndOfMessage()))
        self._answering = False
        try:
            await self._writer.drain()
            return await self._answer()
        except (ConnectionResetError, BrokenPipeError, h11.RemoteProtocolError) as exc:
            if reused and not self._answering:
                raise ConnectionDropped(str(exc)) from exc
            raise

    async def _answer(self) -> tuple[int, bytes]:
        status = 0
        body = bytearray()
        while not isinstance(event := self._h11.next_event(), h11.EndOfMessage):
            if event is h11.NEED_DATA:
                self._h11.receive_data(await self._reader.read(READ_CHUNK))
            elif isinstance(event, h11.Response):
                self._answering = True
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif event is h11.PAUSED:
                # a 101 to an Upgrade header the user sent: the connection is no longer HTTP/1.1, and
                # next_event would say PAUSED forever. (A close before the answer ends is h11's own
                # RemoteProtocolError: ConnectionClosed is no transition from SEND_RESPONSE or
                # SEND_BODY, h11/_state.py SERVER table.)
                raise h11.RemoteProtocolError("the server switched protocols (HTTP 101); lab reads HTTP/1.1 answers")
            # InformationalResponse (1xx but 101): wait for the final answer
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
        return status, bytes(body)

    def close(self) -> None:
        """Drop the connection at once (every answer is read; no TLS close_notify round trip)."""
        with contextlib.suppress(Exception):
            self._writer.transport.abort()
