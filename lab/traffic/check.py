"""drive -> judge for every traffic class of a step, on a running lab: what `lab check` runs.

The statistical test is declared before the first request (expected shares, n, alpha) and run
once; a check is never retried until it passes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.spec.plan import StepPlan, TrafficPlan
from lab.state import LabState
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

    @classmethod
    def of(cls, tally: Tally) -> TrafficStats:
        """Freeze a tally."""
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
    """How to drive and judge; None means the plan's value."""

    requests: int | None = None
    alpha: float = DEFAULT_ALPHA
    workers: int = 16
    keepalive: bool = True
    timeout: float = DEFAULT_TIMEOUTS.request
    sequential: bool = False


ProgressHook = Callable[[TrafficPlan, Tally], None]


@dataclass
class _Stopper:
    """Sequential mode: judge at the planned looks and stop sending once the verdict is clear."""

    expected: Mapping[str, int]
    n_max: int
    alpha: float
    verdict: Verdict | None = None
    looks: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        from lab.stats.sequential import SequentialCheck

        self.seq = SequentialCheck(dict(self.expected), self.n_max, self.alpha)
        self.looks = sorted(self.seq.looks_at)

    def __call__(self, tally: Tally) -> None:
        done = tally.answered + tally.failed
        if self.verdict is None and self.looks and done >= self.looks[0]:
            self.looks.pop(0)
            self.verdict = self.seq.update(dict(tally.hits), tally.failed)
            if self.verdict is not None:
                tally.stop = True


def check_traffic(
    state: LabState,
    traffic: TrafficPlan,
    attributor: Attributor,
    options: CheckOptions,
    progress: ProgressHook | None = None,
) -> TrafficCheck:
    """Drive one traffic class through the running lab and judge it."""
    requests = options.requests or traffic.requests
    url = state.gateway_url(traffic.port, traffic.traffic.path, traffic.scheme)
    headers = dict(traffic.traffic.headers)
    if traffic.traffic.host:
        headers.setdefault("Host", traffic.traffic.host)
    spec = DriveSpec(
        url=url,
        ca_file=state.ca_file,
        requests=requests,
        headers=headers,
        method=traffic.traffic.method,
        workers=options.workers,
        timeout=options.timeout,
        keepalive=options.keepalive,
    )
    stopper = _Stopper(traffic.expected, requests, options.alpha) if options.sequential else None

    def on_response(tally: Tally) -> None:
        if stopper is not None:
            stopper(tally)
        if progress is not None:
            progress(traffic, tally)

    tally = drive(spec, attributor, on_response)
    verdict = (
        stopper.verdict
        if stopper is not None and stopper.verdict is not None
        else judge(traffic.expected, dict(tally.hits), failed=dict(tally.failures), alpha=options.alpha)
    )
    return TrafficCheck(
        name=traffic.traffic.name,
        url=url,
        headers=headers,
        expected=traffic.expected,
        stats=TrafficStats.of(tally),
        verdict=verdict,
    )


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
