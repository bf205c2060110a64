"""Starting and judging a lab: `lab up` and `lab check`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from lab import lifecycle
from lab.engines import ENGINE_NAMES
from lab.engines import tutorial as engine_tutorial
from lab.engines.base import EngineOptions
from lab.errors import LabError, UsageError
from lab.spec.commands import SHORT_NAMES, tutorial
from lab.spec.plan import Plan, StepPlan, make_plan
from lab.state import LabState
from lab.stats.verdict import DEFAULT_ALPHA, check_alpha
from lab.traffic.check import CheckOptions, CheckResult, run_check
from lab.ui.cli.app import (
    KIND_PIN,
    OUTPUT,
    PORTS,
    STATE_DIR,
    App,
    cli,
    console,
    engine_options,
    pass_app,
    say,
    where,
)
from lab.ui.cli.cluster import CLUSTER_OPTIONS, with_cluster_options
from lab.ui.progress import DriveProgress
from lab.ui.teaching import Teacher

if TYPE_CHECKING:
    from lab.ui.report import StepRun

def CHECK_OPTIONS(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options `lab check` and `lab up` share."""
    for option in reversed(
        [
            click.option(
                "--requests",
                "-n",
                type=click.IntRange(min=1),
                default=None,
                help="Answers per traffic class: the cap of the sequential check, or n of --fixed "
                "(default: the design's maximum / the planner's n).",
            ),
            click.option(
                "--alpha",
                type=float,
                default=DEFAULT_ALPHA,
                show_default=True,
                help="False-fail rate of the test, strictly between 0 and 1 (else exit 3).",
            ),
            click.option(
                "--sequential/--fixed",
                default=True,
                show_default=True,
                help="Sequential (default): stop as soon as the verdict is clear, false-fail rate "
                "<= alpha, power as planned. --fixed: the classical test at a fixed n.",
            ),
            click.option(
                "--new-connection",
                is_flag=True,
                help="A new TLS connection per request instead of keep-alive.",
            ),
            click.option(
                "--workers",
                type=click.IntRange(min=1),
                default=16,
                show_default=True,
                help="Concurrent requests.",
            ),
            OUTPUT,
            click.option(
                "--report",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                help="Also write the JSON report to FILE.",
            ),
            click.option(
                "--plot",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                help="Draw each backend's deviation from its expected share (and, for sequential or "
                "multi-step checks, the running shares) to FILE.png|svg; multi-step: FILE-STEP.png. "
                "Needs matplotlib.",
            ),
        ]
    ):
        f = option(f)
    return f


