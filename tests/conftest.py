"""Shared fixtures: a writable copy of the lab definition to break on purpose, and a collector
for calibration figures printed at the end of `pytest -q`."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# the suite computes every sample size and sequential design itself (tests/test_memo.py covers the
# cache the `lab` command keeps in ~/.cache/lab/stats), and never writes into the user's home
os.environ["LAB_STATS_CACHE"] = "off"

# `make test &` from a script (or any non-interactive shell's background job) starts pytest with
# SIGINT ignored, and every lab process a test starts would inherit that: the Ctrl-C tests would
# then wait for a lab that cannot be interrupted. Python's own handler is reset by exec, so
# restoring it here gives the tests' subprocesses the default disposition a terminal gives.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


class LabCopy:
    """A copy of scenarios/, manifests/ and charts-values/ under tmp_path, with small editors."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in ("scenarios", "manifests", "charts-values"):
            shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))

    def path(self, rel: str) -> Path:
        return self.root / rel

    def edit(self, rel: str, old: str, new: str, count: int = 1) -> None:
        p = self.path(rel)
        text = p.read_text()
        assert old in text, f"{old!r} not in {rel}"
        p.write_text(text.replace(old, new, count))

    def write(self, rel: str, text: str) -> Path:
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p


@pytest.fixture
def lab_copy(tmp_path: Path) -> LabCopy:
    return LabCopy(tmp_path / "lab")


@pytest.fixture
def repo_root() -> Path:
    return ROOT


Editor = Callable[[LabCopy], None]


_CALIBRATION: pytest.StashKey[dict[str, str]] = pytest.StashKey()

Record = Callable[[str, float, float, int], None]


@pytest.fixture
def calibration(request: pytest.FixtureRequest, record_property: Callable[[str, object], None]) -> Record:
    """Record a rate (name, measured, target, draws; draws 0: computed exactly) for the summary."""

    def record(name: str, measured: float, target: float, draws: int) -> None:
        record_property(name, measured)
        figures = request.config.stash.setdefault(_CALIBRATION, {})
        if draws == 0:
            figures[name] = f"exact    {measured:.6f}  target {target:.4f}  (computed exactly)"
        else:
            figures[name] = f"measured {measured:.4f}  target {target:.4f}  ({draws} simulated checks)"

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    figures = config.stash.get(_CALIBRATION, {})
    if figures:
        terminalreporter.section("calibration (simulated with fixed seeds, or computed exactly)")
        width = max(len(name) for name in figures)
        for name, line in figures.items():
            terminalreporter.write_line(f"{name:<{width}}  {line}")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Fake kind/helm/kubectl on PATH, fake Kubernetes API, fake Docker, fake HTTPS gateway."""
    from tests.fakes.world import World

    w = World(tmp_path, monkeypatch)
    yield w
    w.close()
