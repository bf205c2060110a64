"""Three or more weighted backends: the multinomial goodness-of-fit test and the power of the test that ran.

Exact (every outcome enumerated) where there are few outcomes; Pearson's chi-square where every
expected count is large enough; otherwise the exact test with a Monte Carlo p-value from fresh
random draws. scipy.special is imported on first use, never on the two-backend path.
"""

from __future__ import annotations

import functools
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lab.stats import binomial
from lab.stats.power import Detectable, chi_square_power, shifted_shares

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# Enumerate every multinomial outcome when there are at most this many.
EXACT_MULTINOMIAL_MAX_OUTCOMES = 200_000
# Pearson's chi-square is used only when every expected count reaches this.
CHI_SQUARE_MIN_EXPECTED = 5.0
# Monte Carlo exact p-value: this many draws, from a fresh seed per check (stated in the test name).
MONTE_CARLO_DRAWS = 100_000
# The same "at most as likely" tolerance as scipy's binomtest, in log space.
_LOG_TOLERANCE = math.log1p(1e-7)

EXACT_MULTINOMIAL = "exact multinomial rejection region, every outcome enumerated"
MONTE_CARLO_POWER = (
    "noncentral chi-square approximation to Pearson's test, an approximation to the power of the "
    "Monte Carlo exact test that ran"
)


@dataclass(frozen=True)
class MultinomialTest:
    """The test that ran on three or more weighted backends: its name, p-value and kind."""

    name: str
    p_value: float
    kind: str  # "exact", "chi-square" or "monte-carlo"


@functools.lru_cache(maxsize=8)
def compositions(n: int, k: int) -> npt.NDArray[np.int64]:
    """Every way to split n responses over k backends, one row each, in lexicographic order.

    Built one backend at a time with numpy (each row of the first j backends followed by every
    count the next one can take), so the cost is a few array operations per backend, not a
    Python call per partial row.
    """
    import numpy as np

    rows = np.zeros((1, 0), dtype=np.int64)
    left = np.array([n], dtype=np.int64)  # responses not yet placed, per row
    for _ in range(k - 1):
        choices = left + 1  # the next backend takes 0..left
        parent = np.repeat(np.arange(len(left)), choices)
        count = np.arange(int(choices.sum()), dtype=np.int64) - np.repeat(np.cumsum(choices) - choices, choices)
        rows = np.column_stack([rows[parent], count])
        left = left[parent] - count
    return np.column_stack([rows, left])


def _log_coefficients(counts: npt.NDArray[np.int64]) -> Any:
    """log(n! / prod(counts!)) per row."""
    from scipy import special

    n = counts.sum(axis=-1)
    return special.gammaln(n + 1) - special.gammaln(counts + 1).sum(axis=-1)


def _log_likelihood(counts: npt.NDArray[np.int64], probs: npt.NDArray[np.float64]) -> Any:
    """sum(counts * log(probs)) per row, with 0 * log(0) = 0."""
    import numpy as np

    possible = probs > 0
    logs = np.where(possible, np.log(np.where(possible, probs, 1.0)), 0.0)
    impossible = ((counts > 0) & ~possible).any(axis=-1)
    return np.where(impossible, -np.inf, (counts * logs).sum(axis=-1))


def log_pmf(counts: npt.NDArray[np.int64], probs: npt.NDArray[np.float64]) -> Any:
    """The multinomial log-probability of each row of counts."""
    return _log_coefficients(counts) + _log_likelihood(counts, probs)


def multinomial_outcomes(n: int, k: int) -> int:
    """How many ways n responses can fall on k backends."""
    return math.comb(n + k - 1, k - 1)


def kind_of_test(n: int, probs: Sequence[float]) -> str:
    """Which test `multinomial_test` runs on n answers: "exact", "chi-square" or "monte-carlo"."""
    if multinomial_outcomes(n, len(probs)) <= EXACT_MULTINOMIAL_MAX_OUTCOMES:
        return "exact"
    if n * min(probs) >= CHI_SQUARE_MIN_EXPECTED:
        return "chi-square"
    return "monte-carlo"


def multinomial_test(counts: list[int], probs: list[float], seed: int | None = None) -> MultinomialTest:
    """The goodness-of-fit test of `counts` against `probs`, the kind chosen by size (module docstring)."""
    import numpy as np

    observed = np.array(counts, dtype=np.int64)
    p = np.array(probs, dtype=np.float64)
    n, k = int(observed.sum()), len(counts)
    outcomes = multinomial_outcomes(n, k)
    kind = kind_of_test(n, probs)
    if kind == "exact":
        log_all = log_pmf(compositions(n, k), p)
        log_observed = log_pmf(observed, p) + _LOG_TOLERANCE
        p_value = float(np.exp(log_all[log_all <= log_observed]).sum())
        name = f"exact multinomial goodness-of-fit test (all {outcomes} outcomes enumerated)"
        return MultinomialTest(name, min(p_value, 1.0), "exact")
    if kind == "chi-square":
        name = f"Pearson chi-square goodness-of-fit test (every expected count >= {CHI_SQUARE_MIN_EXPECTED:g})"
        return MultinomialTest(name, pearson_p_value(observed, p), "chi-square")
    seed = secrets.randbits(63) if seed is None else seed
    p_value = monte_carlo_p_value(counts, probs, MONTE_CARLO_DRAWS, seed)
    name = (
        "exact multinomial goodness-of-fit test, Monte Carlo p-value (b+1)/(m+1) "
        f"(m={MONTE_CARLO_DRAWS} draws, seed {seed}; an expected count is below "
        f"{CHI_SQUARE_MIN_EXPECTED:g}, so chi-square is not valid)"
    )
    return MultinomialTest(name, p_value, "monte-carlo")


