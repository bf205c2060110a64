"""lab.stats.sequential and sequential_check: the design's promises, computed exactly on the lattice.

The figures for the catalogue's two-backend scenarios are printed in the calibration summary.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from lab.errors import InvalidInput
from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from lab.stats import sequential
from lab.stats.sequential_check import SequentialCheck, covers
from lab.stats.verdict import Outcome
from tests.memory import peak_kb

ROOT = Path(__file__).resolve().parent.parent
Record = Callable[[str, float, float, int], None]
CANARY = {"echo-1": 99, "echo-2": 1}


def _reference_fail_probability(design: sequential.Design, true_share: float) -> tuple[float, float]:
    """An independent recursion: the whole row k = 0..n at every n, masks from the boundaries.

    Returns (P(FAIL), E[answers]) with truncation at n_max counted as a pass.
    """
    bounds = design.boundaries(design.n_max)
    row = np.zeros(design.n_max + 2)
    row[0] = 1.0
    fail, expected = 0.0, 0.0
    k = np.arange(design.n_max + 2)
    for n in range(1, design.n_max + 1):
        expected += row.sum()  # P(still running after n - 1 answers)
        row = row * (1 - true_share) + np.concatenate(([0.0], row[:-1])) * true_share
        fail_below, fail_above, pass_from, pass_to = bounds.at(n)
        failing = (k <= fail_below) | (k >= fail_above)
        fail += row[failing].sum()
        row[failing] = 0.0
        if n >= design.min_pass_n:
            row[(k >= pass_from) & (k <= pass_to)] = 0.0
    return fail, expected


@pytest.mark.parametrize(
    ("share", "detect", "alpha", "min_pass_n"),
    [(0.5, 0.15, 0.05, 1), (0.1, 0.08, 0.01, 1), (0.02, 0.05, 0.01, 1), (0.3, 0.1, 0.05, 30)],
)
def test_the_recursion_agrees_with_an_independent_one(
    share: float, detect: float, alpha: float, min_pass_n: int
) -> None:
    fixed_n = 200
    design = sequential.plan(share, detect, 0.9, alpha, fixed_n=fixed_n, min_pass_n=min_pass_n)
    for true_share, promised in [
        (design.share, design.false_fail),
        (design.below, design.power_below),
        (design.above, design.power_above),
        (0.0, design.power_none),
        (1.0, design.power_all),
    ]:
        fail, expected = _reference_fail_probability(design, true_share)
        assert fail == pytest.approx(promised, rel=1e-9, abs=1e-15)
        assert expected == pytest.approx(design.expected_at(true_share), rel=1e-9)
    assert design.false_fail <= alpha
    assert design.least_power >= 0.9


def _planned(scenario: str) -> tuple[dict[str, int], float, int]:
    (traffic,) = make_plan(LabDir(ROOT), scenario).first.traffic
    return dict(traffic.expected), traffic.traffic.detect, traffic.requests


@pytest.mark.parametrize("scenario", ["canary-99-1", "split-50-50", "canary-90-10"])
def test_the_planned_sequential_check_keeps_its_promises(scenario: str, calibration: Record) -> None:
    expected, detect, fixed_n = _planned(scenario)
    check = SequentialCheck(expected, detect=detect)  # the design `lab check` runs
    design = check.design
    assert design is not None
    alpha, power = 0.001, 0.95
    over = min(design.share + 2 * detect, 1.0)  # the smallest share off by twice the shift, upward
    shares = (design.share, design.below, design.above, 0.0, 1.0, over)
    lattice = sequential.run_lattice(shares, design.boundaries(design.n_max), design.n_max, design.min_pass_n)
    fails = lattice.failed[:, -1]
    spent = lattice.expected_n(design.n_max)
    figures = [
        (f"false-fail (alpha {alpha:g})", fails[0], alpha),
        (f"power at {design.below:.2f}", fails[1], power),
        (f"power at {design.above:.2f}", fails[2], power),
        ("power, canary gets nothing", fails[3], power),
        ("power, stable backend gets nothing", fails[4], power),
        (f"E[n] at the weights / fixed n={fixed_n}", spent[0] / fixed_n, 0.5),
        (f"E[n] at {over:.2f} / fixed n={fixed_n}", spent[5] / fixed_n, 0.5),
    ]
    for label, value, target in figures:
        calibration(f"sequential {scenario} n_max={design.n_max}: {label}", float(value), target, 0)
    assert fails[0] <= alpha
    assert min(fails[1:5]) >= power
    assert spent[0] <= 0.5 * fixed_n
    assert spent[5] <= 0.5 * fixed_n


@pytest.mark.parametrize("scenario", ["canary-99-1", "split-50-50", "canary-90-10"])
def test_the_power_only_grows_beyond_the_planned_shift(scenario: str) -> None:
    expected, detect, _ = _planned(scenario)
    design = SequentialCheck(expected, detect=detect).design
    assert design is not None
    outside = [s for s in np.linspace(0.0, 1.0, 41) if s <= design.below or s >= design.above]
    lattice = sequential.run_lattice(
        outside, design.boundaries(design.n_max), design.n_max, design.min_pass_n
    )
    assert lattice.failed[:, -1].min() >= design.power


@pytest.mark.parametrize("failure_rate", [0.002, 0.005, 0.02])
@pytest.mark.parametrize("scenario", ["canary-99-1", "split-50-50", "canary-90-10"])
def test_failed_requests_never_raise_the_false_fail_rate(
    scenario: str, failure_rate: float, calibration: Record
) -> None:
    """Failures independent of the backend, rate f: a FAIL verdict needs the design's FAIL at some n
    and at most limit * n / (1 - limit) failures before the n-th answer (negative binomial)."""
    expected, detect, _ = _planned(scenario)
    check = SequentialCheck(expected, detect=detect)
    design = check.design
    assert design is not None
    lattice = sequential.run_lattice(
        [design.share], design.boundaries(design.n_max), design.n_max, design.min_pass_n
    )
    fail_at = np.diff(lattice.failed[0])  # P(the design fails at exactly n), n = 1..
    n = np.arange(1, len(fail_at) + 1)
    allowed = np.floor(check.max_failed_share * n / (1 - check.max_failed_share))
    verdict_fail = float((fail_at * stats.nbinom.cdf(allowed, n, 1 - failure_rate)).sum())
    label = f"sequential {scenario}: false-fail with {failure_rate:.1%} failed requests"
    calibration(label, verdict_fail, 0.001, 0)
    assert verdict_fail <= design.false_fail <= 0.001


def test_a_failed_request_changes_nothing_but_the_count() -> None:
    rng = random.Random(7)
    answers = ["echo-2" if rng.random() < 0.01 else "echo-1" for _ in range(2000)]
    plain, mixed = SequentialCheck(CANARY, detect=0.03), SequentialCheck(CANARY, detect=0.03)
    for answer in answers:
        if plain.record(answer):
            break
    for i, answer in enumerate(answers):
        if i % 120 == 119:  # 0.8% of requests fail: under the 1% limit
            mixed.record_failure("timeout")
        if mixed.record(answer):
            break
    one, other = plain.verdict(), mixed.verdict()
    assert (one.outcome, one.n, one.test) == (other.outcome, other.n, other.test)
    assert other.failed >= 1 and other.p_value is None  # nothing judged again at another alpha


def test_a_dead_canary_fails_and_a_good_split_passes_early() -> None:
    dead = SequentialCheck(CANARY, detect=0.03)
    while not dead.record("echo-1"):
        pass
    verdict = dead.verdict()
    assert verdict.outcome is Outcome.FAIL and verdict.n < dead.n_max
    assert verdict.sequential is not None and verdict.sequential["stop"] == "fail boundary"
    good = SequentialCheck(CANARY, detect=0.03)
    for i in range(1, 2000):
        if good.record("echo-2" if i % 100 == 50 else "echo-1"):
            break
    verdict = good.verdict()
    assert verdict.outcome is Outcome.PASS and verdict.n < 757
    assert "both likelihood ratios" in verdict.reasons[-1]


def test_a_hit_on_weight_0_fails_at_once() -> None:
    check = SequentialCheck({"a": 50, "b": 50, "c": 0}, detect=0.03)
    check.record("a")
    assert check.record("c")
    assert check.verdict().outcome is Outcome.FAIL


def test_with_a_weight_0_backend_no_pass_before_it_could_have_shown() -> None:
    check = SequentialCheck({"a": 50, "b": 50, "c": 0}, detect=0.03)
    assert check.design is not None and check.design.min_pass_n == 99


def test_one_weighted_backend_is_the_any_hit_rule() -> None:
    check = SequentialCheck({"echo-1": 100, "echo-2": 0}, detect=0.03)
    assert check.n_max == 99 and check.design is None
    for _ in range(98):
        assert not check.record("echo-1")
    assert check.record("echo-1")
    assert check.verdict().outcome is Outcome.PASS
    check = SequentialCheck({"echo-1": 100, "echo-2": 0}, detect=0.03)
    check.record("echo-1")
    assert check.record("echo-2") and check.verdict().outcome is Outcome.FAIL


def test_too_many_failed_requests_stop_inconclusive() -> None:
    check = SequentialCheck(CANARY, detect=0.03)
    stopped = [check.record_failure("HTTP 503") for _ in range(check.allowed_failures + 1)]
    assert stopped[-1] and not any(stopped[:-1])
    assert check.verdict().outcome is Outcome.INCONCLUSIVE
    assert check.budget == check.n_max + check.allowed_failures + 1


def test_an_interrupted_check_is_inconclusive_never_a_pass() -> None:
    check = SequentialCheck(CANARY, detect=0.03)
    for _ in range(50):
        check.record("echo-1")
    verdict = check.verdict()
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert "before its design decided" in verdict.reasons[-1]


def test_a_capped_design_states_the_power_it_has() -> None:
    check = SequentialCheck(CANARY, detect=0.03, max_n=300)
    design = check.design
    assert design is not None and design.n_max == 300
    assert design.false_fail <= 0.001 and design.power_none < 0.95
    assert f"at least {int(design.least_power * 1000) / 10:.1f}%" in check.verdict().power


def test_three_or_more_weighted_backends_are_not_covered() -> None:
    assert not covers({"a": 50, "b": 30, "c": 20})
    with pytest.raises(InvalidInput, match="sequential design covers two"):
        SequentialCheck({"a": 50, "b": 30, "c": 20}, detect=0.03)


def test_bad_alpha_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="alpha"):
        SequentialCheck(CANARY, detect=0.03, alpha=1.5)


def test_a_check_capped_at_a_billion_answers_plans_in_bounded_memory() -> None:
    """`lab check --requests 1000000000`: the cap is above the design's own maximum, so nothing grows."""
    code = (
        "from lab.stats.sequential_check import SequentialCheck\n"
        "check = SequentialCheck({'echo-1': 50, 'echo-2': 50}, detect=0.03, max_n=10**9)\n"
        "assert check.n_max < 20_000 and check.budget < 21_000, check.n_max\n"
    )
    peak, out = peak_kb(code)
    assert peak < 100 * 1024, (peak, out)


