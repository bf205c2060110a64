"""What every command shares: the App object, the root group, common options and the abort path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

from lab import __version__
from lab.engines.base import EngineOptions
from lab.errors import LabError
from lab.spec.registry import LabDir
from lab.state import StateDir
from lab.timeouts import DEFAULT as DEFAULT_TIMEOUTS


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


# 128 + SIGINT, as a shell reports a command stopped by Ctrl-C
INTERRUPTED = 130


class LabGroup(click.Group):
    """Root group: turns any LabError raised by a command into its message and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a LabError becomes `abort`."""
        try:
            return super().invoke(ctx)
        except LabError as error:
            abort(error)
        except KeyboardInterrupt:
            # never click's "Aborted!" with exit 1, which means "the split does not match"
            click.echo("\ninterrupted: `lab status` shows what is running, `lab down` removes it", err=True)
            raise click.exceptions.Exit(INTERRUPTED) from None


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


CACHE_DIR = click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LAB_CACHE_DIR",
    default=None,
    help="Prefetch cache folder (default ~/.cache/lab). Env: LAB_CACHE_DIR.",
)


KIND_PIN = click.option(
    "--kind-pin",
    type=click.Choice(["tutorial", "compat"]),
    envvar="LAB_KIND_PIN",
    default="tutorial",
    show_default=True,
    help="kind: tutorial = kind v0.11.1 + node v1.21.1; compat = kind v0.20.0 with a v1.21 node image, "
    "for hosts the 2021 image cannot boot on (see `lab doctor`). Env: LAB_KIND_PIN.",
)


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


def engine_options(
    app: App,
    state_dir: Path | None,
    bind: str = "127.0.0.1",
    ports: tuple[str, ...] = (),
    context: str | None = None,
    namespace: str | None = None,
    seed: int | None = None,
) -> EngineOptions:
    """The engine options of a command: state folder, timeouts, bind address, port map, cluster."""
    return EngineOptions(
        state=StateDir((state_dir or app.lab_dir.root / ".lab").resolve()),
        timeouts=DEFAULT_TIMEOUTS,
        bind=bind,
        port_map=_port_map(ports),
        kube_context=context,
        namespace=namespace,
        seed=seed,
    )


def say(message: str) -> None:
    """One progress line of a lab command, indented under its heading."""
    click.echo(f"  {message}")


