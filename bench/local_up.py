"""How long `lab up canary-99-1 --engine local --no-check` takes until it returns (lab converged).

Runs the installed `lab` command as a user would, in a fresh state folder (first run makes the
lab CA) and then again in the same folder (CA reused); `lab down` after each. Goal: < 2 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lab.engines.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
LAB = str(Path(sys.executable).with_name("lab"))
GOAL_S = 2.0
RUNS = 5


def up_seconds(state_dir: Path, port: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            LAB,
            "--lab-dir",
            str(ROOT),
            "up",
            "canary-99-1",
            "--engine",
            "local",
            "--no-check",
            "--state-dir",
            str(state_dir),
            "--port",
            f"8443={port}",
        ],
        check=True,
        capture_output=True,
    )
    elapsed = time.perf_counter() - start
    subprocess.run([LAB, "down", "--state-dir", str(state_dir)], check=True, capture_output=True)
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