def test_the_maximum_n_leaves_room_to_see_a_backend_that_must_get_nothing() -> None:
    check = SequentialCheck({"a": 50, "b": 50, "c": 0}, detect=0.45, power=0.95)
    assert check.design is not None
    assert check.n_max >= check.design.min_pass_n == 6  # (1 - 0.45)^6 <= 0.05


def test_a_shift_too_small_for_any_design_is_invalid_input() -> None:
    for expected in (CANARY, {"echo-1": 100, "echo-2": 0}):
        with pytest.raises(InvalidInput, match="needs more than 10000000 responses"):
            SequentialCheck(expected, detect=1e-300)


BROKEN = {"echo-1": 99, "echo-3": 1}


@pytest.mark.parametrize("answered_per_failure", [99, 1])
def test_a_backend_known_to_be_unable_to_answer_stops_and_fails(answered_per_failure: int) -> None:
    """Issue 13: echo-3 does not exist, its share is answered 503 (1% of requests at 99/1; at 1
    answer per failure, as a 50/50 split over it would be). The check stops and fails."""
    check = SequentialCheck(
        BROKEN, detect=0.03, unanswerable={"echo-3": "ResolvedRefs=False (ServiceNotFound)"}
    )
    sent = 0
    while sent < check.budget:
        sent += 1
        stopped = check.record_failure("HTTP 503") if sent % (answered_per_failure + 1) == 0 else check.record("echo-1")
        if stopped:
            break
    verdict = check.verdict()
    assert check.done and verdict.outcome is Outcome.FAIL
    assert any(r.startswith("echo-3: ResolvedRefs=False (ServiceNotFound)") for r in verdict.reasons)
