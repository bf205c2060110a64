"""The `lab` command line: parses and validates options, then delegates to the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

from lab import __version__, registry
from lab.commands import tutorial_steps
from lab.errors import LabError
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


CACHE_DIR = click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LAB_CACHE_DIR",
    default=None,
    help="Prefetch cache folder (default ~/.cache/lab). Env: LAB_CACHE_DIR.",
)


@cli.command("plan")
@click.argument("scenario")
@click.option(
    "--engine",
    type=click.Choice(["kind"]),
    default=None,
    help="Also list, for this engine, the images to pull and what the prefetch cache holds.",
)
@CACHE_DIR
@OUTPUT
@pass_app
def plan_cmd(app: App, scenario: str, engine: str | None, cache_dir: Path | None, output: str) -> None:
    """Print the steps of SCENARIO as the equivalent shell commands (the tutorial steps)."""
    from lab import prefetch, views
    from lab.timeouts import DEFAULT

    plan = make_plan(app.lab_dir, scenario)
    steps = tutorial_steps(plan)
    cache = prefetch.status(cache_dir or prefetch.cache_dir(), timeouts=DEFAULT) if engine else None
    if output == "json":
        data = views.plan_json(plan, steps)
        if cache is not None:
            data["cache"] = views.cache_json(cache)
        app.print_json(data)
    else:
        views.plan_text(plan, steps, app.console)
        if cache is not None:
            views.cache_table(cache, app.console)


@cli.command("doctor")
@click.option("--engine", type=click.Choice(["kind", "cluster"]), default="kind", show_default=True)
@pass_app
def doctor_cmd(app: App, engine: str) -> None:
    """Check Docker, kind/helm/kubectl and host ports for an engine; exit 4 when something blocks."""
    from lab import doctor, views
    from lab.errors import EnvironmentNotReady

    checks = doctor.run(engine)
    views.doctor_table(checks, app.console)
    blocking = [c for c in checks if c.blocks]
    if blocking:
        lines = "".join(f"\n  - {c.name}: {c.detail}\n    fix: {c.fix}" for c in blocking)
        raise EnvironmentNotReady(
            f"{len(blocking)} check(s) block the {engine} engine:{lines}",
            fix="run the fix shown for each, then `lab doctor` again",
        )


@cli.command("prefetch")
@CACHE_DIR
@pass_app
def prefetch_cmd(app: App, cache_dir: Path | None) -> None:
    """Pull every pinned image into Docker and cache the chart and CRDs, for an offline `lab up`."""
    import shutil

    from lab import prefetch, views
    from lab.timeouts import DEFAULT

    folder = cache_dir or prefetch.cache_dir()
    status = prefetch.prefetch(
        folder,
        lambda msg: app.console.print(f"  {msg}", markup=False),
        helm_path=shutil.which("helm"),
        timeouts=DEFAULT,
    )
    views.cache_table(status, app.console)


@cli.command("kubeconfig")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LAB_STATE_DIR",
    default=None,
    help="The lab's state folder (default <lab-dir>/.lab). Env: LAB_STATE_DIR.",
)
@click.option("--export", "export", is_flag=True, help="Print `export KUBECONFIG=...` for eval in a shell.")
@click.option(
    "--merge",
    is_flag=True,
    help="Merge the lab's cluster, user and context into ~/.kube/config (or the first $KUBECONFIG file).",
)
@pass_app
def kubeconfig_cmd(app: App, state_dir: Path | None, export: bool, merge: bool) -> None:
    """Print the kind lab's kubeconfig (kept in the state folder; ~/.kube/config is untouched)."""
    from lab import kubeconfig

    path = (state_dir or app.lab_dir.root / ".lab") / "kubeconfig"
    if export:
        click.echo(kubeconfig.export_line(path))
    elif merge:
        target = kubeconfig.merge(path)
        click.echo(f"merged {path} into {target}", err=True)
    else:
        click.echo(kubeconfig.read(path), nl=False)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="lab")
