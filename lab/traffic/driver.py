"""The drive stage: send a traffic class through the gateway and count who answered.

An asyncio driver (aiohttp) with a pool of workers sharing keep-alive connections, TLS verified
against the engine's CA. Each response is attributed to a pod and its Service; failures (non-2xx,
timeouts, connection errors, answers naming no known pod) are counted apart by cause.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lab.timeouts import DEFAULT as DEFAULT_TIMEOUTS
from lab.traffic.attribution import Attributor

if TYPE_CHECKING:
    import aiohttp


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
class Tally:
    """Counts as they arrive (mutable so an interrupted run still reports what it collected)."""

    hits: Counter[str] = field(default_factory=Counter)
    pods: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    interrupted: bool = False
    # set by a hook (sequential mode) to stop sending; requests in flight still count
    stop: bool = False

    @property
    def answered(self) -> int:
        """Responses attributed to a backend."""
        return sum(self.hits.values())

    @property
    def failed(self) -> int:
        """Requests that failed, any cause."""
        return sum(self.failures.values())

    @property
    def elapsed(self) -> float:
        """Seconds from start to finish (or now)."""
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        done = self.answered + self.failed
        return done / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, q: float) -> float | None:
        """Latency percentile in seconds (nearest rank), or None without data."""
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


async def _worker(
    session: aiohttp.ClientSession,
    spec: DriveSpec,
    attributor: Attributor,
    tally: Tally,
    next_ticket: Callable[[], bool],
    on_response: Callable[[Tally], None] | None,
) -> None:
    import aiohttp  # imported where requests are sent: ~0.1 s that other commands skip

    while next_ticket():
        begin = time.perf_counter()
        try:
            async with session.request(
                spec.method, spec.url, headers=dict(spec.headers), allow_redirects=False
            ) as resp:
                body = await resp.read()
                status = resp.status
        except TimeoutError:
            tally.failures["timeout"] += 1
        except aiohttp.ClientSSLError as exc:
            tally.failures[f"TLS error ({type(exc).__name__})"] += 1
        except aiohttp.ClientError as exc:
            tally.failures[f"connection error ({type(exc).__name__})"] += 1
        else:
            tally.latencies.append(time.perf_counter() - begin)
            tally.statuses[status] += 1
            if not 200 <= status < 300:
                tally.failures[f"HTTP {status}"] += 1
            else:
                service, pod = attributor.from_body(body)
                if service is None:
                    tally.failures[
                        "unattributed (no known pod named)" if pod is None else f"unknown pod {pod}"
                    ] += 1
                else:
                    tally.hits[service] += 1
                    tally.pods[pod or "?"] += 1
        if on_response is not None:
            on_response(tally)


async def drive_async(
    spec: DriveSpec,
    attributor: Attributor,
    tally: Tally | None = None,
    on_response: Callable[[Tally], None] | None = None,
) -> Tally:
    """Send `spec.requests` requests with `spec.workers` concurrent workers; return the tally."""
    import aiohttp  # imported where requests are sent: ~0.1 s that other commands skip

    tally = tally or Tally()
    tally.started = time.monotonic()

    def next_ticket() -> bool:
        if tally.stop or tally.sent >= spec.requests:
            return False
        tally.sent += 1
        return True

    connector = aiohttp.TCPConnector(
        ssl=ssl_context(spec.ca_file) if spec.url.startswith("https") else False,
        limit=spec.workers,
        force_close=not spec.keepalive,
    )
    timeout = aiohttp.ClientTimeout(total=spec.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:
        await asyncio.gather(
            *(
                _worker(session, spec, attributor, tally, next_ticket, on_response)
                for _ in range(max(1, spec.workers))
            )
        )
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
