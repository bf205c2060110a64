"""lab.stats.multinomial: the power sentence describes the test that ran; the Monte Carlo test's size."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from lab.stats import multinomial
from lab.stats.power import NONCENTRAL_CHI_SQUARE, chi_square_power, shifted_shares
from lab.stats.verdict import judge

Record = Callable[[str, float, float, int], None]


def _exact_p_values(n: int, shares: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every outcome, its null probability and its exact p-value, from scipy (independent of lab)."""
    rows = np.array([(a, b, n - a - b) for a in range(n + 1) for b in range(n + 1 - a)])
    null = stats.multinomial.pmf(rows, n, shares)
    p_values = np.array([null[null <= x * (1 + 1e-7)].sum() for x in null])
    return rows, null, p_values


def test_the_power_sentence_of_the_exact_three_way_test_is_its_own_power() -> None:
    v = judge({"a": 50, "b": 30, "c": 20}, {"a": 52, "b": 29, "c": 19})
    assert v.test.startswith("exact multinomial goodness-of-fit test (all 5151 outcomes")
    d = v.detectable
    assert d is not None and d.method == multinomial.EXACT_MULTINOMIAL and d.below and d.above
    assert "exact multinomial rejection region" in v.power
    shares = (0.5, 0.3, 0.2)
    rows, _, p_values = _exact_p_values(100, shares)
    rejected = rows[p_values <= 0.001]
    for found in (d.below, d.above):
        true = shifted_shares(shares, 2, found - 0.2)
        power = stats.multinomial.pmf(rejected, 100, true).sum()
        assert power == pytest.approx(0.95, abs=1e-6)
        # the chi-square approximation, stated before, overstates this test's power here
        assert chi_square_power(100, shares, true, 0.001) != pytest.approx(power, abs=0.005)


def test_chi_square_power_is_stated_only_when_chi_square_ran() -> None:
    v = judge({"a": 50, "b": 30, "c": 20}, {"a": 5000, "b": 3000, "c": 2000})
    assert v.test.startswith("Pearson chi-square")
    assert v.detectable is not None and v.detectable.method == NONCENTRAL_CHI_SQUARE


def test_the_monte_carlo_power_is_stated_as_an_approximation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(multinomial, "EXACT_MULTINOMIAL_MAX_OUTCOMES", 0)
    v = judge({"a": 90, "b": 5, "c": 5}, {"a": 50, "b": 7, "c": 3})
    assert "Monte Carlo" in v.test
    assert "an approximation to the power of the Monte Carlo exact test that ran" in v.power


def test_the_monte_carlo_p_value_is_b_plus_1_over_m_plus_1() -> None:
    counts, probs, draws, seed = [50, 7, 3], [0.9, 0.05, 0.05], 999, 42
    sample = np.random.default_rng(seed).multinomial(60, probs, size=draws)
    observed = stats.multinomial.pmf(counts, 60, probs)
    extreme = int((stats.multinomial.pmf(sample, 60, probs) <= observed * (1 + 1e-7)).sum())
    assert multinomial.monte_carlo_p_value(counts, probs, draws, seed) == (extreme + 1) / (draws + 1)


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.001])
def test_the_monte_carlo_test_has_size_at_most_alpha_computed_exactly(
    alpha: float, calibration: Record
) -> None:
    """Fresh draws per check: P(p <= alpha) = sum over outcomes x of P0(x) P(B <= alpha (m+1) - 1),
    B ~ Binomial(m, exact p-value of x), summed over every outcome (not simulated)."""
    n, shares, m = 60, (0.9, 0.05, 0.05), multinomial.MONTE_CARLO_DRAWS
    _, null, p_values = _exact_p_values(n, shares)
    threshold = math.floor(alpha * (m + 1)) - 1
    size = float((null * stats.binom.cdf(threshold, m, np.minimum(p_values, 1.0))).sum())
    calibration(f"Monte Carlo exact test size 90/5/5 n={n} alpha={alpha} (exact sum)", size, alpha, 0)
    assert size <= alpha


@pytest.mark.parametrize(
    ("n", "true_shares"),
    [
        (20, (0.5, 0.3, 0.2)),
        (20, (0.625, 0.375, 0.0)),
        (20, (0.0, 0.6, 0.4)),
        (20, (0.2, 0.2, 0.6)),
        # small n: the power with a backend at share 0 is far from 1 (0.041 and 0.070)
        (6, (0.6, 0.4, 0.0)),
        (6, (0.7, 0.0, 0.3)),
    ],
)
def test_the_exact_power_is_the_true_probability_of_the_rejected_outcomes(
    n: int, true_shares: tuple[float, float, float]
) -> None:
    """Summed over scipy's outcomes and p-values (a backend with share 0 gets no hit)."""
    shares, alpha = (0.5, 0.3, 0.2), 0.05
    rows, _, p_values = _exact_p_values(n, shares)
    rejected = rows[p_values <= alpha]
    expected = float(stats.multinomial.pmf(rejected, n, true_shares).sum())
    assert multinomial.exact_power(n, shares, alpha, true_shares) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert multinomial.exact_power(n, shares, alpha, shares) <= alpha


