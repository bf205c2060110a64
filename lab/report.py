"""Text rendering of a verdict on a terminal (rich), shared by `lab judge` and `lab check`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lab.power import format_level, format_share
from lab.verdict import Outcome, Verdict

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
