"""The `lab` command line: parses and validates options, then delegates to the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

from lab import __version__, registry
from lab.commands import tutorial_steps
from lab.errors import InvalidInput, LabError
from lab.plan import make_plan, plan_scenario
from lab.registry import LabDir
from lab.validation import InvalidPlan


class App:
    """What every command needs: where the lab definition lives, and the console."""

    def __init__(self, lab_dir: Path) -> None:
        self.lab_dir = LabDir(lab_dir)
        self.console = Console(highlight=False)

    def print_json(self, data: object) -> None:
        """JSON on stdout, nothing else."""
        click.echo(json.dumps(data, indent=2))


OUTPUT = click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)


pass_app = click.make_pass_decorator(App)


def abort(error: LabError) -> NoReturn:
    """The one exit path for errors a user can cause: a plain sentence and the exit code."""
    click.echo(f"error: {error}", err=True)
    raise click.exceptions.Exit(int(error.exit_code))


class LabGroup(click.Group):
    """Root group: turns any LabError raised by a command into its message and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a LabError becomes `abort`."""
        try:
            return super().invoke(ctx)
        except LabError as error:
            abort(error)


@click.group(cls=LabGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lab")
@click.option(
    "--lab-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LAB_DIR",
    default=".",
    show_default=True,
    help="Folder laid out like the project root (scenarios/, manifests/, charts-values/). Env: LAB_DIR.",
)
@click.pass_context
def cli(ctx: click.Context, lab_dir: Path) -> None:
    """Build the Kubernetes Gateway API lab for a scenario, drive traffic and judge the split."""
    ctx.obj = App(lab_dir=lab_dir.resolve())


@cli.command("scenarios")
@OUTPUT
@pass_app
def scenarios_cmd(app: App, output: str) -> None:
    """List the scenarios of the lab folder."""
    from lab import views

    entries = registry.discover(app.lab_dir)
    if output == "json":
        app.print_json(views.scenarios_json(entries))
    else:
        views.scenarios_table(entries, app.console)


@cli.command("validate")
@click.argument("scenario_names", nargs=-1, metavar="[SCENARIO]...")
@pass_app
def validate_cmd(app: App, scenario_names: tuple[str, ...]) -> None:
    """Validate scenarios (all when none is named): manifests, references, weights. Exit 3 if invalid."""
    entries = registry.discover(app.lab_dir)
    names = list(scenario_names) or sorted(entries)
    problems: list[LabError] = []
    for name in names:
        try:
            plan_scenario(app.lab_dir, registry.get(app.lab_dir, name).scenario)
            click.echo(f"ok       {name}")
        except LabError as error:
            click.echo(f"invalid  {name}")
            problems.append(error)
    if problems:
        seen: set[str] = set()
        errors = []
        for p in problems:
            for e in p.errors if isinstance(p, InvalidPlan) else [p]:
                if str(e) not in seen:
                    seen.add(str(e))
                    errors.append(e)
        if len(errors) == 1:
            raise errors[0]
        raise InvalidPlan(errors)  # type: ignore[arg-type]


@cli.command("plan")
@click.argument("scenario")
@OUTPUT
@pass_app
def plan_cmd(app: App, scenario: str, output: str) -> None:
    """Print the steps of SCENARIO as the equivalent shell commands (the tutorial steps)."""
    from lab import views

    plan = make_plan(app.lab_dir, scenario)
    steps = tutorial_steps(plan)
    if output == "json":
        app.print_json(views.plan_json(plan, steps))
    else:
        views.plan_text(plan, steps, app.console)


def _parse_pairs(text: str, option: str, *, allow_bare: bool = False) -> dict[str, int]:
    """Parse `name=int,name=int` (or, with allow_bare, `int,int`) for `option`."""
    result: dict[str, int] = {}
    items = [item.strip() for item in text.split(",")]
    bare = allow_bare and all("=" not in item for item in items)
    for position, item in enumerate(items, start=1):
        name, sep, value = item.partition("=")
        if bare:
            name, value = f"backend-{position}", item
        elif not sep or not name.strip():
            raise InvalidInput(
                f"{option}: expected name=count, got {item!r}",
                fix=f"write {option} like echo-1=99,echo-2=1",
            )
        name = name.strip()
        try:
            number = int(value.strip())
        except ValueError:
            raise InvalidInput(
                f"{option}: {name} must be a whole number, got {value.strip()!r}",
                fix=f"write {option} like echo-1=99,echo-2=1",
            ) from None
        if number < 0:
            raise InvalidInput(f"{option}: {name} must not be negative, got {number}")
        if name in result:
            raise InvalidInput(f"{option}: {name} is given twice")
        result[name] = number
    return result


def _parse_failed(text: str) -> int | dict[str, int]:
    try:
        number = int(text)
    except ValueError:
        return _parse_pairs(text, "--failed")
    if number < 0:
        raise InvalidInput(f"--failed must not be negative, got {number}")
    return number


@cli.command()
@click.option("--expect", required=True, help="Weights per backend: echo-1=99,echo-2=1.")
@click.option("--observed", required=True, help="Successful responses: echo-1=1179,echo-2=9.")
@click.option(
    "--failed",
    default="0",
    show_default=True,
    help="Failed requests, counted apart: a number, or per cause (timeout=3,http-503=2).",
)
@click.option("--alpha", type=float, default=0.001, show_default=True, help="False-fail rate.")
@click.option(
    "--max-failed-share",
    type=float,
    default=0.01,
    show_default=True,
    help="Above this share of failed requests the verdict is inconclusive.",
)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def judge(
    expect: str, observed: str, failed: str, alpha: float, max_failed_share: float, output: str
) -> None:
    """Judge observed counts against weights: exit 0 pass, 1 fail, 6 inconclusive."""
    import json

    from rich.console import Console

    from lab.report import render_verdict
    from lab.verdict import judge as judge_split

    verdict = judge_split(
        _parse_pairs(expect, "--expect"),
        _parse_pairs(observed, "--observed"),
        failed=_parse_failed(failed),
        alpha=alpha,
        max_failed_share=max_failed_share,
    )
    if output == "json":
        click.echo(json.dumps(verdict.to_dict(), indent=2))
    else:
        render_verdict(verdict, Console(highlight=False))
    raise click.exceptions.Exit(int(verdict.outcome.exit_code))


@cli.command("sample-size")
@click.option("--expect", required=True, help="Weights: 99,1 or echo-1=99,echo-2=1.")
@click.option("--detect", type=float, default=0.03, show_default=True, help="Absolute shift.")
@click.option("--power", type=float, default=0.95, show_default=True, help="Detection rate.")
@click.option("--alpha", type=float, default=0.001, show_default=True, help="False-fail rate.")
def sample_size(expect: str, detect: float, power: float, alpha: float) -> None:
    """Print the successful responses needed to detect a shift of the smallest share."""
    from lab.power import required_sample_size, sample_size_sentence

    weights = _parse_pairs(expect, "--expect", allow_bare=True)
    n = required_sample_size(weights, detect=detect, power=power, alpha=alpha)
    click.echo(str(n))
    click.echo(sample_size_sentence(weights, n, detect=detect, power=power, alpha=alpha))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="lab")
