"""Starting and stopping an embedded canary-99-1 lab for the benchmarks (one place for the argv)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lab.engines.local.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
LAB = str(Path(sys.executable).with_name("lab"))


def up(state_dir: Path, port: int, scenario: str = "canary-99-1") -> None:
    """`lab up SCENARIO --engine local --no-check` on `port`; raises with lab's output on failure."""
    done = subprocess.run(
        [LAB, "--lab-dir", str(ROOT), "up", scenario, "--engine", "local", "--no-check",
         "--state-dir", str(state_dir), "--port", f"8443={port}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"lab up failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def down(state_dir: Path) -> None:
    """`lab down` for that state folder."""
    subprocess.run([LAB, "down", "--state-dir", str(state_dir)], check=True, capture_output=True)


@contextlib.contextmanager
def running_lab(scenario: str = "canary-99-1") -> Iterator[tuple[Path, int, dict[str, Any]]]:
    """A running embedded lab on a free port: (state folder, gateway port, state.json)."""
    with tempfile.TemporaryDirectory() as tmp:
        state_dir = Path(tmp) / "state"
        port = free_port()
        up(state_dir, port, scenario)
        try:
            yield state_dir, port, json.loads((state_dir / "state.json").read_text())
        finally:
            down(state_dir)
