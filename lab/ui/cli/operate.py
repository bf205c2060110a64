"""Operating a running lab: `lab traffic`, `lab status`, `lab apply`, `lab down`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lab import lifecycle
from lab.errors import NotConverged, UsageError
from lab.spec.plan import make_plan
from lab.traffic.attribution import Attributor
from lab.traffic.check import TrafficStats
from lab.traffic.driver import DriveSpec, drive
from lab.ui.cli.app import OUTPUT, STATE_DIR, App, cli, engine_options, pass_app, say

if TYPE_CHECKING:
    pass

# RFC 9110 section 5.6.2: a method is a token
HTTP_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@cli.command("traffic")
@click.option(
    "--requests", "-n", type=click.IntRange(min=1), default=100, show_default=True, help="How many requests."
)
@click.option("--path", default="/echo", show_default=True, help="Request path (and query).")
@click.option("--header", "-H", "headers", multiple=True, metavar="K=V", help="Request header (repeatable).")
@click.option("--method", default="GET", show_default=True, help="HTTP method.")
@click.option(
    "--port", "listener_port", type=int, default=None, help="Gateway listener port (default: the first)."
)
@STATE_DIR
@OUTPUT
@pass_app
def traffic_cmd(
    app: App,
    requests: int,
    path: str,
    headers: tuple[str, ...],
    method: str,
    listener_port: int | None,
    state_dir: Path | None,
    output: str,
) -> None:
    """Send ad-hoc traffic to the running lab and count who answered (the blog's curl loop, verified)."""
    if not path.startswith("/"):
        raise UsageError(f"--path {path!r}: a request path starts with /, e.g. --path /{path}")
    if not HTTP_TOKEN.fullmatch(method):
        raise UsageError(f"--method {method!r}: not an HTTP method (letters, digits and !#$%&'*+-.^_`|~ only)")
    state = lifecycle.running(engine_options(app, state_dir))
    plan = make_plan(app.lab_dir, state.scenario, judged=False)
    step = lifecycle.plan_step(plan, state.step)
    parsed = {}
    for item in headers:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--header {item!r}: expected K=V, e.g. -H x-canary=always")
        parsed[key] = value
    port = listener_port or (step.traffic[0].port if step.traffic else next(iter(state.ports)))
    schemes = {lst.port: lst.scheme for lst in step.topology.listeners()}
    spec = DriveSpec(
        url=state.gateway_url(port, path, schemes.get(port, "https")),
        ca_file=state.ca_file,
        requests=requests,
        headers=parsed,
        method=method.upper(),
    )
    tally = drive(spec, Attributor.from_resources(step.resources))
    if output == "json":
        app.print_json(
            {
                "url": spec.url,
                "hits": dict(tally.hits),
                "pods": dict(tally.pods),
                **TrafficStats.of(tally).to_dict(),
            }
        )
        return
    from lab.ui.views import traffic_table

    traffic_table(spec.url, tally, app.console)


@cli.command("status")
@STATE_DIR
@OUTPUT
@pass_app
def status_cmd(app: App, state_dir: Path | None, output: str) -> None:
    """Show the running lab: engine, scenario, gateway URL, CA, backends, what is not emulated."""
    from lab.ui import views

    state, rows = lifecycle.status(engine_options(app, state_dir))
    if output == "json":
        app.print_json(views.status_json(state, rows))
    else:
        views.status_table(state, rows, app.console)
    if any(r.state == "crashed" for r in rows):
        raise NotConverged(
            f"the {state.engine} lab of {state.scenario} has crashed", fix="`lab down` cleans up"
        )


@cli.command("apply")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@STATE_DIR
@pass_app
def apply_cmd(app: App, files: tuple[Path, ...], state_dir: Path | None) -> None:
    """Apply manifest FILES to the running lab (validated with its resources; exit 3 if invalid)."""
    state = lifecycle.apply(engine_options(app, state_dir), files, say)
    click.echo(f"applied {len(files)} file(s) to the {state.engine} lab of {state.scenario}")


@cli.command("down")
@STATE_DIR
@pass_app
def down_cmd(app: App, state_dir: Path | None) -> None:
    """Stop the lab and free everything it held; with no lab running, say so and exit 0."""
    options = engine_options(app, state_dir)
    removed = lifecycle.down(options, say)
    if not removed:
        click.echo(f"no lab running in {options.state.path}; nothing to do")
    for item in removed:
        click.echo(f"{item} is down")
