"""The converge stage: wait until the scenario's route answers 2xx several times in a row.

Its own timeout, never mixed with judging: a lab that does not converge exits 5 with what was seen.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests

from lab.errors import NotConverged
from lab.timeouts import Timeouts


@dataclass(frozen=True)
class Probe:
    """What to request: URL, headers, the CA to verify against and the Host to present."""

    url: str
    ca_file: str
    headers: Mapping[str, str]
    method: str = "GET"


def wait_until_serving(
    probe: Probe,
    timeouts: Timeouts,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    session: requests.Session | None = None,
) -> int:
    """Block until `converge_successes` consecutive 2xx answers; return the attempts used.

    Raises NotConverged naming what was seen (status codes and errors) when the timeout passes.
    """
    session = session or requests.Session()
    seen: Counter[str] = Counter()
    streak = 0
    attempts = 0
    deadline = clock() + timeouts.converge
    while True:
        attempts += 1
        try:
            response = session.request(
                probe.method,
                probe.url,
                headers=dict(probe.headers),
                verify=probe.ca_file,
                timeout=timeouts.request,
                allow_redirects=False,
            )
            outcome = f"HTTP {response.status_code}"
            ok = 200 <= response.status_code < 300
        except requests.RequestException as exc:
            outcome = type(exc).__name__
            ok = False
        seen[outcome] += 1
        streak = streak + 1 if ok else 0
        if streak >= timeouts.converge_successes:
            return attempts
        if clock() >= deadline:
            summary = ", ".join(f"{k} x{v}" for k, v in seen.most_common())
            raise NotConverged(
                f"{probe.url} did not answer 2xx {timeouts.converge_successes} times in a row "
                f"within {timeouts.converge:g} s; seen: {summary}",
                fix="check `lab status`; a route change can take seconds to go live on Consul",
            )
        if not ok:
            sleep(timeouts.poll_interval)
