"""A random walk of lab commands and faults on one embedded lab, for the recovery property test.

Each sequence starts with `lab up` (which must succeed, whatever the previous sequence left), runs
a few random actions (up, apply, check, status, kill -9 of the lab process, SIGINT or SIGKILL of a
`lab up` or `lab check` at a random moment, a truncated state.json), then `lab down`, after which no
lab process of the state folder runs, its port is free and no state is left. Any traceback, crash
exit code or leftover is a failure naming the seed, the sequence and its actions.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner

from lab.engines.local.ports import is_free
from lab.engines.local.process import find
from lab.ui.cli import cli
from lab.waiting import poll

ROOT = Path(__file__).resolve().parent.parent
ROUTE_50_50 = ROOT / "manifests" / "routes" / "split-50-50.yaml"
# exit codes a command may end with in a walk; 1 (split mismatch) only from `check`
ALLOWED = {
    "up": {0},
    "apply": {0, 4, 5},
    "check": {0, 1, 4, 5, 6},
    "status": {0, 4, 5},
    "down": {0},
}


@dataclass
class Walk:
    """One worker's walk: its own state folder and port."""

    seed: int
    state_dir: Path
    port: int
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.runner = CliRunner()

    def lab(self, *args: str) -> tuple[int, str]:
        result = self.runner.invoke(
            cli, ["--lab-dir", str(ROOT), *args, "--state-dir", str(self.state_dir)], catch_exceptions=True
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            import traceback

            tb = "".join(traceback.format_exception(result.exception))
            raise AssertionError(f"{args}: raised {result.exception!r}\n{tb}")
        return result.exit_code, result.output

    def expect(self, action: str, code: int, out: str) -> None:
        self.log.append(f"{action} -> {code}")
        if code not in ALLOWED[action] or "Traceback" in out:
            raise AssertionError(f"{action} exited {code}, allowed {sorted(ALLOWED[action])}:\n{out}")

    # -- actions --------------------------------------------------------------------------------
    def up(self) -> None:
        scenario = self.rng.choice(["canary-99-1", "split-50-50"])
        code, out = self.lab("up", scenario, "--engine", "local", "--port", f"8443={self.port}", "--no-check")
        self.expect("up", code, out)

    def apply(self) -> None:
        self.expect("apply", *self.lab("apply", str(ROUTE_50_50)))

    def check(self) -> None:
        self.expect("check", *self.lab("check", "-n", "20", "--alpha", "0.001"))

    def status(self) -> None:
        self.expect("status", *self.lab("status"))

    def kill_lab_process(self) -> None:
        for proc in find(self.state_dir / "server-config.json"):
            os.kill(proc.pid, signal.SIGKILL)
        self.log.append("kill -9 lab process")

    def truncate_state(self) -> None:
        state = self.state_dir / "state.json"
        if state.exists():
            data = state.read_bytes()
            state.write_bytes(data[: self.rng.randrange(len(data) + 1)])
        self.log.append("truncate state.json")

    def _interrupted(self, args: list[str], sig: signal.Signals) -> None:
        delay = self.rng.uniform(0.0, 1.0)
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab", "--lab-dir", str(ROOT), *args, "--state-dir", str(self.state_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        # lab's code runs once it prints its first line (a signal before that hits the interpreter's
        # own start-up, not lab); then the fault comes at a random moment
        first = proc.stdout.readline()
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(sig)
        rest, _ = proc.communicate(timeout=60)
        out = first + rest
        self.log.append(f"{' '.join(args[:2])} + {sig.name} after {delay:.2f} s -> {proc.returncode}")
        if "Traceback" in out or (proc.returncode in (1, 70) and args[0] != "check"):
            raise AssertionError(f"{args} interrupted by {sig.name}: exit {proc.returncode}\n{out}")

    def up_interrupted(self) -> None:
        sig = self.rng.choice([signal.SIGINT, signal.SIGKILL])
        self._interrupted(["up", "canary-99-1", "--engine", "local", "--port", f"8443={self.port}", "--no-check"], sig)

    def check_interrupted(self) -> None:
        self._interrupted(["check", "-n", "3000"], signal.SIGINT)

    # -- a sequence -----------------------------------------------------------------------------
    def actions(self) -> list[Callable[[], None]]:
        return [
            self.up,
            self.apply,
            self.check,
            self.status,
            self.kill_lab_process,
            self.truncate_state,
            self.up_interrupted,
            self.check_interrupted,
        ]

    def sequence(self, number: int) -> None:
        self.log = [f"sequence {number} (seed {self.seed})"]
        try:
            self.up()
            for _ in range(self.rng.randint(1, 3)):
                self.rng.choices(self.actions(), weights=[3, 2, 2, 1, 2, 2, 2, 1])[0]()
            code, out = self.lab("down")
            self.expect("down", code, out)
            self.assert_clean()
        except AssertionError as exc:
            raise AssertionError("\n  ".join(self.log) + f"\n{exc}") from None

    def assert_clean(self) -> None:
        left = find(self.state_dir / "server-config.json")
        assert not left, f"lab processes left after `lab down`: {left}"
        freed = poll(lambda: True if is_free("127.0.0.1", self.port) else None, what="port", budget=5, interval=0.05)
        assert freed, f"port {self.port} still in use after `lab down`"
        assert not (self.state_dir / "state.json").exists(), "state.json left after `lab down`"


def walk(seed: int, state_dir: str, sequences: int, port: int) -> list[str]:
    """Run `sequences` sequences; the log of the last one (AssertionError on the first failure).

    `port` should lie below the OS's ephemeral range: the lab's pods bind ephemeral ports, and
    another worker's pod must never take this walk's gateway port while its lab is down.
    """
    w = Walk(seed, Path(state_dir), port)
    try:
        for number in range(sequences):
            w.sequence(number)
    finally:
        for proc in find(Path(state_dir) / "server-config.json"):
            os.kill(proc.pid, signal.SIGKILL)
    return w.log