def test_when_nothing_can_be_rejected_the_exact_power_is_0() -> None:
    assert multinomial.exact_power(2, (0.4, 0.3, 0.3), 0.001, (1.0, 0.0, 0.0)) == 0.0
    assert multinomial.exact_power(2, (0.4, 0.3, 0.3), 0.5, (1.0, 0.0, 0.0)) > 0.0
    # one outcome rejected, (0, 0, 2) with probability 0.01: power 1 when it is certain
    assert multinomial.exact_power(2, (0.7, 0.2, 0.1), 0.011, (0.0, 0.0, 1.0)) == pytest.approx(1.0)
    assert multinomial.exact_power(2, (0.7, 0.2, 0.1), 0.011, (0.5, 0.3, 0.2)) == pytest.approx(0.04)


def test_the_p_value_never_exceeds_1_and_each_kind_says_what_ran() -> None:
    # the pmf of every outcome sums to 1 + 4e-16 here: the p-value of the mode is 1, not more
    at_mode = multinomial.multinomial_test([5, 3, 2], [0.5, 0.3, 0.2])
    assert (at_mode.p_value, at_mode.kind) == (1.0, "exact")
    chi = multinomial.multinomial_test([700, 200, 100], [0.7, 0.2, 0.1])
    assert chi.kind == "chi-square"
    assert chi.p_value == pytest.approx(stats.chisquare([700, 200, 100], [700, 200, 100]).pvalue)


def test_an_expected_count_of_exactly_5_is_enough_for_chi_square() -> None:
    """1000 answers at 990/5/5: 501,501 outcomes (too many to enumerate), expected counts 990, 5, 5."""
    probs = [0.99, 0.005, 0.005]
    assert min(1000 * p for p in probs) == multinomial.CHI_SQUARE_MIN_EXPECTED
    assert multinomial.multinomial_test([990, 6, 4], probs).kind == "chi-square"
    assert multinomial.multinomial_test([990, 6, 4], [0.991, 0.0045, 0.0045]).kind == "monte-carlo"


@pytest.mark.parametrize(
    ("counts", "probs"),
    [([520, 290, 190], (0.5, 0.3, 0.2)), ([5000, 3100, 1900], (0.5, 0.3, 0.2)), ([30, 40, 25, 5], (0.3, 0.4, 0.2, 0.1))],
)
def test_pearsons_p_value_is_scipys_power_divergence(counts: list[int], probs: tuple[float, ...]) -> None:
    n = sum(counts)
    reference = stats.power_divergence(counts, np.array(probs) * n, lambda_="pearson").pvalue
    found = multinomial.pearson_p_value(np.array(counts), np.array(probs))
    assert found == pytest.approx(reference, rel=1e-12)


def _exact_power_by_scipy(n: int, shares: tuple[float, ...], alpha: float, true: tuple[float, ...]) -> float:
    """The exact test's power from scipy's pmf: the outcomes whose p-value (mass at most as likely) <= alpha."""
    rows = np.array([(a, b, n - a - b) for a in range(n + 1) for b in range(n + 1 - a)])
    null = stats.multinomial.pmf(rows, n, shares)
    order = np.sort(null)
    p_values = np.cumsum(order)[np.searchsorted(order, null * (1 + 1e-7), side="right") - 1]
    return float(stats.multinomial.pmf(rows[p_values <= alpha], n, true).sum())


def test_the_planner_promises_the_power_of_the_test_that_will_run() -> None:
    """At 50/30/20 and detect 0.1 the n is small enough for the exact test to run: its power, not
    the chi-square approximation's, must reach 95% (the approximation's n, 484, gives 0.941)."""
    from lab.stats.power import required_sample_size, sample_size_sentence

    shares = (0.5, 0.3, 0.2)
    n = required_sample_size([50, 30, 20], detect=0.1, power=0.95, alpha=0.001)
    assert multinomial.kind_of_test(n, shares) == "exact"
    for shift in (-0.1, 0.1):
        true = shifted_shares(shares, 2, shift)
        assert _exact_power_by_scipy(n, shares, 0.001, true) >= 0.95
    sentence = sample_size_sentence([50, 30, 20], n, detect=0.1, power=0.95, alpha=0.001)
    assert "exact multinomial test" in sentence and "chi-square" not in sentence


@pytest.mark.parametrize(("n", "k"), [(0, 3), (1, 1), (5, 1), (4, 2), (7, 3), (6, 4), (3, 6)])
def test_compositions_are_every_split_once_in_lexicographic_order(n: int, k: int) -> None:
    import itertools

    every = [row for row in itertools.product(range(n + 1), repeat=k) if sum(row) == n]
    found = multinomial.compositions(n, k)
    assert found.shape == (multinomial.multinomial_outcomes(n, k), k)
    assert [tuple(int(x) for x in row) for row in found] == every
