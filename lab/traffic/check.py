"""drive -> judge for every traffic class of a step, on a running lab: what `lab check` runs.

The statistical test is declared before the first request (expected shares, alpha, and n or the
sequential design) and run once; a check is never retried until it passes. The sequential check
sees every response as it arrives and stops the drive as soon as its design decides.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lab.spec.plan import PLANNED_POWER, StepPlan, TrafficPlan
from lab.state import LabState
from lab.stats.sequential_check import THREE_OR_MORE, SequentialCheck, covers
from lab.stats.verdict import DEFAULT_ALPHA, Outcome, Verdict, judge
from lab.timeouts import DEFAULT as DEFAULT_TIMEOUTS
from lab.traffic.attribution import Attributor
from lab.traffic.driver import DriveSpec, Tally, drive

REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TrafficStats:
    """What the driver measured for one traffic class (frozen copy of the tally)."""

    sent: int
    answered: int
    hits: Mapping[str, int]
    pods: Mapping[str, int]
    failures: Mapping[str, int]
    statuses: Mapping[int, int]
    elapsed: float
    rate: float
    p50: float | None
    p95: float | None
    p99: float | None
    interrupted: bool
    # cumulative hits per backend as responses came in (Tally.trace), ending with the final counts
    running: tuple[Mapping[str, int], ...] = ()

    @classmethod
    def of(cls, tally: Tally) -> TrafficStats:
        """Freeze a tally."""
        running = [dict(t) for t in tally.trace]
        if tally.hits and (not running or running[-1] != dict(tally.hits)):
            running.append(dict(tally.hits))
        return cls(
            sent=tally.sent,
            answered=tally.answered,
            hits=dict(tally.hits),
            pods=dict(tally.pods),
            failures=dict(tally.failures),
            statuses=dict(tally.statuses),
            elapsed=tally.elapsed,
            rate=tally.rate,
            p50=tally.percentile(50),
            p95=tally.percentile(95),
            p99=tally.percentile(99),
            interrupted=tally.interrupted,
            running=tuple(running),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (latencies in milliseconds)."""

        def ms(x: float | None) -> float | None:
            return None if x is None else round(x * 1000, 3)

        return {
            "sent": self.sent,
            "answered": self.answered,
            "pods": dict(self.pods),
            "failures": dict(self.failures),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "elapsed_s": round(self.elapsed, 4),
            "rate_per_s": round(self.rate, 1),
            "latency_ms": {"p50": ms(self.p50), "p95": ms(self.p95), "p99": ms(self.p99)},
            "interrupted": self.interrupted,
            "running": {
                "n": [sum(point.values()) for point in self.running],
                "hits": {
                    name: [point.get(name, 0) for point in self.running]
                    for name in sorted({name for point in self.running for name in point})
                },
            },
        }


@dataclass(frozen=True)
class TrafficCheck:
    """One traffic class: where it went, what came back, and the verdict."""

    name: str
    url: str
    headers: Mapping[str, str]
    expected: Mapping[str, int]
    stats: TrafficStats
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "url": self.url,
            "headers": dict(self.headers),
            "expected_weights": dict(self.expected),
            "traffic": self.stats.to_dict(),
            "verdict": self.verdict.to_dict(),
        }


@dataclass(frozen=True)
class CheckResult:
    """All traffic classes of one step of one scenario."""

    scenario: str
    step: str
    engine: str
    checks: tuple[TrafficCheck, ...]
    interrupted: bool = False

    @property
    def outcome(self) -> Outcome:
        """Worst outcome (fail > inconclusive > pass); an interrupted run is at best inconclusive."""
        outcomes = {c.verdict.outcome for c in self.checks}
        if Outcome.FAIL in outcomes:
            return Outcome.FAIL
        if Outcome.INCONCLUSIVE in outcomes or self.interrupted or not self.checks:
            return Outcome.INCONCLUSIVE
        return Outcome.PASS

    def to_dict(self) -> dict[str, Any]:
        """The documented, versioned report (README: "Check report JSON")."""
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "scenario": self.scenario,
            "step": self.step,
            "engine": self.engine,
            "outcome": self.outcome.value,
            "interrupted": self.interrupted,
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class CheckOptions:
    """How to drive and judge.

    `sequential` (the default) runs the sequential check where it applies (one or two weighted
    backends), stopping as soon as the verdict is clear; `requests` then caps its n (None: the
    design's own maximum). With `sequential` False, the fixed-n test at `requests` (None: the
    plan's n).
    """

    requests: int | None = None
    alpha: float = DEFAULT_ALPHA
    workers: int = 16
    keepalive: bool = True
    timeout: float = DEFAULT_TIMEOUTS.request
    sequential: bool = True


