"""lab.stats.power: acceptance regions, power, detectable shares and the sample-size planner."""

from __future__ import annotations

import math
import re

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


WEIGHTS_RULE = "expected weights must be non-negative with at least one above 0, got "


@pytest.mark.parametrize(
    ("weights", "detect", "power", "alpha", "message"),
    [
        ([-1, 2], 0.03, 0.95, 0.001, WEIGHTS_RULE + "(-1, 2)"),
        ([0, 0], 0.03, 0.95, 0.001, WEIGHTS_RULE + "(0, 0)"),
        ([], 0.03, 0.95, 0.001, WEIGHTS_RULE + "()"),
        ({"a": 2, "b": -1}, 0.03, 0.95, 0.001, WEIGHTS_RULE + "(2, -1)"),
        ([99, 1], 0.0, 0.95, 0.001, "detect must be strictly between 0 and 1, got 0.0"),
        ([99, 1], 1.0, 0.95, 0.001, "detect must be strictly between 0 and 1, got 1.0"),
        ([99, 1], 0.03, 1.0, 0.001, "power must be strictly between 0 and 1, got 1.0"),
        ([99, 1], 0.03, 0.0, 0.001, "power must be strictly between 0 and 1, got 0.0"),
        ([99, 1], 0.03, 0.95, 0.0, "alpha must be strictly between 0 and 1, got 0.0"),
        ([99, 1], 0.03, 0.95, 1.0, "alpha must be strictly between 0 and 1, got 1.0"),
    ],
)
def test_planner_rejects_invalid_input(
    weights: list[int], detect: float, power: float, alpha: float, message: str
) -> None:
    with pytest.raises(InvalidInput, match=f"^{re.escape(message)}$"):
        required_sample_size(weights, detect=detect, power=power, alpha=alpha)


def test_sample_size_sentence_names_the_shares() -> None:
    assert sample_size_sentence([99, 1], 757) == (
        "757 successful responses: at alpha=0.001, the exact two-sided binomial test flags the smallest "
        "share (expected 1.0%) at 0.0% or at 4.0% with at least 95% probability."
    )
    assert sample_size_sentence([50, 30, 20], 5063) == (
        "5063 successful responses: at alpha=0.001, Pearson's chi-square test (noncentral chi-square "
        "approximation, moment-matched) flags the smallest share (expected 20.0%) at 17.0% or at 23.0% "
        "with at least 95% probability."
    )
    assert sample_size_sentence({"a": 1, "z": 0}, 10, detect=0.1, power=0.9, alpha=0.05) == (
        "10 successful responses: a share of 10.0% or more sent to a backend with weight 0 shows up at "
        "least once with 90% probability."
    )
    assert sample_size_sentence([2, 98], 5, detect=0.5, power=0.5, alpha=0.5).split(": ", 1)[1] == (
        "at alpha=0.5, the exact two-sided binomial test flags the smallest share (expected 2.0%) at 0.0% "
        "or at 52.0% with at least 50% probability."
    )


def test_detectable_shares_on_one_side_only_say_so() -> None:
    """At n=100 a 1% share's acceptance region starts at 0 hits: nothing below it can be flagged."""
    assert acceptance_region(100, 0.01, 0.001) == (0, 5)
    low = detectable_binomial("b", 100, 0.01, 0.001)
    assert low.below is None and low.above == pytest.approx(0.1022533776432745, rel=1e-9)
    assert low.sentence() == (
        "At n=100 and alpha=0.001 the test would detect a share for b above 10.2% with 95% probability "
        "(expected 1.0%; exact binomial acceptance region)."
    )
    assert acceptance_region(100, 0.99, 0.001) == (95, 100)
    high = detectable_binomial("b", 100, 0.99, 0.001)
    assert high.above is None and high.below == pytest.approx(0.8977466223567255, rel=1e-9)
    assert high.sentence() == (
        "At n=100 and alpha=0.001 the test would detect a share for b below 89.8% with 95% probability "
        "(expected 99.0%; exact binomial acceptance region)."
    )
    three = detectable_chi_square("c", 100, (0.5, 0.3, 0.2), 2, 0.001)
    assert (three.below, three.above) == (
        pytest.approx(0.028367557709623042, rel=1e-6),
        pytest.approx(0.4265118312453908, rel=1e-6),
    )
    assert three.sentence() == (
        "At n=100 and alpha=0.001 the test would detect a share for c below 2.8% or above 42.7% with 95% "
        "probability (expected 20.0%; noncentral chi-square approximation, moment-matched, other backends "
        "shifted in proportion)."
    )


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


def test_the_planner_looks_below_8_for_the_first_n_that_is_enough() -> None:
    """A huge shift at a lax alpha needs 2 answers; the search once began at 8 and said 5."""
    n = required_sample_size([50, 50], detect=0.49, power=0.5, alpha=0.5)
    assert n == 2
    assert all(binomial_power(2, 0.5, 0.5, a) >= 0.5 for a in (0.01, 0.99))
    assert binomial_power(1, 0.5, 0.5, 0.01) < 0.5
    assert required_sample_size([50, 50], detect=0.45, power=0.6, alpha=0.4) == 3


