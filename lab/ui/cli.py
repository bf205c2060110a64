"""The `lab` command line: parses and validates options, then delegates to the library."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

from lab import __version__, lifecycle
from lab.engines import ENGINE_NAMES
from lab.engines.base import EngineOptions
from lab.errors import InvalidInput, LabError, NotConverged, UsageError
from lab.spec import registry
from lab.spec.commands import tutorial_steps
from lab.spec.plan import Plan, StepPlan, make_plan, plan_scenario
from lab.spec.registry import LabDir
from lab.spec.validation import InvalidPlan
from lab.state import LabState, StateDir
from lab.stats.verdict import DEFAULT_ALPHA
from lab.timeouts import DEFAULT as DEFAULT_TIMEOUTS
from lab.traffic.attribution import Attributor
from lab.traffic.check import CheckOptions, CheckResult, TrafficStats, run_check
from lab.traffic.driver import DriveSpec, drive
from lab.ui.progress import DriveProgress
from lab.ui.teaching import Teacher


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
    from lab.ui import views

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
    problems: list[InvalidInput] = []
    for name in names:
        try:
            plan_scenario(app.lab_dir, registry.get(app.lab_dir, name).scenario)
            click.echo(f"ok       {name}")
        except InvalidInput as error:
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
        raise InvalidPlan(errors)


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
    from lab.engines.kube import prefetch
    from lab.timeouts import DEFAULT
    from lab.ui import views

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
    from lab.engines.kube import doctor
    from lab.errors import EnvironmentNotReady
    from lab.ui import views

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

    from lab.engines.kube import prefetch
    from lab.timeouts import DEFAULT
    from lab.ui import views

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
    from lab.engines.kube import kubeconfig

    path = (state_dir or app.lab_dir.root / ".lab") / "kubeconfig"
    if export:
        click.echo(kubeconfig.export_line(path))
    elif merge:
        target = kubeconfig.merge(path)
        click.echo(f"merged {path} into {target}", err=True)
    else:
        click.echo(kubeconfig.read(path), nl=False)


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

    from lab.stats.verdict import judge as judge_split
    from lab.ui.report import render_verdict

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
    from lab.stats.power import required_sample_size, sample_size_sentence

    weights = _parse_pairs(expect, "--expect", allow_bare=True)
    n = required_sample_size(weights, detect=detect, power=power, alpha=alpha)
    click.echo(str(n))
    click.echo(sample_size_sentence(weights, n, detect=detect, power=power, alpha=alpha))


def CHECK_OPTIONS(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options `lab check` and `lab up` share."""
    for option in reversed(
        [
            click.option(
                "--requests",
                "-n",
                type=click.IntRange(min=1),
                default=None,
                help="Requests per traffic class (default: the planner's n).",
            ),
            click.option(
                "--alpha",
                type=click.FloatRange(0, 1, min_open=True, max_open=True),
                default=DEFAULT_ALPHA,
                show_default=True,
                help="False-fail rate of the test.",
            ),
            click.option(
                "--sequential",
                is_flag=True,
                help="Stop as soon as the verdict is clear (false-fail rate still <= alpha).",
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
                help="Draw observed vs expected shares to FILE.png|svg (needs matplotlib).",
            ),
        ]
    ):
        f = option(f)
    return f


STATE_DIR = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LAB_STATE_DIR",
    default=None,
    help="The lab's state folder (state, CA, logs). Env: LAB_STATE_DIR. Default: <lab-dir>/.lab.",
)


