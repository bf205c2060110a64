"""The `lab` command line: parses and validates options, then delegates to the library."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import click

from lab import __version__
from lab.errors import LabError


class App:
    """What every command needs: where the lab definition lives."""

    def __init__(self, lab_dir: Path) -> None:
        self.lab_dir = lab_dir


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
    help="Folder laid out like the project root (scenarios/, manifests/, charts-values/). "
    "Env: LAB_DIR.",
)
@click.pass_context
def cli(ctx: click.Context, lab_dir: Path) -> None:
    """Build the Kubernetes Gateway API lab for a scenario, drive traffic and judge the split."""
    ctx.obj = App(lab_dir=lab_dir.resolve())


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="lab")
