"""The catalogue commands: `lab scenarios`, `lab validate`, `lab plan`."""

from __future__ import annotations

from pathlib import Path

import click

from lab.errors import InvalidInput
from lab.spec import registry
from lab.spec.commands import tutorial
from lab.spec.findings import Finding
from lab.spec.plan import Plan, make_plan, plan_scenario
from lab.spec.validation import InvalidPlan
from lab.ui.cli.app import CACHE_DIR, OUTPUT, PORTS, STATE_DIR, App, cli, engine_options, pass_app, where


@cli.command("scenarios")
@OUTPUT
@pass_app
def scenarios_cmd(app: App, output: str) -> None:
    """List the scenarios of the lab folder."""
    from lab.ui import views

    catalogue = _catalogue(app)
    if output == "json":
        app.print_json(views.scenarios_json(catalogue.entries, catalogue.broken))
    else:
        views.scenarios_table(catalogue.entries, catalogue.broken, app.console)


def _catalogue(app: App) -> registry.Catalogue:
    """The lab folder's scenarios; an empty catalogue is invalid input (exit 3)."""
    catalogue = registry.scan(app.lab_dir)
    if not catalogue.entries and not catalogue.broken:
        raise InvalidInput(
            f"{app.lab_dir.scenarios}: no scenario files",
            fix="add scenarios/<name>.py files, or point --lab-dir (env LAB_DIR) at a lab folder",
        )
    return catalogue


@cli.command("validate")
@click.argument("scenario_names", nargs=-1, metavar="[SCENARIO]...")
@click.option(
    "--strict",
    is_flag=True,
    help="Treat warnings (objects Kubernetes accepts and the controller flags) as errors: exit 3.",
)
@pass_app
def validate_cmd(app: App, scenario_names: tuple[str, ...], strict: bool) -> None:
    """Validate scenarios (all when none is named): manifests, references, weights. Exit 3 if invalid.

    What Kubernetes would refuse is an error; what it accepts and the controller flags (a dangling
    backendRef, a missing ReferencePolicy, a rule without backends) is a warning naming the status
    condition and the effect on traffic.
    """
    catalogue = _catalogue(app)
    names = list(scenario_names) or sorted({*catalogue.entries, *catalogue.broken})
    problems: list[InvalidInput] = []
    warnings: dict[str, Finding] = {}
    for name in names:
        try:
            plan = plan_scenario(app.lab_dir, registry.get(app.lab_dir, name).scenario)
        except InvalidInput as error:
            click.echo(f"invalid  {name}")
            problems.append(error)
            warnings.update(_unjudged_warnings(app, name))
            continue
        found = _warnings(plan)
        click.echo(f"ok       {name}" + (f" ({len(found)} warning(s))" if found else ""))
        warnings.update(found)
    for text in warnings:
        click.echo(f"warning: {text}")
    if problems:
        _raise_all(problems)
    if strict and warnings:
        raise InvalidInput(f"{len(warnings)} warning(s) and --strict", fix="fix what the warnings name")


def _warnings(plan: Plan) -> dict[str, Finding]:
    return {str(w): w for step in plan.steps for w in step.warnings}


def _unjudged_warnings(app: App, name: str) -> dict[str, Finding]:
    """The warnings of a scenario refused for a split it cannot judge: they say which reference."""
    try:
        return _warnings(plan_scenario(app.lab_dir, registry.get(app.lab_dir, name).scenario, judged=False))
    except InvalidInput:
        return {}


def _raise_all(problems: list[InvalidInput]) -> None:
    """Raise every distinct error of every scenario at once (one error as itself)."""
    seen: set[str] = set()
    errors = []
    for p in problems:
        for e in p.errors if isinstance(p, InvalidPlan) else [p]:
            if str(e) not in seen:
                seen.add(str(e))
                errors.append(e)
    if len(errors) == 1:
        raise errors[0]
    raise InvalidPlan(errors)


@cli.command("plan")
@click.argument("scenario")
@click.option(
    "--engine",
    type=click.Choice(["local", "kind", "cluster"]),
    default=None,
    help="Say which steps this engine does differently; with kind, also the images to pull and "
    "what the prefetch cache holds.",
)
@STATE_DIR
@PORTS
@CACHE_DIR
@OUTPUT
@pass_app
def plan_cmd(
    app: App,
    scenario: str,
    engine: str | None,
    state_dir: Path | None,
    ports: tuple[str, ...],
    cache_dir: Path | None,
    output: str,
) -> None:
    """Print the steps of SCENARIO as the shell commands a person would type (the tutorial steps).

    Paths and ports are those of the lab in --state-dir with --port, as `lab up` would use them.
    """
    from lab.engines import tutorial as engine_tutorial
    from lab.engines.kube import prefetch
    from lab.timeouts import DEFAULT
    from lab.ui import views

    plan = make_plan(app.lab_dir, scenario)
    options = engine_options(app, state_dir, ports=ports)
    steps = tutorial(plan, where(app, options), DEFAULT)
    notes = engine_tutorial.notes(engine)
    pulls = engine_tutorial.pulls_images(engine)
    # the cache `lab up` would use: --cache-dir, $LAB_CACHE_DIR, the one `lab prefetch` remembered
    folder = prefetch.resolve_cache(cache_dir, options.state.path)[0]
    cache = prefetch.status(folder, timeouts=DEFAULT) if pulls else None
    differences = engine_tutorial.plan_notes(engine, plan)
    if output == "json":
        data = views.plan_json(plan, steps, notes)
        if cache is not None:
            data["cache"] = views.cache_json(cache)
        if differences:
            data["engine_notes"] = differences
        app.print_json(data)
    else:
        views.plan_text(plan, steps, notes, app.console)
        for note in differences:
            app.console.print(f"note ({engine}): {note}", markup=False)
        if cache is not None:
            views.cache_table(cache, app.console)
