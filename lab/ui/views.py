"""Terminal and JSON views of scenarios and plans (what `lab scenarios` and `lab plan` print)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from lab.engines.base import StatusRow
from lab.engines.kube.doctor import Check
from lab.engines.kube.prefetch import CacheStatus
from lab.errors import LabError
from lab.spec import pins
from lab.spec.commands import CommandStep
from lab.spec.plan import Plan
from lab.spec.registry import ScenarioEntry
from lab.state import LabState
from lab.traffic.driver import Tally


def scenarios_table(
    entries: dict[str, ScenarioEntry], broken: Mapping[str, LabError], console: Console
) -> None:
    """The catalogue as a table; broken scenario files are listed with their error."""
    table = Table(title="Scenarios", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("steps", justify="right")
    table.add_column("summary")
    rows = [(name, str(len(e.scenario.all_steps)), e.scenario.summary) for name, e in entries.items()]
    rows += [(name, "-", f"BROKEN: {error.message}") for name, error in broken.items()]
    for row in sorted(rows):
        table.add_row(*row)
    console.print(table)


def scenarios_json(entries: dict[str, ScenarioEntry], broken: Mapping[str, LabError]) -> list[dict[str, Any]]:
    """The catalogue as JSON; a broken scenario file has `error` instead of its content."""
    good: list[dict[str, Any]] = [
        {
            "name": name,
            "summary": e.scenario.summary,
            "file": str(e.path),
            "steps": [s.name for s in e.scenario.all_steps],
            "manifests": [m for s in e.scenario.all_steps for m in s.manifests],
        }
        for name, e in entries.items()
    ]
    bad: list[dict[str, Any]] = [{"name": name, "error": error.message} for name, error in broken.items()]
    return sorted(good + bad, key=lambda item: str(item["name"]))


def plan_json(plan: Plan, steps: list[CommandStep]) -> dict[str, Any]:
    """The plan as JSON: scenario, pins, the steps with their commands, the expected splits."""
    return {
        "scenario": plan.scenario.name,
        "summary": plan.scenario.summary,
        "pins": [{"what": p.what, "value": p.value, "source": p.source} for p in pins.pins()],
        "steps": [s.to_dict() for s in steps],
        "scenario_steps": [
            {
                "name": sp.step.name,
                "manifests": [str(f) for f in sp.files],
                "traffic": [t.to_dict() for t in sp.traffic],
            }
            for sp in plan.steps
        ],
    }


def plan_text(plan: Plan, steps: list[CommandStep], console: Console) -> None:
    """The plan as an instructor would project it: pins, numbered steps and their commands."""
    console.print(f"[bold]lab plan {plan.scenario.name}[/bold]: {plan.scenario.summary}")
    pin_table = Table(title="Pinned versions", title_justify="left")
    pin_table.add_column("what")
    pin_table.add_column("version", overflow="fold")
    pin_table.add_column("source", style="dim", overflow="fold")
    for p in pins.pins():
        pin_table.add_row(p.what, p.value, p.source)
    console.print(pin_table)
    for i, step in enumerate(steps, 1):
        console.print(f"\n[bold]{i}. {step.title}[/bold]  [dim]({step.stage})[/dim]")
        console.print(f"   [italic]{step.why}[/italic]")
        for line in step.shell():
            console.print(f"   $ {line}", highlight=False, markup=False, soft_wrap=True)
    for sp in plan.steps:
        label = f"step {sp.step.name}: " if len(plan.steps) > 1 else ""
        for t in sp.traffic:
            total = sum(t.expected.values())
            split = " / ".join(f"{k} {v} ({100 * v / total:.1f}%)" for k, v in t.expected.items())
            console.print(f"\n{label}expected split for {t.url()}: {split}; {t.requests} requests")


def status_table(state: LabState, rows: list[StatusRow], console: Console) -> None:
    """`lab status` as a table."""
    table = Table(title=f"lab {state.scenario} ({state.engine})", title_justify="left")
    table.add_column("component", style="bold", overflow="fold")
    table.add_column("state")
    table.add_column("detail", overflow="fold")
    for row in rows:
        table.add_row(row.component, row.state, row.detail)
    console.print(table)


def status_json(state: LabState, rows: list[StatusRow]) -> dict[str, Any]:
    """`lab status` as JSON: the state record and the rows."""
    return {
        "state": state.to_json(),
        "rows": [{"component": r.component, "state": r.state, "detail": r.detail} for r in rows],
    }


def traffic_table(url: str, tally: Tally, console: Console) -> None:
    """Counts per backend and pod for `lab traffic`, failures apart."""
    total = tally.answered + tally.failed
    table = Table(title=f"{total} responses from {url}", title_justify="left")
    table.add_column("backend")
    table.add_column("responses", justify="right")
    table.add_column("share", justify="right")
    for name, count in sorted(tally.hits.items()):
        table.add_row(name, str(count), f"{100 * count / total:.1f}%" if total else "-")
    for cause, count in sorted(tally.failures.items()):
        table.add_row(
            f"[red]failed: {cause}[/red]", str(count), f"{100 * count / total:.1f}%" if total else "-"
        )
    console.print(table)
    if tally.pods:
        console.print(
            "pods: " + ", ".join(f"{p} {n}" for p, n in sorted(tally.pods.items())), highlight=False
        )
    console.print(f"{tally.rate:.0f} requests/s", highlight=False)


def doctor_table(checks: list[Check], console: Console) -> None:
    """`lab doctor`: one row per check with its fix."""
    table = Table(title="lab doctor", title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("seen", overflow="fold")
    table.add_column("fix", overflow="fold")
    for c in checks:
        result = "ok" if c.ok else ("BLOCKS" if c.blocking else "warning")
        table.add_row(c.name, result, c.detail, c.fix)
    console.print(table)


def cache_json(cache: CacheStatus) -> dict[str, Any]:
    """What `lab plan --engine kind` knows about pulls and the prefetch cache, as JSON."""
    return {
        "folder": str(cache.folder),
        "docker": cache.docker or "answers",
        "images": [{"image": i, "cached": c} for i, c in cache.images],
        "chart": str(cache.chart) if cache.chart else None,
        "crds": [{"file": n, "cached": c} for n, c in cache.crds],
        "offline_ready": cache.complete,
    }


def cache_table(cache: CacheStatus, console: Console) -> None:
    """Images to pull and what is cached (for `lab plan --engine kind` and `lab prefetch`)."""
    table = Table(title=f"kind engine: images and cache ({cache.folder})", title_justify="left")
    table.add_column("what")
    table.add_column("item", overflow="fold")
    table.add_column("state")
    for image, present in cache.images:
        state = "unknown (Docker not answering)" if present is None else ("cached" if present else "to pull")
        table.add_row("image", image, state)
    chart = f"{pins.CHART_NAME} {pins.CHART_VERSION}"
    table.add_row("chart", chart, f"cached ({cache.chart.name})" if cache.chart else "from the repo")
    for name, ok in cache.crds:
        table.add_row("CRD", name, "cached" if ok else "to download")
    console.print(table)
    verdict = (
        "everything cached: `lab up` needs no network"
        if cache.complete
        else "run `lab prefetch` for offline use"
    )
    console.print(f"{verdict}" + (f"; {cache.docker}" if cache.docker else ""))
