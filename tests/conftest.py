"""Shared fixtures: a collector for calibration figures, printed at the end of `pytest -q`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

_CALIBRATION: pytest.StashKey[dict[str, str]] = pytest.StashKey()

Record = Callable[[str, float, float, int], None]


@pytest.fixture
def calibration(
    request: pytest.FixtureRequest, record_property: Callable[[str, object], None]
) -> Record:
    """Record a measured rate (name, measured, target, draws) for the terminal summary."""

    def record(name: str, measured: float, target: float, draws: int) -> None:
        record_property(name, measured)
        figures = request.config.stash.setdefault(_CALIBRATION, {})
        figures[name] = f"measured {measured:.4f}  target {target:.4f}  ({draws} simulated checks)"

    return record


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    figures = config.stash.get(_CALIBRATION, {})
    if figures:
        terminalreporter.section("calibration (simulated, fixed seeds)")
        width = max(len(name) for name in figures)
        for name, line in figures.items():
            terminalreporter.write_line(f"{name:<{width}}  {line}")