def _port_map(values: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    out: dict[int, int] = {}
    for value in values:
        listener, sep, local = value.partition("=")
        if not sep or not listener.isdigit() or not local.isdigit():
            raise click.BadParameter(
                f"{value!r}: expected LISTENER=LOCAL, e.g. 8443=9443", param_hint="--port"
            )
        if not (0 < int(listener) < 65536 and 0 < int(local) < 65536):
            raise click.BadParameter(f"{value!r}: ports are 1..65535", param_hint="--port")
        out[int(listener)] = int(local)
    return tuple(out.items())


def _options(
    app: App,
    state_dir: Path | None,
    bind: str = "127.0.0.1",
    ports: tuple[str, ...] = (),
    context: str | None = None,
    namespace: str | None = None,
    seed: int | None = None,
) -> EngineOptions:
    return EngineOptions(
        state=StateDir((state_dir or app.lab_dir.root / ".lab").resolve()),
        timeouts=DEFAULT_TIMEOUTS,
        bind=bind,
        port_map=_port_map(ports),
        kube_context=context,
        namespace=namespace,
        seed=seed,
    )


def _say(message: str) -> None:
    click.echo(f"  {message}")


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
@click.option(
    "--port",
    "ports",
    multiple=True,
    metavar="LISTENER=LOCAL",
    help="Serve a Gateway listener port on another local port (repeatable), e.g. 8443=9443.",
)
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
    help="Namespace for the lab's resources on an existing cluster (--engine cluster; default lab).",
)
@click.option(
    "--seed",
    type=int,
    envvar="LAB_SEED",
    default=None,
    help="Seed the embedded engine's random choices (reproducible splits). Env: LAB_SEED.",
)
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
    no_check: bool,
    teach: bool,
    **check: Any,
) -> None:
    """Start the lab for SCENARIO (or switch the running lab to it), then check the split.

    Multi-step scenarios run their steps in order, each judged before the next; the first failing
    step stops the run with its exit code.
    """
    if engine != "cluster" and (context or namespace):
        raise UsageError("--context and --namespace are for --engine cluster")
    options = _options(app, state_dir, bind, ports, context, namespace, seed)
    plan = make_plan(app.lab_dir, scenario)
    teacher = Teacher(app.console, enabled=teach)
    choice = lifecycle.choose_engine(engine)
    click.echo(f"engine: {choice.name} ({choice.reason})")
    teacher.before_start(plan)
    result: CheckResult | None = None
    for index, step in enumerate(plan.steps):
        if index or teacher.enabled:
            teacher.before_step(plan, step)
        state = lifecycle.up(plan, choice, options, _say, no_check=no_check, step_name=step.step.name)
        if index == 0:
            _print_endpoints(state, step)
        if no_check:
            continue
        teacher.before_check(step)
        result = _check_and_report(app, state, plan, step, check)
        if result.outcome.exit_code:
            break
    if result is not None and result.outcome.exit_code:
        raise click.exceptions.Exit(int(result.outcome.exit_code))


def _print_endpoints(state: LabState, step: StepPlan) -> None:
    click.echo(f"lab {state.scenario} is up on the {state.engine} engine")
    for t in step.traffic:
        url = state.gateway_url(t.port, t.traffic.path)
        headers = " ".join(f"-H '{k}: {v}'" for k, v in t.traffic.headers.items())
        click.echo(f"  gateway: {url}")
        click.echo(f"  CA:      {state.ca_file}")
        click.echo(f"  try:     curl --cacert {state.ca_file} {headers + ' ' if headers else ''}{url}")


def _check_options(check: dict[str, Any]) -> CheckOptions:
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
    from lab.ui.report import plot_check, render_check

    options = _check_options(check)
    output = check["output"]
    console = app.console if output == "text" else Console(stderr=True, highlight=False)
    with DriveProgress(console, options.requests) as progress:
        result = run_check(state, step, plan.scenario.name, options, progress)
    if output == "json":
        app.print_json(result.to_dict())
    else:
        render_check(result, app.console)
    if check["report"] is not None:
        check["report"].write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
        console.print(f"report written to {check['report']}")
    if check["plot"] is not None:
        plot_check(result, check["plot"])
        console.print(f"picture written to {check['plot']}")
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
    state = lifecycle.running(_options(app, state_dir))
    name = scenario or state.scenario
    plan = make_plan(app.lab_dir, name)
    if step_name is None and name == state.scenario:
        step_name = state.step
    step = lifecycle.plan_step(plan, step_name)
    result = _check_and_report(app, state, plan, step, check)
    raise click.exceptions.Exit(int(result.outcome.exit_code))


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
    state = lifecycle.running(_options(app, state_dir))
    plan = make_plan(app.lab_dir, state.scenario)
    step = lifecycle.plan_step(plan, state.step)
    parsed = {}
    for item in headers:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--header {item!r}: expected K=V, e.g. -H x-canary=always")
        parsed[key] = value
    port = listener_port or (step.traffic[0].port if step.traffic else next(iter(state.ports)))
    spec = DriveSpec(
        url=state.gateway_url(port, path),
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

    state, rows = lifecycle.status(_options(app, state_dir))
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
    state = lifecycle.apply(_options(app, state_dir), files, _say)
    click.echo(f"applied {len(files)} file(s) to the {state.engine} lab of {state.scenario}")


@cli.command("down")
@STATE_DIR
@pass_app
def down_cmd(app: App, state_dir: Path | None) -> None:
    """Stop the lab and free everything it held; with no lab running, say so and exit 0."""
    options = _options(app, state_dir)
    state = lifecycle.down(options, _say)
    if state is None:
        click.echo(f"no lab running in {options.state.path}; nothing to do")
    else:
        click.echo(f"lab {state.scenario} on the {state.engine} engine is down")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="lab")
