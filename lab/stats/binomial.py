"""The binomial distribution, its exact two-sided test and Clopper-Pearson bounds, in numpy + math.

The two-backend split check needs only these; computing them here keeps scipy (~0.9 s to import)
off the path of every `lab` command. Results match scipy.stats to ~1e-12 relative (tests/test_binomial.py).
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable
from typing import TYPE_CHECKING

# numpy is imported inside the functions that use it (~0.1 s), so that `import lab.ui.cli` and the
# commands that compute nothing skip it.
if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

# scipy.stats.binomtest counts an outcome as "at most as likely" as the observed one with this
# relative tolerance; every "at most as likely" comparison in lab uses the same rule.
PMF_RELATIVE_TOLERANCE = 1 + 1e-7

_LN_2PI = math.log(2 * math.pi)

# stirlerr(m) = log(m!) - log(sqrt(2 pi m) (m/e)^m) for m = 0..15 (Loader 2000, as in R's
# dbinom); m = 0 is a placeholder, never used. Above 15 the asymptotic series in `_stirlerr`.
_STIRLERR_TABLE = (
    0.0,
    0.0810614667953272582196702,
    0.0413406959554092940938221,
    0.02767792568499833914878929,
    0.02079067210376509311152277,
    0.01664469118982119216319487,
    0.01387612882307074799874573,
    0.01189670994589177009505572,
    0.010411265261972096497478567,
    0.009255462182712732917728637,
    0.008330563433362871256469318,
    0.007573675487951840794972024,
    0.006942840107209529865664152,
    0.006408994188004207068439631,
    0.005951370112758847735624416,
    0.005554733551962801371038690,
)

# Counts above this are refused (exit 3): the sums below cost time in proportion to sqrt(n), and
# every count must stay exact in a float (2**53 ~ 9e15). 1e10 answers in a few seconds.
MAX_EXACT_N = 10**10

# `mass` sums the pmf in blocks of at most this many terms, so memory stays bounded at any n.
_BLOCK = 1 << 15
# The first block reaches this many standard deviations (plus a margin) either side of the
# largest term; further blocks are summed only while the rest could still change the sum.
_FIRST_BLOCK_SDS = 12
_FIRST_BLOCK_MARGIN = 100
# The rest is negligible once its bound is below this fraction of the sum (under half an ulp).
_NEGLIGIBLE = 2.0**-60


def _stirlerr(m: int) -> float:
    """Error of Stirling's formula for log(m!), m >= 0 (Loader 2000)."""
    if m <= 15:
        return _STIRLERR_TABLE[m]
    mm = float(m) * m
    return (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - 1 / (1188 * mm)) / mm) / mm) / mm) / m


def _stirlerr_array(m: FloatArray) -> FloatArray:
    """`_stirlerr` elementwise over positive integers held as floats."""
    import numpy as np

    small = m <= 15
    table = np.asarray(_STIRLERR_TABLE)[np.where(small, m, 0).astype(np.int64)]
    big = np.where(small, 16.0, m)
    mm = big * big
    series = (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - 1 / (1188 * mm)) / mm) / mm) / mm) / big
    result: FloatArray = np.where(small, table, series)
    return result


def _bd0(x: float, mean: float) -> float:
    """The deviance term x log(x / mean) + mean - x, exact also when x is near mean (Loader 2000)."""
    if abs(x - mean) < 0.1 * (x + mean):
        v = (x - mean) / (x + mean)
        series = (x - mean) * v
        term = 2 * x * v
        v2 = v * v
        # |v| < 0.1: each term is below 1/100 of the one before, so this ends within ~10 terms
        for j in range(1, 100):
            term *= v2
            more = series + term / (2 * j + 1)
            if more == series:
                break
            series = more
        return series
    return x * math.log(x / mean) + mean - x


