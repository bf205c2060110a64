"""The driver's HTTP/1.1 client (lab.traffic.http1) against servers that misbehave on purpose.

Each server is a raw asyncio TLS server in a thread, so a test decides byte by byte what the
driver sees: keep-alive, a connection closed between answers, `Connection: close`, a chunked body,
an answer cut short, a certificate from another CA, no answer at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import subprocess
import sys
import threading
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab.engines.local.pki import ensure_tls
from lab.state import StateDir
from lab.traffic.attribution import Attributor
from lab.traffic.driver import DriveSpec, Tally, drive
from lab.traffic.http1 import Target

BODY = b"\n\nHostname: echo-1-5d8f7c9b4-x2x7q\n\nPod Information:\n\tpod namespace:\tdefault\n"
ATTRIBUTOR = Attributor({("default", "echo-1"): "echo-1"})


@dataclass
class Seen:
    """What the server saw: connections opened and each request's head (lower-cased header names)."""

    connections: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, Seen], Awaitable[None]]


async def read_head(reader: asyncio.StreamReader, seen: Seen) -> dict[str, str] | None:
    """One request head (the driver sends no bodies), or None at end of stream."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    line, *headers = raw.decode().split("\r\n")[:-2]
    head = {":line": line} | {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in headers)}
    seen.requests.append(head)
    return head


def answer(body: bytes = BODY, *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


@contextlib.contextmanager
def server(tmp_path: Path, handler: Handler, *, ca: str = "lab") -> Iterator[tuple[str, str, Seen]]:
    """A TLS server on 127.0.0.1 in its own thread: (URL, CA file the client trusts, what it saw)."""
    served = ensure_tls(StateDir(tmp_path / "server"))
    trusted = served if ca == "lab" else ensure_tls(StateDir(tmp_path / "other-ca"))
    seen = Seen()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        with contextlib.suppress(ConnectionError, OSError):
            await handler(reader, writer, seen)
        writer.close()

    async def start() -> None:
        srv = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=served.server_context())
        port.append(srv.sockets[0].getsockname()[1])
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"https://localhost:{port[0]}/echo", str(trusted.ca_file), seen
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def run(url: str, ca: str, requests: int, workers: int = 4, **kw: object) -> Tally:
    return drive(DriveSpec(url=url, ca_file=ca, requests=requests, workers=workers, **kw), ATTRIBUTOR)  # type: ignore[arg-type]


async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
    while await read_head(reader, seen) is not None:
        writer.write(answer())
        await writer.drain()


def test_keep_alive_one_connection_per_worker_and_the_host_header_names_the_port(tmp_path: Path) -> None:
    with server(tmp_path, keep_alive) as (url, ca, seen):
        tally = run(url, ca, requests=200, workers=4)
    assert dict(tally.hits) == {"echo-1": 200} and not tally.failures
    assert seen.connections == 4
    port = url.split(":")[2].split("/")[0]
    assert {r["host"] for r in seen.requests} == {f"localhost:{port}"}
    assert {r[":line"] for r in seen.requests} == {"GET /echo HTTP/1.1"}


def test_a_reused_connection_the_server_closed_silently_is_sent_again_on_a_new_one(tmp_path: Path) -> None:
    async def three_then_gone(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        for _ in range(3):  # an idle keep-alive timeout, without a word: no `Connection: close`
            if await read_head(reader, seen) is None:
                return
            writer.write(answer())
            await writer.drain()

    with server(tmp_path, three_then_gone) as (url, ca, seen):
        tally = run(url, ca, requests=30, workers=1)
    assert dict(tally.hits) == {"echo-1": 30} and not tally.failures
    assert seen.connections == 10


def test_connection_close_is_honoured_with_a_new_connection_per_request(tmp_path: Path) -> None:
    async def one_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        if await read_head(reader, seen) is not None:
            writer.write(answer(close=True))
            await writer.drain()

    with server(tmp_path, one_and_close) as (url, ca, seen):
        tally = run(url, ca, requests=12, workers=2)
    assert dict(tally.hits) == {"echo-1": 12} and not tally.failures
    assert seen.connections == 12 and len(seen.requests) == 12


def test_keepalive_off_asks_for_close_and_opens_a_connection_per_request(tmp_path: Path) -> None:
    async def closing_when_asked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        while (head := await read_head(reader, seen)) is not None:
            writer.write(answer(close=head.get("connection") == "close"))
            await writer.drain()
            if head.get("connection") == "close":
                return

    with server(tmp_path, closing_when_asked) as (url, ca, seen):
        tally = run(url, ca, requests=6, workers=2, keepalive=False)
    assert tally.answered == 6 and seen.connections == 6
    assert {r.get("connection") for r in seen.requests} == {"close"}


def test_a_chunked_body_is_read_whole_and_attributed(tmp_path: Path) -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        while await read_head(reader, seen) is not None:
            half = len(BODY) // 2  # the Hostname line split across two chunks
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for part in (BODY[:half], BODY[half:]):
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    with server(tmp_path, chunked) as (url, ca, _):
        tally = run(url, ca, requests=20, workers=2)
    assert dict(tally.hits) == {"echo-1": 20} and not tally.failures


def test_an_answer_cut_short_is_a_failure_and_is_not_sent_twice_even_on_a_reused_connection(tmp_path: Path) -> None:
    async def one_then_cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        if await read_head(reader, seen) is not None:
            writer.write(answer())
            await writer.drain()
        if await read_head(reader, seen) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nHostname: echo-1-5d8f7c9b4-x2x7q")
            await writer.drain()

    with server(tmp_path, one_then_cut) as (url, ca, seen):
        tally = run(url, ca, requests=6, workers=1)
    assert dict(tally.hits) == {"echo-1": 3}
    assert dict(tally.failures) == {"connection error (RemoteProtocolError)": 3}
    assert len(seen.requests) == 6  # each sent once: an answer had begun, so no resend


def test_a_certificate_from_another_ca_is_a_tls_failure_never_an_answer(tmp_path: Path) -> None:
    with server(tmp_path, keep_alive, ca="other") as (url, ca, seen):
        tally = run(url, ca, requests=4, workers=2)
    assert not tally.hits and not seen.requests
    assert dict(tally.failures) == {"TLS error (SSLCertVerificationError)": 4}


def test_a_server_that_never_answers_is_a_timeout_within_the_request_budget(tmp_path: Path) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        await read_head(reader, seen)
        await reader.read()  # until the client gives up

    with server(tmp_path, silent) as (url, ca, _):
        tally = run(url, ca, requests=2, workers=2, timeout=0.5)
    assert dict(tally.failures) == {"timeout": 2}
    assert tally.elapsed < 5


def test_a_non_get_method_says_its_empty_body_and_a_given_host_header_wins(tmp_path: Path) -> None:
    with server(tmp_path, keep_alive) as (url, ca, seen):
        tally = run(url, ca, requests=1, workers=1, method="POST", headers={"Host": "localhost", "x-canary": "1"})
    assert tally.answered == 1
    (head,) = seen.requests
    assert head[":line"] == "POST /echo HTTP/1.1"
    assert (head["content-length"], head["host"], head["x-canary"]) == ("0", "localhost", "1")


@pytest.mark.parametrize(
    ("url", "host", "port", "path", "authority"),
    [
        ("https://localhost:8443/echo", "localhost", 8443, "/echo", "localhost:8443"),
        ("https://[::1]:8443/echo?v=1", "::1", 8443, "/echo?v=1", "[::1]:8443"),
        ("https://example.com", "example.com", 443, "/", "example.com"),
        ("http://127.0.0.1/x", "127.0.0.1", 80, "/x", "127.0.0.1"),
    ],
)
def test_a_target_is_parsed_once_from_the_url(url: str, host: str, port: int, path: str, authority: str) -> None:
    target = Target.from_url(url, None)
    assert (target.host, target.port, target.path, target.authority) == (host, port, path, authority)


def test_a_url_without_http_or_host_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="not an http\\(s\\) URL with a host: 'ftp://x/'"):
        Target.from_url("ftp://x/", None)


def test_what_a_check_imports_leaves_out_the_heavy_libraries_it_does_not_use() -> None:
    """`lab check` is timed against the blog's curl loop (bench/check_speed.py): the modules it loads
    must not pull in aiohttp (the embedded gateway's server, ~0.15 s), tenacity before anything
    waits, rich's progress bar off a terminal, or numpy/scipy/kubernetes."""
    code = (
        "import sys, lab.ui.cli.app, lab.ui.cli.running, lab.traffic.check, lab.ui.progress, lab.engines.local.engine;"
        "print(' '.join(m for m in ('aiohttp', 'tenacity', 'rich.progress', 'numpy', 'scipy', 'kubernetes')"
        " if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == []


def test_a_kept_connection_a_request_timed_out_on_is_closed_not_left_open(tmp_path: Path) -> None:
    async def one_then_silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        if await read_head(reader, seen) is not None:
            writer.write(answer())
            await writer.drain()
        await read_head(reader, seen)
        await reader.read()  # until the client closes

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with server(tmp_path, one_then_silent) as (url, ca, _):
            tally = run(url, ca, requests=2, workers=1, timeout=0.5)
        gc.collect()
    assert tally.answered == 1 and dict(tally.failures) == {"timeout": 1}
    # the client's side: an unclosed StreamWriter (and its TLS transport) is what a leak leaves
    assert not [str(w.message) for w in caught if "unclosed <StreamWriter" in str(w.message)]


def test_a_switch_to_another_protocol_is_a_failure_not_a_busy_loop(tmp_path: Path) -> None:
    async def upgrading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        if await read_head(reader, seen) is not None:
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            await writer.drain()
            await reader.read()

    with server(tmp_path, upgrading) as (url, ca, _):
        tally = run(url, ca, requests=2, workers=1, timeout=5, headers={"Upgrade": "websocket", "Connection": "Upgrade"})
    assert dict(tally.failures) == {"connection error (RemoteProtocolError)": 2}
    assert tally.elapsed < 5  # failed at once, not at the request timeout
