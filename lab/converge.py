"""The converge stage: wait until the scenario's route answers 2xx several times in a row.

Its own timeout, never mixed with judging: a lab that does not converge exits 5 with what was seen.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab.errors import NotConverged
from lab.plan import StepPlan
from lab.state import LabState
from lab.timeouts import Timeouts

if TYPE_CHECKING:
    import requests


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
    import requests  # ~50 ms: imported by the commands that wait for a lab, not by every command

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


def probes(state: LabState, step: StepPlan) -> list[Probe]:
    """One probe per traffic class of a step, aimed at the running lab (remapped ports, its CA)."""
    out = []
    for t in step.traffic:
        headers = dict(t.traffic.headers)
        if t.traffic.host:
            headers["Host"] = t.traffic.host
        url = state.gateway_url(t.port, t.traffic.path)
        out.append(Probe(url=url, ca_file=state.ca_file, headers=headers, method=t.traffic.method))
    return out


def converge_step(
    state: LabState,
    step: StepPlan,
    timeouts: Timeouts,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Wait until every traffic class of the step is served; NotConverged (exit 5) otherwise."""
    import requests

    with requests.Session() as session:
        session.trust_env = False  # the lab is on this machine: no proxies from the environment
        for probe in probes(state, step):
            wait_until_serving(probe, timeouts, sleep=sleep, session=session)
