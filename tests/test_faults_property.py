"""Recovery as a property: whatever happens to a lab (Ctrl-C or kill -9 at any moment, a killed lab
process, a truncated state.json), `lab down` leaves nothing behind and the next `lab up` works.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from lab.engines.local.ports import free_port, is_free
from lab.engines.local.process import find
from lab.ui.cli import cli
from lab.waiting import poll
from tests.conftest import ROOT
from tests.fault_walk import walk

SEQUENCES = int(os.environ.get("LAB_FAULT_SEQUENCES", "200"))
WORKERS = 4
# the whole walk's time budget: ~4.5 min for 200 sequences on 2 busy cores; past it the test fails
# naming the seed, and its workers are killed (a hung step never hangs CI)
BUDGET = float(os.environ.get("LAB_FAULT_BUDGET", "1200"))


def walk_ports(seed: int) -> list[int]:
    """One gateway port per worker, free now and below the ephemeral range (20000-29999)."""
    rng = random.Random(seed)
    ports: list[int] = []
    while len(ports) < WORKERS:
        port = rng.randrange(20000, 30000)
        if port not in ports and is_free("127.0.0.1", port):
            ports.append(port)
    return ports


def test_any_sequence_of_faults_then_down_leaves_nothing_and_up_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = int(os.environ.get("LAB_FAULT_SEED") or os.environ.get("LAB_SEED") or int.from_bytes(os.urandom(4), "big"))
    with capsys.disabled():  # in the CI log even when it passes
        print(f"\nfault walk: seed {seed} (rerun with LAB_FAULT_SEED={seed}), {SEQUENCES} sequences, {WORKERS} workers")
    per_worker = -(-SEQUENCES // WORKERS)
    states = [tmp_path / f"state-{i}" for i in range(WORKERS)]
    failures = []
    pool = multiprocessing.get_context("spawn").Pool(WORKERS)
    try:
        walks = [
            pool.apply_async(walk, (seed * 1000 + i, str(state), per_worker, port))
            for i, (state, port) in enumerate(zip(states, walk_ports(seed), strict=True))
        ]
        deadline = time.monotonic() + BUDGET
        for i, result in enumerate(walks):
            try:
                result.get(timeout=max(0.0, deadline - time.monotonic()))
            except AssertionError as exc:
                failures.append(str(exc))
            except multiprocessing.TimeoutError:
                failures.append(f"worker {i}: not done within {BUDGET:g} s (LAB_FAULT_BUDGET): a step hangs")
    finally:
        pool.terminate()  # a hung walk is stopped, never waited for
        pool.join()
        for state in states:
            for proc in find(state / "server-config.json"):
                os.kill(proc.pid, signal.SIGKILL)
    assert not failures, f"seed {seed}:\n" + "\n\n".join(failures)


def test_ctrl_c_while_up_starts_the_lab_process_then_down_then_up(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    port = free_port()
    args = ["--lab-dir", str(ROOT), "up", "canary-99-1", "--engine", "local", "--state-dir", str(state_dir),
            "--port", f"8443={port}", "--no-check"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "lab", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def journalled_pid() -> int | None:
        try:
            record = json.loads((state_dir / "state.json").read_text()).get("record") or {}
        except (OSError, ValueError):
            return None
        return record.get("pid")

    pid = poll(journalled_pid, what="the lab process in the journal", budget=30, interval=0.01)
    assert pid, "lab up never journalled its lab process"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, out
    assert "interrupted" in out and "lab down" in out and "Traceback" not in out
    runner = CliRunner()
    status = runner.invoke(cli, ["--lab-dir", str(ROOT), "status", "--state-dir", str(state_dir)])
    assert status.exit_code == 5 and "did not finish starting" in status.output, status.output
    down = runner.invoke(cli, ["--lab-dir", str(ROOT), "down", "--state-dir", str(state_dir)])
    assert down.exit_code == 0 and f"lab process {pid}" in down.output, down.output
    assert find(state_dir / "server-config.json") == []
    assert poll(lambda: True if is_free("127.0.0.1", port) else None, what="port", budget=5, interval=0.05)
    up = runner.invoke(cli, args)
    assert up.exit_code == 0, up.output
    runner.invoke(cli, ["--lab-dir", str(ROOT), "down", "--state-dir", str(state_dir)])


@pytest.mark.parametrize("when", ["before-journal", "after-journal"])
def test_up_killed_leaves_a_lab_that_the_next_up_replaces(tmp_path: Path, when: str) -> None:
    state_dir = tmp_path / "state"
    port = free_port()
    args = ["--lab-dir", str(ROOT), "up", "canary-99-1", "--engine", "local", "--state-dir", str(state_dir),
            "--port", f"8443={port}", "--no-check"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "lab", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config = state_dir / "server-config.json"
    if when == "before-journal":
        # the lab process exists; kill lab up before or while it journals it: found by its command line
        assert poll(lambda: find(config) or None, what="the lab process", budget=30, interval=0.005)
    else:
        assert poll(lambda: ((state_dir / "state.json").exists() and find(config)) or None, what="journal", budget=30, interval=0.005)
    proc.kill()
    proc.wait(10)
    up = CliRunner().invoke(cli, args)
    assert up.exit_code == 0, up.output
    assert len(find(config)) == 1, "exactly one lab process after recovery"
    down = CliRunner().invoke(cli, ["--lab-dir", str(ROOT), "down", "--state-dir", str(state_dir)])
    assert down.exit_code == 0 and find(config) == [], down.output
