"""The `lab` command line: parses and validates options, then delegates to the library.

Owns: app (the root group, shared options, the abort path), catalogue (scenarios, validate,
plan), host (doctor, prefetch, kubeconfig), cluster (cluster prepare, `lab up`'s shared-cluster
options), judging (judge, sample-size), running (up, check, traffic, status, apply, down): one
module per family of commands.
May import: anything in lab; commands only parse options and call the library.
"""

from lab.ui.cli import catalogue, cluster, host, inspect, judging, running  # noqa: F401  (they register the commands)
from lab.ui.cli.app import cli


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="lab")


__all__ = ["cli", "main"]
