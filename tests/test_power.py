"""lab.stats.power: acceptance regions, power, detectable shares and the sample-size planner."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from lab.errors import InvalidInput
from lab.stats.power import (
    EXACT_BINOMIAL,
    NONCENTRAL_CHI_SQUARE,
    _required_sample_size,
    acceptance_region,
    binomial_power,
    chi_square_power,
    detectable_binomial,
    detectable_chi_square,
    format_share,
    required_sample_size,
    sample_size_sentence,
    shifted_shares,
)


def test_acceptance_regions_match_the_reference_figures() -> None:
    assert acceptance_region(1000, 0.5, 0.001) == (448, 552)
    assert acceptance_region(1000, 0.01, 0.001) == (1, 21)


@pytest.mark.parametrize("n", [1, 7, 50, 333])
@pytest.mark.parametrize("share", [0.01, 0.2, 0.5, 0.73])
@pytest.mark.parametrize("alpha", [0.05, 0.001])
def test_acceptance_region_equals_binomtest_for_every_count(n: int, share: float, alpha: float) -> None:
    lo, hi = acceptance_region(n, share, alpha)
    for k in range(n + 1):
        accepted = stats.binomtest(k, n, share).pvalue > alpha
        assert accepted == (lo <= k <= hi), (n, share, alpha, k)


def test_a_3_percent_canary_is_caught_only_95_percent_of_the_time_at_n_1000() -> None:
    assert binomial_power(1000, 0.01, 0.001, 0.03) == pytest.approx(0.948, abs=0.001)
    found = detectable_binomial("echo-2", 1000, 0.01, 0.001)
    assert found.above == pytest.approx(0.03, abs=0.001)
    assert found.below is not None and found.below < 0.0001
    assert found.method == EXACT_BINOMIAL
    sentence = found.sentence()
    assert "echo-2" in sentence and "below 0.0051% or above 3.0%" in sentence
    assert "95% probability" in sentence


def test_planner_for_99_1_is_exact_and_minimal() -> None:
    _required_sample_size.cache_clear()
    acceptance_region.cache_clear()
    n = required_sample_size({"echo-1": 99, "echo-2": 1}, detect=0.03, power=0.95, alpha=0.001)
    # Both directions, clamped at 0: a 4% canary and a dead canary.
    assert binomial_power(n, 0.01, 0.001, 0.04) >= 0.95
    assert binomial_power(n, 0.01, 0.001, 0.0) >= 0.95
    assert min(binomial_power(n - 1, 0.01, 0.001, a) for a in (0.0, 0.04)) < 0.95
    assert required_sample_size([99, 1]) == n  # same answer from a bare weight list


def test_planner_for_50_50_detects_both_directions() -> None:
    n = required_sample_size([50, 50], detect=0.03)
    assert binomial_power(n, 0.5, 0.001, 0.47) >= 0.95
    assert binomial_power(n, 0.5, 0.001, 0.53) >= 0.95
    assert binomial_power(n - 1, 0.5, 0.001, 0.53) < 0.95


def test_planner_with_one_weighted_backend_uses_the_any_hit_rule() -> None:
    # (1 - 0.03) ** n <= 0.05
    assert required_sample_size([100, 0], detect=0.03, power=0.95) == 99
    assert required_sample_size([100], detect=0.03, power=0.95) == 99


def test_planner_for_three_backends_uses_the_noncentral_chi_square() -> None:
    n = required_sample_size([50, 30, 20], detect=0.03, power=0.95, alpha=0.001)
    shares = (0.5, 0.3, 0.2)
    # the upward shift is the harder one for Pearson's test at 50/30/20
    up = shifted_shares(shares, 2, +0.03)
    assert up == pytest.approx((0.48125, 0.28875, 0.23))
    assert chi_square_power(n, shares, up, 0.001) >= 0.95
    assert chi_square_power(n - 1, shares, up, 0.001) < 0.95
    found = detectable_chi_square("echo-3", n, shares, 2, 0.001)
    assert found.method == NONCENTRAL_CHI_SQUARE
    assert found.above == pytest.approx(0.23, abs=1e-4)
    assert found.below is not None and 0.17 < found.below < 0.2 - 0.0275
    assert "noncentral chi-square" in found.sentence()


def test_chi_square_power_is_alpha_at_the_null() -> None:
    assert chi_square_power(1000, (0.5, 0.3, 0.2), (0.5, 0.3, 0.2), 0.01) == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("weights", "detect", "power", "alpha"),
    [
        ([-1, 2], 0.03, 0.95, 0.001),
        ([0, 0], 0.03, 0.95, 0.001),
        ([], 0.03, 0.95, 0.001),
        ([99, 1], 0.0, 0.95, 0.001),
        ([99, 1], 0.03, 1.0, 0.001),
        ([99, 1], 0.03, 0.95, 0.0),
    ],
)
def test_planner_rejects_invalid_input(weights: list[int], detect: float, power: float, alpha: float) -> None:
    with pytest.raises(InvalidInput):
        required_sample_size(weights, detect=detect, power=power, alpha=alpha)


def test_sample_size_sentence_names_the_shares() -> None:
    sentence = sample_size_sentence([99, 1], 757)
    assert sentence.startswith("757 successful responses")
    assert "1.0%" in sentence and "4.0%" in sentence and "0.0%" in sentence


def test_format_share() -> None:
    assert format_share(0.074) == "7.4%"
    assert format_share(0.01) == "1.0%"
    assert format_share(0.0076) == "0.76%"
    assert format_share(0.0) == "0.0%"


# Calibration: the planner's n gives the declared power, measured by simulation.
DRAWS = 20_000


def _se(p: float, draws: int) -> float:
    return math.sqrt(p * (1 - p) / draws)


@pytest.mark.parametrize(
    ("weights", "alternative"),
    [((99, 1), 0.04), ((99, 1), 0.0), ((50, 50), 0.47), ((50, 50), 0.53)],
)
def test_measured_power_reaches_declared_power_two_way(
    weights: tuple[int, int], alternative: float, calibration: object
) -> None:
    n = required_sample_size(weights, detect=0.03, power=0.95, alpha=0.001)
    share = min(weights) / sum(weights)
    lo, hi = acceptance_region(n, share, 0.001)
    hits = np.random.default_rng(7).binomial(n, alternative, size=DRAWS)
    measured = float(np.mean((hits < lo) | (hits > hi)))
    assert callable(calibration)
    calibration(f"power {weights[0]}/{weights[1]} n={n} at {alternative:.2f}", measured, 0.95, DRAWS)
    assert measured >= 0.95 - 3 * _se(0.95, DRAWS)


@pytest.mark.parametrize("direction", [+1, -1])
def test_measured_power_reaches_declared_power_three_way(direction: int, calibration: object) -> None:
    weights = (50, 30, 20)
    n = required_sample_size(weights, detect=0.03, power=0.95, alpha=0.001)
    p0 = np.array(weights) / 100
    shift = direction * 0.03
    p1 = p0.copy()
    p1[2] += shift
    p1[:2] -= shift * p0[:2] / p0[:2].sum()
    counts = np.random.default_rng(11).multinomial(n, p1, size=DRAWS)
    expected = n * p0
    statistic = ((counts - expected) ** 2 / expected).sum(axis=1)
    measured = float(np.mean(stats.chi2.sf(statistic, 2) <= 0.001))
    assert callable(calibration)
    calibration(f"power 50/30/20 n={n} smallest {shift:+.2f}", measured, 0.95, DRAWS)
    assert measured >= 0.95 - 3 * _se(0.95, DRAWS)


@pytest.mark.parametrize("n", [2, 19, 757, 2701, 6770, 100_003])
@pytest.mark.parametrize("share", [0.001, 0.01, 0.1, 0.37, 0.5, 0.99])
@pytest.mark.parametrize("alpha", [0.05, 0.001, 1e-6])
def test_acceptance_region_by_search_equals_the_whole_pmf_way(n: int, share: float, alpha: float) -> None:
    from lab.stats.acceptance import _region_by_search, _region_from_the_whole_pmf

    assert _region_by_search(n, share, alpha) == _region_from_the_whole_pmf(n, share, alpha)
    assert acceptance_region(n, share, alpha) == _region_from_the_whole_pmf(n, share, alpha)
