"""What every command shares: the App object, the root group, common options and the abort path."""

from __future__ import annotations

import contextlib
import errno
import importlib
import io
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

from lab import __version__
from lab.engines.base import EngineOptions
from lab.errors import ExitCode, LabError
from lab.spec.commands import Where
from lab.spec.registry import LabDir
from lab.state import StateDir
from lab.stats import memo
from lab.timeouts import DEFAULT as DEFAULT_TIMEOUTS


class LabConsole(Console):
    """rich's Console, except that a reader going away is a BrokenPipeError for `exits_for_errors`.

    rich's own answer (Console.on_broken_pipe) is SystemExit(1): exit 1 means "the split does not
    match", so `lab judge ... | head -1` read as a FAIL.
    """

    def on_broken_pipe(self) -> None:
        """Stop writing and let the one exit path choose the code."""
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the reader of lab's output went away")


def console(*, stderr: bool = False) -> Console:
    """The console every command prints through."""
    return LabConsole(stderr=stderr, highlight=False)


class App:
    """What every command needs: where the lab definition lives, and the console."""

    def __init__(self, lab_dir: Path) -> None:
        self.lab_dir = LabDir(lab_dir)
        self.console = console()

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


def save_crash_report(error: BaseException, command: str) -> Path | None:
    """Write the traceback, the command line and the versions to a private file; None if impossible.

    The folder is $LAB_CRASH_DIR, else the system's temporary folder; the file is created 0600.
    """
    folder = Path(os.environ.get("LAB_CRASH_DIR") or tempfile.gettempdir())
    text = (
        f"lab {__version__} crashed: this is a bug in lab\n"
        f"command: {command}\n"
        f"python {platform.python_version()} on {platform.platform()}\n\n"
        + "".join(traceback.format_exception(error))
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        handle, name = tempfile.mkstemp(prefix=f"lab-crash-{stamp}-", suffix=".txt", dir=folder)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError:
        return None
    return Path(name)


def crash(error: Exception, command: str) -> NoReturn:
    """The exit path for an unexpected exception: say it is a bug, where the traceback is, exit 70."""
    summary = "".join(traceback.format_exception_only(error)).strip()
    click.echo(f"error: internal error ({summary}): this is a bug in lab, not a verdict on your split.", err=True)
    saved = save_crash_report(error, command)
    if saved is None:
        click.echo("".join(traceback.format_exception(error)), err=True)
        click.echo("  the traceback is above (no crash file could be written); please report it.", err=True)
    else:
        click.echo(f"  traceback saved to {saved}; please report it with that file.", err=True)
    raise click.exceptions.Exit(int(ExitCode.CRASH))


# command -> the module that defines it: imported only when the command runs (or help lists it),
# so `lab check` does not pay for `lab plan`'s or `lab doctor`'s imports
COMMAND_MODULES = {
    "scenarios": "catalogue",
    "validate": "catalogue",
    "plan": "catalogue",
    "doctor": "host",
    "prefetch": "host",
    "kubeconfig": "host",
    "judge": "judging",
    "sample-size": "judging",
    "up": "running",
    "check": "running",
    "traffic": "operate",
    "status": "operate",
    "apply": "operate",
    "down": "operate",
    "get": "inspect",
    "cluster": "cluster",
}


class LabGroup(click.Group):
    """Root group: a LabError becomes its message and exit code; any other exception is a crash (70).

    Commands live in the modules of lab.ui.cli (COMMAND_MODULES), imported on first use.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, without importing the modules that define them."""
        return sorted({*COMMAND_MODULES, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its module the first time (it registers itself on `cli`)."""
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(f"lab.ui.cli.{COMMAND_MODULES[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Keep the command line as given, for the crash report; parse (`lab --help` lists commands)."""
        ctx.meta["lab.command_line"] = " ".join([ctx.info_name or "lab", *args])
        with exits_for_errors(ctx):
            return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a LabError becomes `abort`, an unexpected exception `crash`."""
        with exits_for_errors(ctx):
            return super().invoke(ctx)


@contextlib.contextmanager
def exits_for_errors(ctx: click.Context) -> Iterator[None]:
    """LabError: `abort`; Ctrl-C or click's Abort: 130; reader gone: 141; anything else: `crash` (70).

    Around both stages click runs outside a command (parsing the root options, which for
    `lab --help` imports every command module) and the command itself: an exception escaping
    click's main would exit 1, the code that means "the split does not match".
    """
    try:
        yield
    except LabError as error:
        abort(error)
    except (click.exceptions.ClickException, click.exceptions.Exit):
        raise  # usage errors (2) and the exit codes commands chose
    except BrokenPipeError:
        _quiet_stdout()
        raise click.exceptions.Exit(int(ExitCode.BROKEN_PIPE)) from None
    except (KeyboardInterrupt, click.exceptions.Abort):
        # never click's "Aborted!" with exit 1, which means "the split does not match"
        click.echo("\ninterrupted: `lab status` shows what is running, `lab down` removes it", err=True)
        raise click.exceptions.Exit(int(ExitCode.INTERRUPTED)) from None
    except Exception as error:  # the one place that turns a bug into exit 70
        crash(error, ctx.meta.get("lab.command_line", " ".join(sys.argv)))


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail again (exit 120)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # no file descriptor (a test runner's buffer): nothing will be flushed to a pipe


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
    memo.enable(memo.default_folder())  # sample sizes and sequential designs, remembered (LAB_STATS_CACHE)


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


PORTS = click.option(
    "--port",
    "ports",
    multiple=True,
    metavar="LISTENER=LOCAL",
    help="Serve a Gateway listener port on another local port (repeatable), e.g. 8443=9443.",
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


def where(app: App, options: EngineOptions) -> Where:
    """The lab the tutorial's commands are printed for: its state folder and ports."""
    return Where.of(options.state.path, app.lab_dir.root, dict(options.port_map))


def say(message: str) -> None:
    """One progress line of a lab command, indented under its heading."""
    click.echo(f"  {message}")


