"""The drive stage: send a traffic class through the gateway and count who answered.

An asyncio driver with a pool of workers, each on its own keep-alive HTTP/1.1 connection
(lab.traffic.http1), TLS verified against the engine's CA. Each response is attributed to a pod
and its Service; failures (non-2xx, timeouts, connection errors, answers naming no known pod) are
counted apart by cause.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import h11

from lab.stats.results import ResponseCounts
from lab.timeouts import DEFAULT as DEFAULT_TIMEOUTS
from lab.traffic.attribution import Attributor
from lab.traffic.http1 import Connection, ConnectionDropped, Target

# About this many running-count snapshots per drive (Tally.trace), whatever the request count.
TRACE_POINTS = 200
# Latencies kept for the percentiles: every one up to this many, then a uniform sample of this
# size, so that a run of any length holds at most ~4 MB of them.
LATENCY_SAMPLE = 100_000


@dataclass(frozen=True)
class DriveSpec:
    """What to send: URL, headers, how many, and how."""

    url: str
    ca_file: str
    requests: int
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "GET"
    workers: int = 16
    timeout: float = DEFAULT_TIMEOUTS.request
    keepalive: bool = True


@dataclass
class Tally(ResponseCounts):
    """Counts as they arrive (mutable so an interrupted run still reports what it collected)."""

    hits: Counter[str] = field(default_factory=Counter)
    pods: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    # a uniform sample of at most LATENCY_SAMPLE latencies (all of them up to that many)
    latencies: list[float] = field(default_factory=list)
    timed: int = 0
    _sampler: random.Random = field(default_factory=lambda: random.Random(0), repr=False)  # noqa: S311 - sampling, not secrets
    sent: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    interrupted: bool = False
    # set by a hook (sequential mode) to stop sending; requests in flight still count
    stop: bool = False
    # running counts: a copy of `hits` after every `trace_every` attributed responses (0: none),
    # so a picture can show how the split settled as responses came in
    trace_every: int = 0
    trace: list[dict[str, int]] = field(default_factory=list)

    def hit(self, service: str, pod: str) -> None:
        """Count one attributed response (and keep the running counts every `trace_every`)."""
        self.hits[service] += 1
        self.pods[pod] += 1
        if self.trace_every and self.answered % self.trace_every == 0:
            self.trace.append(dict(self.hits))

    @property
    def elapsed(self) -> float:
        """Seconds from start to finish (or now)."""
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        done = self.answered + self.failed
        return done / self.elapsed if self.elapsed > 0 else 0.0

    def add_latency(self, seconds: float) -> None:
        """Keep a latency: reservoir sampling, so memory stays bounded at any request count."""
        self.timed += 1
        if len(self.latencies) < LATENCY_SAMPLE:
            self.latencies.append(seconds)
            return
        slot = self._sampler.randrange(self.timed)
        if slot < LATENCY_SAMPLE:
            self.latencies[slot] = seconds

    def percentile(self, q: float) -> float | None:
        """Latency percentile in seconds (nearest rank; of a uniform sample past LATENCY_SAMPLE)."""
        if not self.latencies:
            return None
        data = sorted(self.latencies)
        index = min(len(data) - 1, max(0, round(q / 100 * len(data) + 0.5) - 1))
        return data[index]


def ssl_context(ca_file: str) -> ssl.SSLContext:
    """A client context that verifies the gateway against the lab's CA (never skips checks)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


async def _exchange(conn: Connection | None, target: Target, spec: DriveSpec) -> tuple[int, bytes, Connection]:
    """One request on `conn` (or a new connection): (status, body, the connection it went over).

    A reused keep-alive connection the server closed in the meantime is dropped and the request
    sent once more on a new one, as browsers and curl do; any other failure is the request's.
    """
    headers = list(spec.headers.items())
    if not spec.keepalive:
        headers.append(("Connection", "close"))
    if conn is not None:
        try:
            status, body = await conn.request(spec.method, target, headers)
        except ConnectionDropped:
            conn.close()
        else:
            return status, body, conn
    conn = await Connection.open(target)
    try:
        status, body = await conn.request(spec.method, target, headers)
    except BaseException:
        conn.close()
        raise
    return status, body, conn


async def _worker(
    target: Target,
    spec: DriveSpec,
    attributor: Attributor,
    tally: Tally,
    next_ticket: Callable[[], bool],
    on_response: Callable[[Tally], None] | None,
) -> None:
    conn: Connection | None = None
    try:
        while next_ticket():
            begin = time.perf_counter()
            try:
                async with asyncio.timeout(spec.timeout):
                    status, body, conn = await _exchange(conn, target, spec)
            except (OSError, h11.ProtocolError) as exc:  # TimeoutError and ssl.SSLError are OSErrors
                tally.failures[_cause(exc)] += 1
                if conn is not None:
                    conn.close()  # a kept connection the request failed on (a new one closed itself)
                conn = None
            else:
                if not conn.reusable:
                    conn.close()
                    conn = None
                tally.add_latency(time.perf_counter() - begin)
                _count(tally, attributor, status, body)
            if on_response is not None:
                on_response(tally)
    finally:
        if conn is not None:
            conn.close()


def _cause(exc: Exception) -> str:
    """How a failed request is counted: timeout, TLS error (type) or connection error (type)."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({type(exc).__name__})"
    return f"connection error ({type(exc).__name__})"


def _count(tally: Tally, attributor: Attributor, status: int, body: bytes) -> None:
    tally.statuses[status] += 1
    if not 200 <= status < 300:
        tally.failures[f"HTTP {status}"] += 1
        return
    service, pod = attributor.from_body(body)
    if service is None:
        tally.failures["unattributed (no known pod named)" if pod is None else f"unknown pod {pod}"] += 1
    else:
        tally.hit(service, pod or "?")


async def drive_async(
    spec: DriveSpec,
    attributor: Attributor,
    tally: Tally | None = None,
    on_response: Callable[[Tally], None] | None = None,
) -> Tally:
    """Send `spec.requests` requests with `spec.workers` concurrent workers; return the tally."""
    tally = tally or Tally()
    tally.started = time.monotonic()
    tally.trace_every = tally.trace_every or max(1, -(-spec.requests // TRACE_POINTS))

    def next_ticket() -> bool:
        if tally.stop or tally.sent >= spec.requests:
            return False
        tally.sent += 1
        return True

    target = Target.from_url(spec.url, ssl_context(spec.ca_file) if spec.url.startswith("https") else None)
    workers = max(1, spec.workers)
    await asyncio.gather(*(_worker(target, spec, attributor, tally, next_ticket, on_response) for _ in range(workers)))
    tally.finished = time.monotonic()
    return tally


def drive(
    spec: DriveSpec,
    attributor: Attributor,
    on_response: Callable[[Tally], None] | None = None,
) -> Tally:
    """Blocking wrapper; Ctrl-C stops sending and returns what was collected, marked interrupted."""
    tally = Tally()
    try:
        asyncio.run(drive_async(spec, attributor, tally, on_response))
    except KeyboardInterrupt:
        tally.interrupted = True
        tally.finished = time.monotonic()
    return tally