def test_the_planner_gives_up_only_above_max_sample_size() -> None:
    """n between 2**23 (8388608) and MAX_SAMPLE_SIZE is found; above MAX_SAMPLE_SIZE it is an error."""
    from lab.stats.power import MAX_SAMPLE_SIZE

    assert MAX_SAMPLE_SIZE == 10_000_000
    n = required_sample_size([50, 50], detect=0.00085)
    assert 2**23 < n <= MAX_SAMPLE_SIZE
    assert all(binomial_power(n, 0.5, 0.001, a) >= 0.95 for a in (0.5 - 0.00085, 0.5 + 0.00085))
    assert binomial_power(n - 1, 0.5, 0.001, 0.5 + 0.00085) < 0.95
    message = (
        "detecting a shift this small needs more than 10000000 responses\n"
        "  fix: ask for a larger --detect, a lower --power or a larger --alpha"
    )
    for weights in ([50, 50], [50, 30, 20]):
        with pytest.raises(InvalidInput, match=f"^{re.escape(message)}$") as info:
            required_sample_size(weights, detect=0.0001)
        assert info.value.exit_code == 3


def test_the_any_hit_rule_detects_the_share_that_shows_up_once_with_the_stated_probability() -> None:
    from lab.stats.power import ZERO_HIT_RULE, detectable_zero_hit

    found = detectable_zero_hit(99, 0.001, 0.95)
    assert found.above == pytest.approx(1 - 0.05 ** (1 / 99), rel=1e-12)
    assert found.above == pytest.approx(0.0298067, abs=1e-7)
    # at that share, no hit in 99 answers has probability exactly 1 - 0.95
    assert (1 - found.above) ** 99 == pytest.approx(0.05, rel=1e-12)
    assert (found.backend, found.expected_share, found.n, found.below, found.method) == (
        "other backends",
        0.0,
        99,
        None,
        ZERO_HIT_RULE,
    )
    assert found.sentence() == (
        "At n=99 and alpha=0.001 a misrouted share of 3.0% or more would show up at least once "
        "with 95% probability (any-hit rule on backends with weight 0)."
    )
    assert detectable_zero_hit(1, 0.05, 0.5).above == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("share", "text"),
    [
        (0.0, "0.0%"),
        (1e-06, "0.00010%"),
        (0.000051, "0.0051%"),
        (0.001, "0.10%"),
        (0.0076, "0.76%"),
        (0.01, "1.0%"),
        (0.0999, "10.0%"),
        (0.123456, "12.3%"),
        (1.0, "100.0%"),
    ],
)
def test_shares_get_one_decimal_from_1_percent_two_digits_below(share: float, text: str) -> None:
    assert format_share(share) == text


def test_a_share_near_its_reference_shows_the_digits_that_differ() -> None:
    from lab.stats.formats import format_share_near

    assert format_share_near(0.499922, 0.5) == "49.9922%"
    assert format_share(0.499922) == "50.0%"
    assert format_share_near(0.5, 0.5) == "50.0%"
    assert format_share_near(0.03, 0.01) == "3.0%"
    assert format_share_near(0.0051, 0.01) == "0.51%"
    assert format_share_near(0.00005, 0.01) == "0.0050%"
    assert format_share_near(0.0, 0.01) == "0.0%"
    assert format_share_near(0.3, 0.5) == "30.0%"
    assert format_share_near(0.45, 0.5) == "45.0%"
    assert format_share_near(0.4998, 0.5) == "49.980%"


def test_levels_are_short_percentages() -> None:
    from lab.stats.formats import format_level

    assert [format_level(p) for p in (0.999, 0.95, 0.5, 0.9999999, 0.001, 1.0)] == [
        "99.9%",
        "95%",
        "50%",
        "99.99999%",
        "0.1%",
        "100%",
    ]


def test_chi_square_power_when_every_answer_goes_to_one_backend_is_0_or_1() -> None:
    """Then Pearson's statistic is a constant, n * sum((p1 - p0)^2 / p0) = n here, against 9.21."""
    assert chi_square_power(5, (0.5, 0.3, 0.2), (1.0, 0.0, 0.0), 0.01) == 0.0
    assert chi_square_power(9, (0.5, 0.3, 0.2), (1.0, 0.0, 0.0), 0.01) == 0.0
    assert chi_square_power(10, (0.5, 0.3, 0.2), (1.0, 0.0, 0.0), 0.01) == 1.0


