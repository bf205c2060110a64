"""`python -m lab` and the `lab` command's entry point.

A Ctrl-C while lab's modules are still loading (the first ~0.3 s) exits 130 with one line, never
an import traceback.
"""

import sys


def main() -> None:
    """Console-script entry point: load the command line, then run it."""
    try:
        from lab.ui.cli import main as run
    except KeyboardInterrupt:
        from lab.errors import ExitCode

        sys.stderr.write("\ninterrupted while lab was starting: nothing was done\n")
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
    run()


if __name__ == "__main__":
    main()
