"""lab.stats.binomial against scipy.stats: pmf, tails, the exact test, Clopper-Pearson, and no scipy import.

Every figure the two-backend check reports used to come from scipy; these tests pin the numpy
replacements to scipy's values (and the power planner's integers to scipy's exactly).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, stats

from lab.stats import binomial
from lab.stats.power import (
    _binomial_sample_size,
    acceptance_region,
    binomial_power,
    detectable_binomial,
    required_sample_size,
)

ROOT = Path(__file__).resolve().parent.parent
NS = [1, 2, 3, 4, 5, 7, 10, 16, 17, 31, 50, 99, 100, 101, 333, 500, 757, 1000, 1188, 1999, 2000]
SHARES = [0.001, 0.003, 0.01, 0.05, 0.1, 0.25, 0.3, 0.5, 0.7, 0.9, 0.99, 0.997, 0.999]
ALPHAS = [0.05, 0.01, 0.001]
# scipy's own figures are accurate to ~1e-14 at best; this leaves room without hiding a bug.
RTOL = 1e-9


def _counts(n: int, share: float) -> list[int]:
    """Edge cases (0, 1, n - 1, n) and counts around and far from the mean."""
    mean = int(n * share)
    ks = {0, 1, 2, n // 2, n - 2, n - 1, n, mean, mean + 1, mean + 3, mean - 3, 2 * mean, mean // 2}
    return sorted(k for k in ks if 0 <= k <= n)


@pytest.mark.parametrize("n", [*NS, 20_000, 200_000])
@pytest.mark.parametrize("share", SHARES)
def test_pmf_matches_scipy(n: int, share: float) -> None:
    ours = binomial.pmf(0, n, n, share)
    theirs = stats.binom.pmf(np.arange(n + 1), n, share)
    normal = theirs > 1e-290  # below that, both are denormal or 0
    assert np.all(ours[~normal] < 1e-280)
    np.testing.assert_allclose(ours[normal], theirs[normal], rtol=1e-11)
    for k in _counts(n, share):
        assert binomial.pmf_at(k, n, share) == pytest.approx(ours[k], rel=1e-13, abs=1e-300)


def test_pmf_edges() -> None:
    assert binomial.pmf_at(0, 0, 0.3) == 1.0
    assert binomial.pmf_at(-1, 5, 0.3) == 0.0
    assert binomial.pmf_at(6, 5, 0.3) == 0.0
    assert binomial.pmf_at(0, 5, 0.0) == 1.0
    assert binomial.pmf_at(5, 5, 1.0) == 1.0
    assert binomial.pmf_at(4, 5, 1.0) == 0.0
    assert list(binomial.pmf(-1, 6, 5, 0.5)) == pytest.approx(
        [0.0, *stats.binom.pmf(range(6), 5, 0.5), 0.0], rel=1e-14
    )
    assert list(binomial.pmf(0, 2, 2, 0.0)) == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("n", [*NS, 100_000, 1_000_000])
@pytest.mark.parametrize("share", [0.001, 0.01, 0.3, 0.5, 0.999])
def test_tails_match_scipy(n: int, share: float) -> None:
    for k in _counts(n, share):
        assert binomial.cdf(k, n, share) == pytest.approx(stats.binom.cdf(k, n, share), rel=RTOL, abs=1e-300)
        sf = stats.binom.sf(k, n, share)
        assert binomial.sf(k, n, share) == pytest.approx(sf, rel=RTOL, abs=1e-15 * (1 - sf) + 1e-300)


@pytest.mark.parametrize("n", [*NS, 20_000, 1_000_000])
@pytest.mark.parametrize("share", SHARES)
def test_two_sided_p_value_matches_binomtest(n: int, share: float) -> None:
    ks = range(n + 1) if n <= 50 else _counts(n, share)
    for k in ks:
        expected = stats.binomtest(k, n, share).pvalue
        assert binomial.two_sided_p_value(k, n, share) == pytest.approx(expected, rel=RTOL, abs=1e-300), k


def test_two_sided_p_value_ties_and_edges() -> None:
    assert binomial.two_sided_p_value(5, 10, 0.5) == 1.0  # k == n p
    assert binomial.two_sided_p_value(0, 1, 0.5) == 1.0  # the two outcomes tie
    assert binomial.two_sided_p_value(3, 10, 0.5) == pytest.approx(
        stats.binomtest(3, 10, 0.5).pvalue, rel=1e-14
    )
    with pytest.raises(ValueError, match="0 <= k <= n"):
        binomial.two_sided_p_value(11, 10, 0.5)


@pytest.mark.parametrize("n", [*NS, 50_000, 1_000_000])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_clopper_pearson_matches_scipy_beta(n: int, alpha: float) -> None:
    for k in sorted({0, 1, 2, n // 100, n // 3, n // 2, n - 1, n} & set(range(n + 1))):
        lo, hi = binomial.clopper_pearson(k, n, alpha)
        expected_lo = 0.0 if k == 0 else stats.beta.ppf(alpha / 2, k, n - k + 1)
        expected_hi = 1.0 if k == n else stats.beta.isf(alpha / 2, k + 1, n - k)
        assert lo == pytest.approx(expected_lo, rel=RTOL), (k, "lower")
        assert hi == pytest.approx(expected_hi, rel=RTOL), (k, "upper")


def test_clopper_pearson_with_no_trials_is_everything() -> None:
    assert binomial.clopper_pearson(0, 0, 0.05) == (0.0, 1.0)


def test_bisect_finds_a_bracketed_root_and_refuses_an_unbracketed_one() -> None:
    assert binomial.bisect(lambda x: x * x - 2, 0.0, 2.0) == pytest.approx(2**0.5, rel=1e-14)
    assert binomial.bisect(lambda x: x - 1e-9, 0.0, 1.0) == pytest.approx(1e-9, rel=1e-13)
    assert binomial.bisect(lambda x: x, 0.0, 1.0) == 0.0
    with pytest.raises(ValueError, match="same sign"):
        binomial.bisect(lambda x: x + 1, 0.0, 1.0)


def _scipy_acceptance_region(n: int, share: float, alpha: float) -> tuple[int, int]:
    """lab.stats.power.acceptance_region as it was with scipy."""
    pmf = stats.binom.pmf(np.arange(n + 1), n, share)
    order = np.sort(pmf)
    cumulative = np.cumsum(order)
    index = np.searchsorted(order, pmf * (1 + 1e-7), side="right") - 1
    accepted = np.flatnonzero(np.minimum(cumulative[index], 1.0) > alpha)
    return int(accepted[0]), int(accepted[-1])


def _scipy_binomial_power(n: int, share: float, alpha: float, true_share: float) -> float:
    lo, hi = _scipy_acceptance_region(n, share, alpha)
    accept = stats.binom.cdf(hi, n, true_share) - (stats.binom.cdf(lo - 1, n, true_share) if lo > 0 else 0.0)
    return float(min(max(1.0 - accept, 0.0), 1.0))


@pytest.mark.parametrize("n", [n for n in NS if n >= 2] + [5000, 20_000])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_acceptance_region_and_power_match_the_scipy_versions(n: int, alpha: float) -> None:
    for share in SHARES:
        assert acceptance_region(n, share, alpha) == _scipy_acceptance_region(n, share, alpha), share
        for true_share in (0.0, share / 2, share, (1 + share) / 2, 1.0):
            assert binomial_power(n, share, alpha, true_share) == pytest.approx(
                _scipy_binomial_power(n, share, alpha, true_share), abs=1e-12
            )


@pytest.mark.parametrize("weights", [(99, 1), (90, 10), (50, 50), (80, 20), (999, 1), (70, 30)])
@pytest.mark.parametrize("detect", [0.02, 0.03, 0.1])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_two_backend_sample_size_equals_the_scipy_one(
    weights: Sequence[int], detect: float, alpha: float
) -> None:
    share = min(weights) / sum(weights)
    alternatives = sorted({max(share - detect, 0.0), min(share + detect, 1.0)})

    def enough(n: int) -> bool:
        return all(_scipy_binomial_power(n, share, alpha, a) >= 0.95 for a in alternatives)

    # the planner's search (double, then bisect), with scipy's power
    hi = 8
    while not enough(hi):
        hi *= 2
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    assert _binomial_sample_size(share, alternatives, 0.95, alpha) == hi
    assert required_sample_size(weights, detect=detect, alpha=alpha) == hi


def test_one_backend_sample_size_is_the_any_hit_rule() -> None:
    assert required_sample_size([100], detect=0.03, power=0.95) == 99
    assert required_sample_size([100, 0], detect=0.01, power=0.99) == 459


@pytest.mark.parametrize("n", [20, 100, 757, 1000, 5000])
@pytest.mark.parametrize("share", [0.001, 0.01, 0.1, 0.5, 0.9])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_detectable_shares_match_brentq_on_scipy_power(n: int, share: float, alpha: float) -> None:
    d = detectable_binomial("canary", n, share, alpha, 0.95)

    def gap(true_share: float) -> float:
        return _scipy_binomial_power(n, share, alpha, true_share) - 0.95

    lo, hi = _scipy_acceptance_region(n, share, alpha)
    expected_below = None if lo == 0 else optimize.brentq(gap, 0.0, share, xtol=1e-15, rtol=1e-14)
    expected_above = None if hi == n else optimize.brentq(gap, share, 1.0, xtol=1e-15, rtol=1e-14)
    assert d.below == (None if expected_below is None else pytest.approx(expected_below, rel=RTOL))
    assert d.above == (None if expected_above is None else pytest.approx(expected_above, rel=RTOL))


_NO_SCIPY = """
import sys
from pathlib import Path
import lab.ui.cli, lab.spec.plan, lab.engines.local.engine
from lab.spec.registry import LabDir
plan = lab.spec.plan.make_plan(LabDir(Path(sys.argv[1])), "canary-99-1")
assert plan.first.traffic[0].requests == 757, plan.first.traffic[0].requests
from lab.stats.verdict import judge
verdict = judge({"echo-1": 99, "echo-2": 1}, {"echo-1": 750, "echo-2": 7})
assert verdict.passed and verdict.p_value is not None, verdict
from lab.stats.power import required_sample_size
assert required_sample_size([99, 1]) == 757 and required_sample_size([1]) == 99
startup_free = {"scipy", "aiohttp", "kubernetes", "docker", "cryptography", "requests"}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in startup_free)
print(" ".join(heavy))
"""


def test_the_two_backend_path_never_imports_scipy() -> None:
    """Nor does loading the CLI or the local engine import a network or crypto library."""
    result = subprocess.run(
        [sys.executable, "-c", _NO_SCIPY, str(ROOT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported at startup: {result.stdout}"
