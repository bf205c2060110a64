"""lab.stats.sequential: looks, stopping rule, and the false-fail rate over whole runs."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from lab.errors import InvalidInput
from lab.stats.power import acceptance_region
from lab.stats.sequential import SequentialCheck
from lab.stats.verdict import Outcome

CANARY = {"echo-1": 99, "echo-2": 1}


def test_looks_and_per_look_alpha() -> None:
    check = SequentialCheck(CANARY, n_max=1000, alpha=0.001, looks=4)
    assert check.looks_at == (250, 500, 750, 1000)
    assert check.per_look_alpha == pytest.approx(0.00025)


def test_a_gross_failure_stops_at_the_first_look() -> None:
    check = SequentialCheck(CANARY, n_max=1000, alpha=0.001)
    assert check.update({"echo-1": 200, "echo-2": 40}) is None  # before the first look
    verdict = check.update({"echo-1": 210, "echo-2": 45})
    assert verdict is not None and verdict.outcome is Outcome.FAIL
    assert "look 1 of 4 at n=255" in verdict.test
    assert check.done and check.update({"echo-1": 990, "echo-2": 10}) is verdict


def test_a_good_split_passes_only_at_n_max() -> None:
    check = SequentialCheck(CANARY, n_max=1000, alpha=0.001)
    for n in (250, 500, 750):
        assert check.update({"echo-1": n - n // 100, "echo-2": n // 100}) is None
    verdict = check.update({"echo-1": 990, "echo-2": 10})
    assert verdict is not None and verdict.outcome is Outcome.PASS
    assert verdict.alpha == pytest.approx(0.00025)
    assert "look 4 of 4" in verdict.test


def test_a_hit_on_weight_0_stops_at_once() -> None:
    check = SequentialCheck({"a": 50, "b": 50, "c": 0}, n_max=1000)
    verdict = check.update({"a": 5, "b": 5, "c": 1})
    assert verdict is not None and verdict.outcome is Outcome.FAIL


def test_certain_excess_of_failed_requests_stops_inconclusive() -> None:
    check = SequentialCheck(CANARY, n_max=1000)
    assert check.update({"echo-1": 100, "echo-2": 1}, failed=5) is None
    verdict = check.update({"echo-1": 100, "echo-2": 1}, failed=11)
    assert verdict is not None and verdict.outcome is Outcome.INCONCLUSIVE


def test_invalid_plan() -> None:
    with pytest.raises(InvalidInput):
        SequentialCheck(CANARY, n_max=3, looks=4)


Record = Callable[[str, float, float, int], None]


@pytest.mark.parametrize("weights", [(99, 1), (50, 50)])
def test_false_fail_rate_over_whole_runs_is_at_most_alpha(
    weights: tuple[int, int], calibration: Record
) -> None:
    alpha, n_max, looks, runs = 0.05, 1000, 4, 20_000
    share = weights[1] / sum(weights)
    check = SequentialCheck({"a": weights[0], "b": weights[1]}, n_max, alpha, looks)
    rng = np.random.default_rng(31)
    steps = np.diff((0, *check.looks_at))
    hits = rng.binomial(steps, share, size=(runs, looks)).cumsum(axis=1)
    regions = [acceptance_region(n, share, alpha / looks) for n in check.looks_at]
    outside = np.column_stack([(hits[:, j] < lo) | (hits[:, j] > hi) for j, (lo, hi) in enumerate(regions)])
    failed_runs = outside.any(axis=1)
    # The vectorised rule is SequentialCheck itself: replay the first runs through it.
    for run, fail in zip(hits[:200], failed_runs[:200], strict=True):
        replay = SequentialCheck({"a": weights[0], "b": weights[1]}, n_max, alpha, looks)
        verdict = None
        for n, h in zip(check.looks_at, run, strict=True):
            verdict = replay.update({"a": n - int(h), "b": int(h)})
            if verdict is not None:
                break
        assert verdict is not None
        assert (verdict.outcome is Outcome.FAIL) == bool(fail)
    measured = float(failed_runs.mean())
    calibration(
        f"sequential false-fail {weights[0]}/{weights[1]} n_max={n_max} looks={looks} alpha={alpha}",
        measured,
        alpha,
        runs,
    )
    assert measured <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)
