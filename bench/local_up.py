"""How long `lab up canary-99-1 --engine local --no-check` takes until it returns (lab converged).

Runs the installed `lab` command as a user would, in a fresh state folder (first run makes the
lab CA) and then again in the same folder (CA reused); `lab down` after each. Goal: < 2 s.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import labproc

from lab.engines.local.ports import free_port

GOAL_S = 2.0
RUNS = 5


def up_seconds(state_dir: Path, port: int) -> float:
    start = time.perf_counter()
    labproc.up(state_dir, port)
    elapsed = time.perf_counter() - start
    labproc.down(state_dir)
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state_dir = Path(tmp) / "state"
        port = free_port()
        first = up_seconds(state_dir, port)
        again = [up_seconds(state_dir, port) for _ in range(RUNS)]
    median = statistics.median(again)
    print(
        f"lab up canary-99-1 --engine local --no-check: first (makes the CA) {first:.2f} s; "
        f"median of {RUNS} more {median:.2f} s (min {min(again):.2f}, max {max(again):.2f}); "
        f"goal < {GOAL_S:g} s: {'met' if max(first, median) < GOAL_S else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