@cli.command("up")
@click.argument("scenario")
@click.option(
    "--engine",
    type=click.Choice(ENGINE_NAMES),
    envvar="LAB_ENGINE",
    default="auto",
    show_default=True,
    help="Where the lab runs; auto picks kind where Docker answers, else local. Env: LAB_ENGINE.",
)
@STATE_DIR
@PORTS
@click.option(
    "--bind", default="127.0.0.1", show_default=True, help="Address the gateway listens on (local)."
)
@click.option(
    "--context",
    envvar="LAB_CONTEXT",
    default=None,
    help="kubeconfig context of an existing cluster (--engine cluster). Env: LAB_CONTEXT.",
)
@click.option(
    "--namespace",
    default=None,
    help="Namespace for the lab's resources on a shared cluster (--engine cluster; default lab-<user name>).",
)
@click.option(
    "--seed",
    type=int,
    envvar="LAB_SEED",
    default=None,
    help="Seed the embedded engine's random choices (reproducible splits). Env: LAB_SEED.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="kind: the `lab prefetch` cache (default: $LAB_CACHE_DIR, the folder the last `lab prefetch` "
    "filled, ~/.cache/lab).",
)
@KIND_PIN
@CLUSTER_OPTIONS
@click.option("--no-check", is_flag=True, help="Do not run the traffic check after the lab converged.")
@click.option("--step", "teach", is_flag=True, help="Teaching mode: stop before each step and explain it.")
@CHECK_OPTIONS
@pass_app
def up_cmd(
    app: App,
    /,
    scenario: str,
    engine: str,
    state_dir: Path | None,
    ports: tuple[str, ...],
    bind: str,
    context: str | None,
    namespace: str | None,
    seed: int | None,
    cache_dir: Path | None,
    kind_pin: str,
    no_check: bool,
    teach: bool,
    **check: Any,
) -> None:
    """Start the lab for SCENARIO (or switch the running lab to it), then check the split.

    Multi-step scenarios run their steps in order, each judged before the next; the first failing
    step stops the run with its exit code, and a summary table ends the run.
    """
    _check_options(check)  # a bad --alpha stops here, before the lab starts
    options = with_cluster_options(
        replace(engine_options(app, state_dir, bind, ports, context, namespace, seed), cache_dir=cache_dir, kind_pin=kind_pin),
        check,
    )
    plan = make_plan(app.lab_dir, scenario)
    for warning in dict.fromkeys(str(w) for step in plan.steps for w in step.warnings):
        click.echo(f"warning: {warning}")
    if check["plot"] is not None and not no_check:
        from lab.ui import pictures

        pictures.require(check["plot"])  # before the lab starts: a missing matplotlib fails fast
    choice = lifecycle.choose_engine(engine)
    lifecycle.check_options(choice, options)
    teacher = Teacher(
        app.console,
        enabled=teach,
        steps=tutorial(plan, where(app, options), options.timeouts, check["requests"], not check["sequential"]),
        notes=engine_tutorial.notes(choice.name),
    )
    click.echo(f"engine: {choice.name} ({choice.reason})")
    if teacher.notes and not teacher.enabled:
        differ = ", ".join(dict.fromkeys(SHORT_NAMES[key] for key in teacher.notes))
        click.echo(
            f"  tutorial steps the {choice.name} engine does its own way: {differ} "
            f"(`lab plan {scenario} --engine {choice.name}` shows each)"
        )
    runner = _UpRun(app, teacher, check, no_check)
    teacher.before_start()
    code = _run_steps(app, plan, choice, options, runner)
    if code:
        raise click.exceptions.Exit(code)


def _run_steps(
    app: App, plan: Plan, choice: lifecycle.EngineChoice, options: EngineOptions, runner: _UpRun
) -> int:
    """Every step in order; a multi-step run ends with the summary, even when a step did not converge."""
    try:
        return lifecycle.run(plan, choice, options, say, runner)
    except LabError as exc:
        runner.stopped(int(exc.exit_code))
        raise
    finally:
        if len(plan.steps) > 1:
            from lab.ui.report import render_summary

            render_summary(plan, runner.runs, _side_console(app, runner.check["output"]))


class _UpRun:
    """What `lab up` does around each step: teaching pauses, endpoints, the check, its report and time."""

    def __init__(self, app: App, teacher: Teacher, check: dict[str, Any], no_check: bool) -> None:
        self.app, self.teacher, self.check, self.no_check = app, teacher, check, no_check
        self.runs: list[StepRun] = []
        self._started = time.monotonic()
        self._current: str | None = None  # the step under way, until its run is recorded

    def before(self, plan: Plan, step: StepPlan, index: int) -> None:
        """Teaching mode shows the step's route switch first (the first one only when teaching)."""
        self._started = time.monotonic()
        self._current = step.step.name
        if index or self.teacher.enabled:
            self.teacher.before_step(step.step.name)

    def after(self, state: LabState, plan: Plan, step: StepPlan, index: int) -> int:
        """Endpoints once, then the step's check (unless --no-check); its exit code."""
        from lab.ui.report import StepRun

        if index == 0:
            _print_endpoints(state, step)
        if self.no_check:
            self.runs.append(StepRun(step.step.name, None, time.monotonic() - self._started))
            return 0
        self.teacher.before_check(step.step.name)
        result = _check_and_report(self.app, state, plan, step, self.check)
        self.runs.append(StepRun.of(result, time.monotonic() - self._started))
        return int(result.outcome.exit_code)

    def stopped(self, exit_code: int) -> None:
        """An error stopped the step under way before its verdict: recorded with its exit code."""
        from lab.ui.report import StepRun

        if self._current is not None and self._current not in {r.name for r in self.runs}:
            self.runs.append(StepRun(self._current, None, time.monotonic() - self._started, error=exit_code))


def _print_endpoints(state: LabState, step: StepPlan) -> None:
    click.echo(f"lab {state.scenario} is up on the {state.engine} engine")
    for t in step.traffic:
        url = state.gateway_url(t.port, t.traffic.path, t.scheme)
        headers = " ".join(f"-H '{k}: {v}'" for k, v in t.traffic.headers.items())
        ca = f"--cacert {state.ca_file} " if t.scheme == "https" else ""
        click.echo(f"  gateway: {url}")
        if ca:
            click.echo(f"  CA:      {state.ca_file}")
        click.echo(f"  try:     curl {ca}{headers + ' ' if headers else ''}{url}")


def _side_console(app: App, output: str) -> Console:
    """Where progress and notes go: the terminal, or stderr when stdout carries JSON."""
    return app.console if output == "text" else console(stderr=True)


def _check_options(check: dict[str, Any]) -> CheckOptions:
    check_alpha(check["alpha"], "--alpha")
    return CheckOptions(
        requests=check["requests"],
        alpha=check["alpha"],
        sequential=check["sequential"],
        keepalive=not check["new_connection"],
        workers=check["workers"],
    )


def _check_and_report(
    app: App, state: LabState, plan: Plan, step: StepPlan, check: dict[str, Any]
) -> CheckResult:
    """Drive, judge and report one step; writes --report and --plot when asked."""
    from lab.ui import pictures
    from lab.ui.report import render_check

    options = _check_options(check)
    output = check["output"]
    console = _side_console(app, output)
    if check["plot"] is not None:
        pictures.require(check["plot"])  # before any request: a missing matplotlib fails fast
    with DriveProgress(console, None if options.sequential else options.requests, options.sequential) as progress:
        result = run_check(state, step, plan.scenario.name, options, progress)
    if output == "json":
        app.print_json(result.to_dict())
    else:
        render_check(result, app.console)
    if check["report"] is not None:
        check["report"].write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
        console.print(f"report written to {check['report']}", soft_wrap=True)
    if check["plot"] is not None:
        names = [s.step.name for s in plan.steps]
        path = pictures.step_path(check["plot"], step.step.name, names)
        pictures.plot_check(result, path, running=options.sequential or len(names) > 1)
        console.print(f"picture written to {path}", soft_wrap=True)
    return result


@cli.command("check")
@click.argument("scenario", required=False)
@click.option("--step-name", default=None, help="Judge against this step of a multi-step scenario.")
@STATE_DIR
@CHECK_OPTIONS
@pass_app
def check_cmd(
    app: App, /, scenario: str | None, step_name: str | None, state_dir: Path | None, **check: Any
) -> None:
    """Drive traffic through the running lab and judge it against SCENARIO (default: the running one).

    Exit 0 when the split matches, 1 when it does not, 6 when the run cannot tell.
    """
    notes = _side_console(app, check["output"])
    state = lifecycle.running(engine_options(app, state_dir), lambda line: notes.print(line, soft_wrap=True, markup=False))
    name = scenario or state.scenario
    if name != state.scenario:
        raise UsageError(
            f"the running lab serves {state.scenario}, not {name}: judging {name}'s split against "
            f"{state.scenario}'s routes would say nothing",
            fix=f"`lab up {name}` switches the lab to it; `lab check` judges {state.scenario}",
        )
    plan = make_plan(app.lab_dir, name)
    if step_name is None and name == state.scenario:
        step_name = state.step
    step = lifecycle.plan_step(plan, step_name)
    result = _check_and_report(app, state, plan, step, check)
    raise click.exceptions.Exit(int(result.outcome.exit_code))
