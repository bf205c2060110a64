"""The `lab` command line: parses and validates options, then delegates to the library.

One module per family of commands; `app` holds the root group and what they share.
"""

from lab.ui.cli import catalogue, host, inspect, judging, running  # noqa: F401  (they register the commands)
from lab.ui.cli.app import cli


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="lab")


__all__ = ["cli", "main"]