@pytest.mark.parametrize(
    ("n", "true_shares", "power", "simulated"),
    [
        # power by the moment-matched approximation; simulated: 40,000 draws of Pearson's test
        (300, (0.52, 0.3, 0.18), 0.11180134801151628, 0.11095),
        (60, (0.45, 0.3, 0.25), 0.1510307861692915, 0.150775),
        (1000, (0.5, 0.28, 0.22), 0.355078777340368, 0.3516),
        (30, (0.6, 0.3, 0.1), 0.18302382092491973, None),  # small n: the approximation is 0.01 off
        (2, (0.9, 0.05, 0.05), 0.01790341018313818, None),  # third cumulant 0.56: still approximated
    ],
)
def test_chi_square_power_values(
    n: int, true_shares: tuple[float, ...], power: float, simulated: float | None
) -> None:
    found = chi_square_power(n, (0.5, 0.3, 0.2), true_shares, 0.05)
    assert found == pytest.approx(power, rel=1e-9)
    if simulated is not None:
        rng = np.random.default_rng(1)
        expected = np.array([0.5, 0.3, 0.2]) * n
        draws = rng.multinomial(n, true_shares, size=40_000)
        stat = ((draws - expected) ** 2 / expected).sum(axis=1)
        assert float((stat > stats.chi2.isf(0.05, 2)).mean()) == pytest.approx(simulated, abs=1e-12)
        assert abs(found - simulated) < 4 * math.sqrt(simulated * (1 - simulated) / 40_000)


def test_the_any_hit_rule_is_stated_at_95_percent_by_default() -> None:
    from lab.stats.power import detectable_zero_hit

    assert detectable_zero_hit(99, 0.001).probability == 0.95


def test_a_shift_past_100_percent_is_stated_as_100_percent() -> None:
    assert sample_size_sentence([50, 50], 5, detect=0.6, power=0.5, alpha=0.5) == (
        "5 successful responses: at alpha=0.5, the exact two-sided binomial test flags the smallest share "
        "(expected 50.0%) at 0.0% or at 100.0% with at least 50% probability."
    )


def test_the_digits_follow_the_distance_to_the_reference() -> None:
    from lab.stats.formats import format_share_near

    # 0.00996 points from 50%: four decimals (a distance of 0.01 or more would get three)
    assert format_share_near(0.4999004, 0.5) == "49.9900%"


@pytest.mark.parametrize(
    ("n", "share", "alpha", "region"),
    [
        (10**9, 0.5, 0.001, (499947972, 500052028)),
        (10**9, 0.01, 0.001, (9989648, 10010354)),
        (100_000, 0.99, 0.05, (98938, 99061)),
        (10**7, 0.3, 0.01, (2996268, 3003733)),
        (70_000, 0.001, 0.001, (44, 98)),
    ],
)
def test_the_search_for_the_acceptance_region_needs_three_p_values_per_end(
    monkeypatch: pytest.MonkeyPatch, n: int, share: float, alpha: float, region: tuple[int, int]
) -> None:
    """The normal approximation lands within a count or two of each end: a probe each side of it
    and one bisection step, whatever n (bounded time as well as memory)."""
    from lab.stats import acceptance, binomial

    calls: list[int] = []
    p_value = binomial.two_sided_p_value

    def counted(k: int, n: int, share: float) -> float:
        calls.append(k)
        return p_value(k, n, share)

    monkeypatch.setattr(binomial, "two_sided_p_value", counted)
    assert acceptance._region_by_search(n, share, alpha) == region
    assert len(calls) <= 6


@pytest.mark.parametrize(
    ("weights", "detect"),
    [([99, 1], 1e-300), ([99, 1], 1e-17), ([100, 0], 1e-9), ([50, 50, 0], 1e-9)],
)
def test_a_shift_too_small_for_the_any_hit_rule_is_invalid_input_not_a_crash(
    weights: list[int], detect: float
) -> None:
    """The any-hit rule needs log(1 - power) / log(1 - detect) answers: 0 / 0 below 1.1e-16 in floats."""
    with pytest.raises(InvalidInput, match="needs more than 10000000 responses") as info:
        required_sample_size(weights, detect=detect)
    assert info.value.exit_code == 3


def test_the_any_hit_rule_is_exact_for_small_shifts() -> None:
    # (1 - 1e-6)^n <= 0.05 first at n = ceil(log(0.05) / log1p(-1e-6)) = 2995731
    assert required_sample_size([100, 0], detect=1e-6) == 2995731
    assert (1 - 1e-6) ** 2995731 <= 0.05 < (1 - 1e-6) ** 2995730


def test_three_backends_plan_for_a_dead_smallest_backend_when_the_shift_exceeds_its_share() -> None:
    """89/10/1 with --detect 0.05: the 1% backend cannot lose 5 points, so the low alternative is
    clamped at 0, a dead backend; zero answers from it become evidence only at n = 1368 (exact).
    Planning from another backend's share instead (10%: 5%/15%) gave 265, where a dead 1% backend
    is flagged with probability 0.0007."""
    from lab.stats import multinomial

    n = required_sample_size({"a": 89, "b": 10, "c": 1}, detect=0.05)
    assert n == 1368
    shares = (0.01, 0.10, 0.89)
    dead = shifted_shares(shares, 0, -0.01)
    assert dead[0] == 0.0
    assert multinomial.power_of_test_that_runs(n, shares, 0.001, dead) >= 0.95
    assert multinomial.power_of_test_that_runs(n - 1, shares, 0.001, dead) < 0.95
    assert multinomial.power_of_test_that_runs(265, shares, 0.001, dead) < 0.001