def _bd0_array(x: FloatArray, mean: float) -> FloatArray:
    """`_bd0` elementwise over x (mean > 0)."""
    import numpy as np

    total = x + mean
    diff = x - mean
    near = np.abs(diff) < 0.1 * total
    v = np.where(near, diff / total, 0.0)
    series = diff * v
    term = 2 * x * v
    v2 = v * v
    largest = float(v2.max()) if v2.size else 0.0
    # The scalar loop stops at the first term that leaves the sum unchanged; a term is below
    # 2**-61 of the sum once |v|**(2j - 1) is, so stopping there gives the same sums.
    steps = 0 if largest == 0.0 else math.ceil(0.5 + 61 * math.log(2) / -math.log(largest))
    for j in range(1, min(steps, 40) + 1):
        term = term * v2
        series = series + term / (2 * j + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        far = x * np.log(x / mean) + mean - x
    result: FloatArray = np.where(near, series, far)
    return result


def log_pmf_at(k: int, n: int, p: float) -> float:
    """The log of P(X = k) for X ~ Binomial(n, p) (-inf outside 0..n).

    Loader's saddle-point form (C. Loader, "Fast and accurate computation of binomial
    probabilities", 2000; R's dbinom): relative error near machine precision for any n.
    """
    if not 0 <= k <= n:
        return -math.inf
    if p <= 0.0 or p >= 1.0 or n == 0:
        certain = 0 if p <= 0.0 or n == 0 else n
        return 0.0 if k == certain else -math.inf
    q = 1.0 - p
    if k == 0:
        return -_bd0(n, n * q) - n * p if p < 0.1 else n * math.log(q)
    if k == n:
        return -_bd0(n, n * p) - n * q if q < 0.1 else n * math.log(p)
    lc = _stirlerr(n) - _stirlerr(k) - _stirlerr(n - k) - _bd0(k, n * p) - _bd0(n - k, n * q)
    lf = _LN_2PI + math.log(k) + math.log1p(-k / n)
    return lc - 0.5 * lf


def pmf_at(k: int, n: int, p: float) -> float:
    """P(X = k) for X ~ Binomial(n, p)."""
    return math.exp(log_pmf_at(k, n, p))


def pmf(lo: int, hi: int, n: int, p: float) -> FloatArray:
    """P(X = k) for k = lo..hi (0 outside 0..n): `pmf_at` over a range, vectorised."""
    import numpy as np

    ks = np.arange(lo, hi + 1, dtype=np.float64)
    out = np.zeros(ks.shape)
    inside = (ks >= 0) & (ks <= n)
    if p <= 0.0 or p >= 1.0 or n == 0:
        certain = 0 if p <= 0.0 or n == 0 else n
        out[ks == certain] = 1.0
        return out
    q = 1.0 - p
    x = ks[inside]
    middle = (x > 0) & (x < n)
    xm = np.where(middle, x, 1.0)
    rm = n - xm
    with np.errstate(divide="ignore", invalid="ignore"):
        lc = _stirlerr(n) - _stirlerr_array(xm) - _stirlerr_array(rm) - _bd0_array(xm, n * p)
        lc = lc - _bd0_array(rm, n * q)
        lf = _LN_2PI + np.log(xm) + np.log1p(-xm / n)
    logs = np.where(middle, lc - 0.5 * lf, 0.0)
    logs = np.where(x == 0, log_pmf_at(0, n, p), np.where(x == n, log_pmf_at(n, n, p), logs))
    out[inside] = np.exp(logs)
    return out


def mass(lo: int, hi: int, n: int, p: float) -> float:
    """P(lo <= X <= hi) for X ~ Binomial(n, p), summed term by term (0 when lo > hi).

    Summed outward from the largest term in [lo, hi], in blocks of at most `_BLOCK` terms. The
    pmf is log-concave, so past the last term f(j) summed on a side the rest is at most
    f(j) * r / (1 - r), r = f(j+1) / f(j) the ratio there (a geometric bound: the ratios only
    fall further out); a side stops once that bound is below `_NEGLIGIBLE` of the sum.
    Memory is one block whatever n; time grows like sqrt(n).
    """
    lo, hi = max(lo, 0), min(hi, n)
    if lo > hi:
        return 0.0
    if p <= 0.0 or p >= 1.0 or n == 0:
        certain = 0 if p <= 0.0 or n == 0 else n
        return 1.0 if lo <= certain <= hi else 0.0
    mode = min(max(math.floor((n + 1) * p), 0), n)
    peak = min(max(mode, lo), hi)
    half = min(int(_FIRST_BLOCK_SDS * math.sqrt(n * p * (1.0 - p))) + _FIRST_BLOCK_MARGIN, _BLOCK // 2)
    first, last = max(lo, peak - half), min(hi, peak + half)
    block = pmf(first, last, n, p)
    total = float(block.sum())
    top, bottom = float(block[-1]), float(block[0])
    odds = p / (1.0 - p)
    while last < hi and not _rest_negligible(top, (n - last) / (last + 1) * odds, hi - last, total):
        block = pmf(last + 1, min(hi, last + _BLOCK), n, p)
        last = min(hi, last + _BLOCK)
        total += float(block.sum())
        top = float(block[-1])
    while first > lo and not _rest_negligible(bottom, first / (n - first + 1) / odds, first - lo, total):
        block = pmf(max(lo, first - _BLOCK), first - 1, n, p)
        first = max(lo, first - _BLOCK)
        total += float(block.sum())
        bottom = float(block[0])
    return total


def _rest_negligible(edge: float, ratio: float, count: int, total: float) -> bool:
    """Whether `count` more terms, past a term `edge` where the pmf ratio is `ratio`, are negligible."""
    bound = edge * count if ratio >= 1.0 else edge * min(count, ratio / (1.0 - ratio))
    return bound <= _NEGLIGIBLE * total


def cdf(k: int, n: int, p: float) -> float:
    """P(X <= k)."""
    return mass(0, k, n, p)


def sf(k: int, n: int, p: float) -> float:
    """P(X > k)."""
    return mass(k + 1, n, n, p)


def two_sided_p_value(k: int, n: int, p: float) -> float:
    """p-value of the exact two-sided binomial test, as `scipy.stats.binomtest(k, n, p).pvalue`.

    The total probability of the outcomes at most as likely as k (times 1 + 1e-7), found the way
    scipy finds it: a binary search for the last such outcome on the other side of the mode,
    then one tail sum on each side.
    """
    _check_counts(k, n)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if k == p * n:
        return 1.0
    d = pmf_at(k, n, p) * PMF_RELATIVE_TOLERANCE
    if k < p * n:
        # the first outcome above the mode whose probability is <= d
        ix = _binary_search(lambda j: -pmf_at(j, n, p), -d, math.ceil(p * n), n)
        y = n - ix + int(d == pmf_at(ix, n, p))
        p_value = cdf(k, n, p) + sf(n - y, n, p)
    else:
        # the last outcome below the mode whose probability is <= d
        ix = _binary_search(lambda j: pmf_at(j, n, p), d, 0, math.floor(p * n))
        p_value = cdf(ix, n, p) + sf(k - 1, n, p)
    return min(1.0, p_value)


def _binary_search(value: Callable[[int], float], target: float, lo: int, hi: int) -> int:
    """The index i in [lo - 1, hi] with value(i) <= target < value(i + 1); value ascending.

    A transcription of scipy.stats._binomtest._binary_search_for_binom_tst, so that ties and
    the tolerance fall exactly where they fall in scipy.
    """
    while lo < hi:
        mid = lo + (hi - lo) // 2
        at = value(mid)
        if at < target:
            lo = mid + 1
        elif at > target:
            hi = mid - 1
        else:
            return mid
    return lo if value(lo) <= target else lo - 1


def _check_counts(k: int, n: int) -> None:
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")


def bisect(
    f: Callable[[float], float], a: float, b: float, *, xtol: float = 0.0, rtol: float = 1e-14
) -> float:
    """A root of f in [a, b], where f(a) and f(b) differ in sign (or one is 0), by bisection.

    Stops when the bracket is no wider than xtol + rtol * |midpoint|, or cannot be split further
    in floating point. Bisection, not Brent: slower, but every step keeps the root bracketed.
    """
    fa, fb = f(a), f(b)
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    if (fa > 0) == (fb > 0):
        raise ValueError(f"f({a}) = {fa} and f({b}) = {fb} have the same sign: no bracketed root")
    # each step halves the bracket: ~2100 steps reach from 1 down to the smallest float
    for _ in range(2200):
        mid = a + (b - a) / 2
        if mid in (a, b) or b - a <= xtol + rtol * abs(mid):
            return mid
        fm = f(mid)
        if fm == 0.0:
            return mid
        if (fm > 0) == (fa > 0):
            a, fa = mid, fm
        else:
            b = mid
    return a + (b - a) / 2


def newton_in_bracket(
    f: Callable[[float], tuple[float, float]], a: float, b: float, x: float, *, increasing: bool
) -> float:
    """The root of a monotone f in [a, b], by Newton steps from x kept inside the bracket.

    f returns (value, slope); a bisection step replaces a Newton step that would leave the
    bracket or has no usable slope. Stops when a Newton step moves x by at most 1e-14
    relative; after 200 steps, bisection alone.
    """
    for step in range(2000):
        value, slope = f(x)
        if value == 0.0:
            return x
        if (value < 0) == increasing:
            a = x
        else:
            b = x
        new = a + (b - a) / 2
        if step < 200 and math.isfinite(value) and math.isfinite(slope) and slope != 0.0:
            newton = x - value / slope
            if abs(newton - x) <= 1e-14 * abs(x):
                return newton if a <= newton <= b else x
            if a < newton < b:
                new = newton
        if new in (a, b):
            return new
        x = new
    return x


@functools.lru_cache(maxsize=1024)
def clopper_pearson(k: int, n: int, alpha: float) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided (1 - alpha) interval for a binomial share.

    The same interval as `scipy.stats.beta.ppf(alpha / 2, k, n - k + 1)` /
    `beta.isf(alpha / 2, k + 1, n - k)`: the lower bound is the p with P(X >= k) = alpha/2, the
    upper the p with P(X <= k) = alpha/2. Each is solved in log space, log P(tail) = log(alpha/2),
    by Newton steps kept inside a bracket (the slope of a binomial tail in p is n times a pmf
    term of Binomial(n - 1, p)), to ~1e-14 relative, from the normal approximation. Above
    k = n/2 the interval is the mirror image of the one for n - k (the same interval, computed
    once for both backends of a two-way split). (0, 1) when n is 0.
    """
    if n == 0:
        return (0.0, 1.0)
    _check_counts(k, n)
    if 2 * k > n:
        lower, upper = clopper_pearson(n - k, n, alpha)
        return (1.0 - upper, 1.0 - lower)
    target = math.log(alpha / 2)
    # At p = k/n both tails hold at least half the mass (the median of Binomial(n, k/n) is k),
    # so the lower bound lies in (0, k/n] and the upper in [k/n, 1).
    start = k / n
    spread = statistics.NormalDist().inv_cdf(1 - alpha / 2) * math.sqrt(start * (1 - start) / n)

    def upper_tail(p: float) -> tuple[float, float]:  # log P(X >= k), increasing in p
        tail = mass(k, n, n, p)
        if tail <= 0.0:
            return (-math.inf, math.nan)
        return (math.log(tail) - target, n * pmf_at(k - 1, n - 1, p) / tail)

    def lower_tail(p: float) -> tuple[float, float]:  # log P(X <= k), decreasing in p
        tail = mass(0, k, n, p)
        if tail <= 0.0:
            return (-math.inf, math.nan)
        return (math.log(tail) - target, -n * pmf_at(k, n - 1, p) / tail)

    lo_start, hi_start = max(start - spread, start / 2), min(start + spread, (1 + start) / 2)
    lo = 0.0 if k == 0 else newton_in_bracket(upper_tail, 0.0, start, lo_start, increasing=True)
    hi = 1.0 if k == n else newton_in_bracket(lower_tail, start, 1.0, hi_start, increasing=False)
    return (lo, hi)
