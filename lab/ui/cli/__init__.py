"""The `lab` command line: parses and validates options, then delegates to the library.

Owns: app (the root group, shared options, the abort path), catalogue (scenarios, validate,
plan), host (doctor, prefetch, kubeconfig), cluster (cluster prepare, `lab up`'s shared-cluster
options), judging (judge, sample-size), running (up, check), operate (traffic, status, apply, down),
inspect (get): one module per family of commands.
May import: anything in lab; commands only parse options and call the library.
"""

import signal

from lab.ui.cli.app import cli  # the command modules are imported on first use (app.COMMAND_MODULES)


def main() -> None:
    """Console-script entry point."""
    try:
        cli(prog_name="lab")
    finally:
        # the command is done (its exit code chosen): a Ctrl-C now would only make the interpreter
        # print "Exception ignored ... KeyboardInterrupt" while it shuts down
        signal.signal(signal.SIGINT, signal.SIG_IGN)


__all__ = ["cli", "main"]