ProgressHook = Callable[[TrafficPlan, Tally], None]


class _Feeder:
    """Feeds a sequential check from the driver's tally, one response per call, and stops the drive."""

    def __init__(self, check: SequentialCheck) -> None:
        self.check = check
        self.hits: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()

    def __call__(self, tally: Tally) -> None:
        for name, count in tally.hits.items():
            for _ in range(count - self.hits[name]):
                self.check.record(name)
            self.hits[name] = count
        for cause, count in tally.failures.items():
            for _ in range(count - self.failures[cause]):
                self.check.record_failure(cause)
            self.failures[cause] = count
        if self.check.done:
            tally.stop = True


def check_traffic(
    state: LabState,
    traffic: TrafficPlan,
    attributor: Attributor,
    options: CheckOptions,
    progress: ProgressHook | None = None,
) -> TrafficCheck:
    """Drive one traffic class through the running lab and judge it (sequential where it applies)."""
    url = state.gateway_url(traffic.port, traffic.traffic.path, traffic.scheme)
    headers = dict(traffic.traffic.headers)
    if traffic.traffic.host:
        headers.setdefault("Host", traffic.traffic.host)
    spec = DriveSpec(
        url=url,
        ca_file=state.ca_file,
        requests=options.requests or traffic.requests,
        headers=headers,
        method=traffic.traffic.method,
        workers=options.workers,
        timeout=options.timeout,
        keepalive=options.keepalive,
    )
    if options.sequential and covers(traffic.expected):
        tally, verdict = _drive_sequential(spec, traffic, attributor, options, progress)
    else:
        tally = drive(spec, attributor, None if progress is None else lambda t: progress(traffic, t))
        notes = (THREE_OR_MORE,) if options.sequential else ()
        verdict = judge(
            traffic.expected,
            dict(tally.hits),
            failed=dict(tally.failures),
            alpha=options.alpha,
            notes=notes,
            complete=not tally.interrupted,
            unanswerable=traffic.unanswerable,
        )
    return TrafficCheck(
        name=traffic.traffic.name,
        url=url,
        headers=headers,
        expected=traffic.expected,
        stats=TrafficStats.of(tally),
        verdict=verdict,
    )


def _drive_sequential(
    spec: DriveSpec,
    traffic: TrafficPlan,
    attributor: Attributor,
    options: CheckOptions,
    progress: ProgressHook | None,
) -> tuple[Tally, Verdict]:
    """Send until the sequential check stops (at most its budget of requests); its verdict."""
    check = SequentialCheck(
        traffic.expected,
        detect=traffic.traffic.detect,
        power=PLANNED_POWER,
        alpha=options.alpha,
        max_n=options.requests or traffic.traffic.requests,  # a count the user or scenario set
        unanswerable=traffic.unanswerable,
    )
    feed = _Feeder(check)
    shown = dataclasses.replace(traffic, requests=check.n_max)

    def on_response(tally: Tally) -> None:
        feed(tally)
        if progress is not None:
            progress(shown, tally)

    tally = drive(dataclasses.replace(spec, requests=check.budget), attributor, on_response)
    return tally, check.verdict()


def run_check(
    state: LabState,
    step: StepPlan,
    scenario: str,
    options: CheckOptions | None = None,
    progress: ProgressHook | None = None,
) -> CheckResult:
    """Every traffic class of a step; Ctrl-C ends the run with what was collected."""
    options = options or CheckOptions()
    attributor = Attributor.from_resources(step.resources)
    checks = []
    interrupted = False
    for traffic in step.traffic:
        result = check_traffic(state, traffic, attributor, options, progress)
        checks.append(result)
        if result.stats.interrupted:
            interrupted = True
            break
    return CheckResult(
        scenario=scenario,
        step=step.step.name,
        engine=state.engine,
        checks=tuple(checks),
        interrupted=interrupted,
    )