def pearson_p_value(observed: npt.NDArray[np.int64], probs: npt.NDArray[np.float64]) -> float:
    """P(chi-square with k - 1 degrees of freedom >= sum((O - E)^2 / E)), E = n * probs.

    What scipy.stats.power_divergence(observed, E, lambda_="pearson") returns, from scipy.special
    alone (scipy.stats costs ~50 MB and ~0.4 s more to import).
    """
    from scipy import special

    expected = observed.sum() * probs
    statistic = float((((observed - expected) ** 2) / expected).sum())
    return float(special.chdtrc(len(probs) - 1, statistic))


def monte_carlo_p_value(counts: list[int], probs: list[float], draws: int, seed: int) -> float:
    """(b + 1) / (m + 1): b of m multinomial draws at most as likely as the counts.

    With draws independent of the data, P(p-value <= alpha) <= alpha under the null for every
    alpha (the observed counts are one more exchangeable draw); a fixed seed shared by every
    check would lose that guarantee, hence a fresh seed per check.
    """
    import numpy as np

    p = np.array(probs, dtype=np.float64)
    n = int(sum(counts))
    log_observed = log_pmf(np.array(counts, dtype=np.int64), p) + _LOG_TOLERANCE
    sample = np.random.default_rng(seed).multinomial(n, p, size=draws)
    extreme = int(np.count_nonzero(log_pmf(sample, p) <= log_observed))
    return (1 + extreme) / (1 + draws)


@functools.lru_cache(maxsize=64)
def _exact_rejection(n: int, shares: tuple[float, ...], alpha: float) -> tuple[Any, Any]:
    """The outcomes the exact test rejects at `alpha`: (their rows, their log coefficients)."""
    import numpy as np

    rows = compositions(n, len(shares))
    coefficients = _log_coefficients(rows)
    log_null = coefficients + _log_likelihood(rows, np.asarray(shares))
    order = np.sort(log_null)
    cumulative = np.cumsum(np.exp(order))
    # p-value of each outcome: the mass of the outcomes at most as likely (with the tolerance)
    index = np.searchsorted(order, log_null + _LOG_TOLERANCE, side="right") - 1
    rejected = np.minimum(cumulative[index], 1.0) <= alpha
    return rows[rejected], coefficients[rejected]


def exact_power(n: int, shares: tuple[float, ...], alpha: float, true_shares: tuple[float, ...]) -> float:
    """The probability that the exact multinomial test at `alpha` rejects when the shares are `true_shares`."""
    import numpy as np

    rows, coefficients = _exact_rejection(n, shares, alpha)
    if len(rows) == 0:
        return 0.0
    return min(float(np.exp(coefficients + _log_likelihood(rows, np.asarray(true_shares))).sum()), 1.0)


def power_of_test_that_runs(
    n: int, shares: Sequence[float], alpha: float, true_shares: Sequence[float]
) -> float:
    """The power at `true_shares` of the test `multinomial_test` runs on n answers.

    Exact where the test enumerates every outcome; otherwise the noncentral chi-square
    approximation to Pearson's test (for the Monte Carlo exact test, an approximation to it).
    """
    if kind_of_test(n, shares) == "exact":
        return exact_power(n, tuple(shares), alpha, tuple(true_shares))
    return chi_square_power(n, shares, true_shares, alpha)


def forget() -> None:
    """Drop the remembered enumerations (up to ~5 MB each): a search over n leaves many."""
    compositions.cache_clear()
    _exact_rejection.cache_clear()


@functools.lru_cache(maxsize=256)
def detectable_exact(
    backend: str, n: int, shares: tuple[float, ...], index: int, alpha: float, probability: float
) -> Detectable:
    """Exact: the shares of backend `index` that the enumerated exact test flags with `probability`.

    The other backends move in proportion (`shifted_shares`); each side's share is found by
    bisection on the exact power (the sum over the rejected outcomes), to 1e-9.
    """
    share = shares[index]

    def gap(shift: float) -> float:
        return exact_power(n, shares, alpha, shifted_shares(shares, index, shift)) - probability

    below = above = None
    if gap(-share) >= 0:
        below = share + binomial.bisect(gap, -share, 0.0, xtol=1e-9, rtol=0.0)
    if gap(1.0 - share) >= 0:
        above = share + binomial.bisect(gap, 0.0, 1.0 - share, xtol=1e-9, rtol=0.0)
    return Detectable(backend, share, n, alpha, probability, below, above, EXACT_MULTINOMIAL)
