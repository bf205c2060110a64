"""The converge stage: wait until the scenario's route answers 2xx several times in a row.

"Answers" means from a backend the new routes send to: after a route change (a blue-green flip,
say) an answer from a backend the step gives weight 0, or no longer names, shows the change is not
live yet and does not count. Where the plan declares a dropped backendRef (its share answers 503,
v0.4.0 HTTPBackendRef), a 503 neither counts nor breaks the streak.

Its own timeout, never mixed with judging: a lab that does not converge exits 5 with what was seen.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab.errors import NotConverged
from lab.spec.plan import StepPlan, TrafficPlan
from lab.state import LabState
from lab.timeouts import Timeouts
from lab.traffic.attribution import Attributor
from lab.waiting import OnProgress, Pending, poll

if TYPE_CHECKING:
    import requests


@dataclass(frozen=True)
class Probe:
    """What to request: URL, headers, the CA to verify against and the Host to present."""

    url: str
    ca_file: str
    headers: Mapping[str, str]
    method: str = "GET"
    # backends the routes now send this traffic to; an answer naming another one is stale
    live: frozenset[str] | None = None
    attributor: Attributor | None = None
    # the plan declares dropped backends: a 503 is their share's answer, not a sign of not serving
    declared_503: bool = False


def probe_for(traffic: TrafficPlan, url: str, ca_file: str, attributor: Attributor) -> Probe:
    """The probe of one traffic class: its headers (and Host), and the backends it must reach."""
    headers = dict(traffic.traffic.headers)
    if traffic.traffic.host:
        headers["Host"] = traffic.traffic.host
    live = None
    if traffic.rule is not None:
        live = frozenset(k for k, w in traffic.rule.expected_weights().items() if w > 0)
    return Probe(url, ca_file, headers, traffic.traffic.method, live, attributor, bool(traffic.unanswerable))


def wait_until_serving(
    probe: Probe,
    timeouts: Timeouts,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    session: requests.Session | None = None,
    on_progress: OnProgress | None = None,
) -> int:
    """Block until `converge_successes` consecutive 2xx answers; return the attempts used.

    `on_progress` hears each look: what a failed one got (`HTTP 503`, `ConnectionError`), else "".
    Raises NotConverged naming what was seen (status codes and errors) when the timeout passes.
    """
    import requests  # ~50 ms: imported by the commands that wait for a lab, not by every command

    session = session or requests.Session()
    seen: Counter[str] = Counter()
    streak = [0]
    attempts = [0]

    def look() -> int | Pending:
        attempts[0] += 1
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
            if ok and probe.live is not None and probe.attributor is not None:
                service, _ = probe.attributor.from_body(response.content)
                if service is not None and service not in probe.live:
                    outcome, ok = f"stale answer from {service}", False
        except requests.RequestException as exc:
            outcome, ok = type(exc).__name__, False
        seen[outcome] += 1
        if not ok and probe.declared_503 and outcome == "HTTP 503":
            return Pending(f"{outcome} (the dropped backendRef's share)")
        streak[0] = streak[0] + 1 if ok else 0
        if streak[0] >= timeouts.converge_successes:
            return attempts[0]
        # after a success, look again at once: the streak counts consecutive answers
        return Pending("" if ok else outcome, again_in=0 if ok else None)

    done = poll(look, what=f"{probe.url} to serve", budget=timeouts.converge, interval=timeouts.poll_interval,
                on_progress=on_progress, sleep=sleep, clock=clock)
    if done is None:
        summary = ", ".join(f"{k} x{v}" for k, v in seen.most_common())
        raise NotConverged(
            f"{probe.url} did not answer 2xx {timeouts.converge_successes} times in a row "
            f"within {timeouts.converge:g} s{' from ' + ', '.join(sorted(probe.live)) if probe.live else ''}; "
            f"seen: {summary}",
            fix="check `lab status`; a route change can take seconds to go live on Consul",
        )
    return done


def probes(state: LabState, step: StepPlan) -> list[Probe]:
    """One probe per traffic class of a step, aimed at the running lab (remapped ports, its CA).

    Each probe speaks its listener's protocol: http:// for an HTTP listener, https:// for HTTPS.
    """
    attributor = Attributor.from_resources(step.resources)
    return [
        probe_for(t, state.gateway_url(t.port, t.traffic.path, t.scheme), state.ca_file, attributor)
        for t in step.traffic
    ]


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
