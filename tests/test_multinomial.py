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
