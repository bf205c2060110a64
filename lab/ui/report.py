"""Rendering of verdicts and checks: terminal tables and bars (rich), and the multi-step summary table."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lab.spec.plan import Plan
from lab.stats.formats import format_level, format_share
from lab.stats.verdict import Outcome, Verdict
from lab.traffic.check import CheckResult, TrafficCheck

_STYLE = {Outcome.PASS: "bold green", Outcome.FAIL: "bold red", Outcome.INCONCLUSIVE: "bold yellow"}


def render_verdict(verdict: Verdict, console: Console) -> None:
    """Print the table, the test and p-value, the verdict, the reasons and the power sentence."""
    level = format_level(1 - verdict.alpha)
    table = Table(title=f"split over {verdict.n} successful responses")
    table.add_column("backend")
    table.add_column("weight", justify="right")
    table.add_column("expected", justify="right")
    table.add_column("observed", justify="right")
    table.add_column(f"{level} interval", justify="right")
    table.add_column("hits", justify="right")
    for b in verdict.backends:
        lo, hi = b.interval
        table.add_row(
            b.name,
            "not expected" if b.weight is None else str(b.weight),
            format_share(b.expected_share),
            format_share(b.observed_share),
            f"{format_share(lo)}..{format_share(hi)}",
            str(b.hits),
        )
    console.print(table)
    if verdict.failed:
        causes = ", ".join(f"{cause} {count}" for cause, count in verdict.failed_by_cause)
        console.print(
            Text(f"failed requests: {verdict.failed}" + (f" ({causes})" if causes else "")),
            soft_wrap=True,
        )
    p_value = "n/a" if verdict.p_value is None else f"{verdict.p_value:.3g}"
    console.print(Text(f"test: {verdict.test}"), soft_wrap=True)
    console.print(Text(f"p-value: {p_value} (alpha {verdict.alpha:g})"), soft_wrap=True)
    line = Text("verdict: ")
    line.append(verdict.outcome.value.upper(), style=_STYLE[verdict.outcome])
    console.print(line)
    for reason in verdict.reasons:
        console.print(Text(f"- {reason}"), soft_wrap=True)
    console.print(Text(f"power: {verdict.power}"), soft_wrap=True)


_BAR_WIDTH = 40


def _bar(share: float, width: int = _BAR_WIDTH) -> str:
    cells = share * width
    full = int(cells)
    partial = " ▏▎▍▌▋▊▉"[int((cells - full) * 8)] if full < width else ""
    return ("█" * full + partial).rstrip() or "·"


def render_bars(check: TrafficCheck, console: Console) -> None:
    """A terminal bar chart: observed share per backend, with the expected share beside it."""
    verdict = check.verdict
    width = max((len(b.name) for b in verdict.backends), default=4)
    for b in verdict.backends:
        line = Text(f"{b.name:<{width}} ")
        line.append(f"{_bar(b.observed_share):<{_BAR_WIDTH + 1}}", style="cyan")
        line.append(f" {format_share(b.observed_share):>6} (expected {format_share(b.expected_share)})")
        console.print(line, soft_wrap=True)


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.1f} ms"


def render_check(result: CheckResult, console: Console) -> None:
    """The whole check: per traffic class the table, bars, test, power, failures, latency, rate."""
    for check in result.checks:
        title = f"{result.scenario}" + (f" / {result.step}" if result.step != result.scenario else "")
        headers = " ".join(f"-H '{k}: {v}'" for k, v in check.headers.items())
        console.rule(Text(f"{title}: {check.name}  {check.url} {headers}".rstrip()))
        render_verdict(check.verdict, console)
        render_bars(check, console)
        s = check.stats
        console.print(
            Text(
                f"traffic: {s.sent} sent, {s.answered} attributed, {sum(s.failures.values())} failed in "
                f"{s.elapsed:.2f} s ({s.rate:.0f} req/s); latency p50 {_ms(s.p50)}, p95 {_ms(s.p95)}, "
                f"p99 {_ms(s.p99)}" + ("; INTERRUPTED" if s.interrupted else "")
            ),
            soft_wrap=True,
        )
        if s.pods:
            console.print(
                Text("pods: " + ", ".join(f"{p} {n}" for p, n in sorted(s.pods.items()))), soft_wrap=True
            )
    line = Text("check: ")
    outcome = result.outcome.value
    line.append(outcome.upper(), style={"pass": "bold green", "fail": "bold red"}.get(outcome, "bold yellow"))
    line.append(f" ({result.scenario}, step {result.step}, engine {result.engine})")
    console.print(line)


@dataclass(frozen=True)
class StepRun:
    """One step of a multi-step `lab up`: its outcome (None: not checked), requests and time.

    `error` is the exit code of an error that stopped the step before its verdict (not converged).
    """

    name: str
    outcome: Outcome | None
    seconds: float
    sent: int = 0
    answered: int = 0
    failed: int = 0
    error: int | None = None

    @classmethod
    def of(cls, result: CheckResult, seconds: float) -> StepRun:
        """A checked step, from its check result."""
        return cls(
            result.step,
            result.outcome,
            seconds,
            sent=sum(c.stats.sent for c in result.checks),
            answered=sum(c.stats.answered for c in result.checks),
            failed=sum(sum(c.stats.failures.values()) for c in result.checks),
        )


def render_summary(plan: Plan, runs: list[StepRun], console: Console) -> None:
    """The end of a multi-step run: every step, whether it passed, its requests and time, and totals."""
    table = Table(title=f"{plan.scenario.name}: {len(runs)} of {len(plan.steps)} steps run", title_justify="left")
    for column in ("step", "result", "requests", "failed", "time"):
        table.add_column(column, justify="left" if column in ("step", "result") else "right")
    done = {r.name: r for r in runs}
    for sp in plan.steps:
        run = done.get(sp.step.name)
        if run is None:
            table.add_row(sp.step.name, Text("not run", style="dim"), "-", "-", "-")
            continue
        if run.error is not None:
            table.add_row(run.name, Text(f"ERROR (exit {run.error})", style="bold red"), "-", "-", f"{run.seconds:.1f} s")
            continue
        result = Text("up (not checked)") if run.outcome is None else Text(
            run.outcome.value.upper(), style=_STYLE[run.outcome]
        )
        table.add_row(run.name, result, str(run.sent), str(run.failed), f"{run.seconds:.1f} s")
    table.add_section()
    table.add_row(
        "total",
        "",
        str(sum(r.sent for r in runs)),
        str(sum(r.failed for r in runs)),
        f"{sum(r.seconds for r in runs):.1f} s",
    )
    console.print(table)
