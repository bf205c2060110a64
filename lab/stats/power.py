"""What a split check can detect at a given n, and the n it needs to detect a given shift.

Two backends: exact, from the acceptance region of the two-sided binomial test (lab.stats.binomial,
numpy only). Three or more: the power of the test that runs at n (lab.stats.multinomial): exact
where every outcome is enumerated, else a noncentral chi-square approximation (moment-matched) to
Pearson's test (scipy.special, imported on first use; not scipy.stats, which costs ~50 MB more).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from lab.errors import InvalidInput
from lab.stats import binomial, memo
from lab.stats.acceptance import acceptance_region, boundary
from lab.stats.formats import format_level, format_share, format_share_near

# The sample-size search gives up beyond this many responses (a shift too small to detect).
MAX_SAMPLE_SIZE = 10_000_000

EXACT_BINOMIAL = "exact binomial acceptance region"
NONCENTRAL_CHI_SQUARE = "noncentral chi-square approximation, moment-matched"
ZERO_HIT_RULE = "any-hit rule on backends with weight 0"


def _check_level(name: str, value: float) -> None:
    if not 0 < value < 1:
        raise InvalidInput(f"{name} must be strictly between 0 and 1, got {value}")


def binomial_power(n: int, share: float, alpha: float, true_share: float) -> float:
    """Probability that the exact two-sided binomial test rejects when the true share differs."""
    lo, hi = acceptance_region(n, share, alpha)
    accept = binomial.mass(lo, hi, n, true_share)
    return min(max(1.0 - accept, 0.0), 1.0)


def shifted_shares(shares: Sequence[float], index: int, shift: float) -> tuple[float, ...]:
    """`shares` with shares[index] moved by `shift` and the others moved in proportion."""
    rest = 1.0 - shares[index]
    return tuple(
        share + shift if i == index else share - shift * share / rest for i, share in enumerate(shares)
    )


def chi_square_power(
    n: int, expected_shares: Sequence[float], true_shares: Sequence[float], alpha: float
) -> float:
    """Approximate power of Pearson's chi-square goodness-of-fit test at `true_shares`.

    Under the alternative the statistic is close to a quadratic form in a normal vector; its
    distribution is approximated by a noncentral chi-square matched on four cumulants (Liu, Tang
    and Zhang 2009, Comput. Stat. Data Anal. 53:853). The textbook approximation, noncentral
    chi-square with k - 1 degrees of freedom and noncentrality n * sum((p1 - p0)^2 / p0), is
    off by several simulation standard errors at 50/30/20 (0.941 measured against 0.95 claimed).
    """
    import numpy as np
    from scipy import special  # k >= 3 only: scipy takes ~0.5 s to import

    p0 = np.asarray(expected_shares, dtype=np.float64)
    p1 = np.asarray(true_shares, dtype=np.float64)
    scale = 1.0 / np.sqrt(p0)
    mean = math.sqrt(n) * (p1 - p0) * scale
    cov = (np.diag(p1) - np.outer(p1, p1)) * np.outer(scale, scale)
    powers = [cov]
    for _ in range(3):
        powers.append(powers[-1] @ cov)
    # c_j = tr(cov^j) + j * mean' cov^(j-1) mean, for j = 1..4
    c1 = float(np.trace(cov) + mean @ mean)
    c2, c3, c4 = (float(np.trace(powers[j - 1]) + j * mean @ powers[j - 2] @ mean) for j in (2, 3, 4))
    critical = float(special.chdtri(len(p0) - 1, alpha))  # scipy.stats.chi2.isf(alpha, k - 1)
    if c2 <= 1e-12 * max(c1, 1.0) or c3 <= 0:
        # all responses on one backend: the statistic is the constant c1
        return 1.0 if c1 > critical else 0.0
    s1, s2 = c3 / c2**1.5, c4 / c2**2
    if s1**2 > s2:
        a = 1.0 / (s1 - math.sqrt(s1**2 - s2))
        nc = s1 * a**3 - a**2
        df = a**2 - 2 * nc
    else:
        a, nc, df = 1.0 / s1, 0.0, c2**3 / c3**2
    # clamped at 0, the lower end of the support (scipy.special answers nan below it, scipy.stats 1)
    x = max((critical - c1) / math.sqrt(2 * c2) * math.sqrt(2) * a + df + nc, 0.0)
    if nc > 0:
        return float(1.0 - special.chndtr(x, df, nc))  # scipy.stats.ncx2.sf(x, df, nc)
    return float(special.chdtrc(df, x))  # scipy.stats.chi2.sf(x, df)


@dataclass(frozen=True)
class Detectable:
    """The shares of one backend that the test would flag with a given probability.

    `below` / `above` are None where no share on that side would be flagged that often.
    """

    backend: str
    expected_share: float
    n: int
    alpha: float
    probability: float
    below: float | None
    above: float | None
    method: str

    def sentence(self) -> str:
        """The power of the test at this n, in one plain sentence."""
        level = format_level(self.probability)
        at = f"At n={self.n} and alpha={self.alpha:g}"
        if self.method == ZERO_HIT_RULE:
            return (
                f"{at} a misrouted share of {format_share(self.above or 1.0)} or more would show "
                f"up at least once with {level} probability ({self.method})."
            )
        sides = []
        if self.below is not None:
            sides.append(f"below {format_share_near(self.below, self.expected_share)}")
        if self.above is not None:
            sides.append(f"above {format_share_near(self.above, self.expected_share)}")
        how = f"; {self.method}, other backends shifted in proportion"
        if self.method == EXACT_BINOMIAL:
            how = f"; {self.method}"
        if not sides:
            return (
                f"{at} the test could not detect any share for {self.backend} with {level} "
                f"probability (expected {format_share(self.expected_share)}{how}): too few "
                f"responses."
            )
        return (
            f"{at} the test would detect a share for {self.backend} {' or '.join(sides)} with "
            f"{level} probability (expected {format_share(self.expected_share)}{how})."
        )


@functools.lru_cache(maxsize=1024)
def detectable_binomial(
    backend: str, n: int, share: float, alpha: float, probability: float = 0.95
) -> Detectable:
    """Exact: the shares below / above `share` that the binomial test flags with `probability`.

    Each is the root of power - probability on its side of `share` (the power is
    P(X outside the acceptance region), summed by lab.stats.binomial), by Newton steps kept in
    a bracket, to ~1e-14 relative: the slope of P(lo <= X <= hi) in the true share t is
    n (f(lo - 1) - f(hi)), f the pmf of Binomial(n - 1, t).
    """
    lo, hi = acceptance_region(n, share, alpha)

    def gap(true_share: float) -> tuple[float, float]:
        accept = binomial.mass(lo, hi, n, true_share)
        slope = n * (binomial.pmf_at(lo - 1, n - 1, true_share) - binomial.pmf_at(hi, n - 1, true_share))
        return (1.0 - accept - probability, -slope)

    spread = math.sqrt(share * (1.0 - share) / n) * 4.0
    below = above = None
    if lo > 0:
        below = binomial.newton_in_bracket(gap, 0.0, share, max(share - spread, share / 2), increasing=False)
    if hi < n:
        start = min(share + spread, (1.0 + share) / 2)
        above = binomial.newton_in_bracket(gap, share, 1.0, start, increasing=True)
    return Detectable(backend, share, n, alpha, probability, below, above, EXACT_BINOMIAL)


@functools.lru_cache(maxsize=1024)
def detectable_chi_square(
    backend: str,
    n: int,
    shares: tuple[float, ...],
    index: int,
    alpha: float,
    probability: float = 0.95,
) -> Detectable:
    """Approximate: shares of backend `index` that Pearson's test flags with `probability`.

    The other backends' shares move in proportion to their own (`shifted_shares`); power from
    `chi_square_power` (noncentral chi-square, moment-matched); each side by bisection, to 1e-9.
    """
    share = shares[index]

    def gap(shift: float) -> float:
        return chi_square_power(n, shares, shifted_shares(shares, index, shift), alpha) - probability

    below = above = None
    if gap(-share) >= 0:
        below = share + binomial.bisect(gap, -share, 0.0, xtol=1e-9, rtol=0.0)
    if gap(1.0 - share) >= 0:
        above = share + binomial.bisect(gap, 0.0, 1.0 - share, xtol=1e-9, rtol=0.0)
    return Detectable(backend, share, n, alpha, probability, below, above, NONCENTRAL_CHI_SQUARE)


def detectable_zero_hit(n: int, alpha: float, probability: float = 0.95) -> Detectable:
    """With only the any-hit rule: the misrouted share that shows up at least once."""
    above = 1.0 - (1.0 - probability) ** (1.0 / n)
    return Detectable("other backends", 0.0, n, alpha, probability, None, above, ZERO_HIT_RULE)


def _weights_tuple(expected_weights: Mapping[str, int] | Sequence[int]) -> tuple[int, ...]:
    weights = tuple(expected_weights.values() if isinstance(expected_weights, Mapping) else expected_weights)
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        raise InvalidInput(f"expected weights must be non-negative with at least one above 0, got {weights}")
    return weights


def required_sample_size(
    expected_weights: Mapping[str, int] | Sequence[int],
    detect: float = 0.03,
    power: float = 0.95,
    alpha: float = 0.001,
) -> int:
    """The number of successful responses needed to detect a shift of the smallest share.

    The shift is absolute (0.03 = 3 points) on the share of the smallest-weight backend among
    those with weight above 0, in both directions, clamped at 0 and 1 (so for 99/1 and
    detect=0.03 the test must flag both 4% and a dead canary at 0%).

    - One backend with weight above 0: the any-hit rule; n such that a share `detect` on the
      other backends shows at least once with probability `power` (alpha plays no part).
    - Two: exact; the smallest n, found by bisection over n, at which the exact binomial test
      at `alpha` rejects both alternatives with probability >= `power`. Power of a discrete
      test is saw-toothed in n, so a slightly larger n can have slightly less power; use the
      n returned.
    - Three or more: the power of the test `lab check` runs at n (other shares moved in
      proportion): exact where that test enumerates every outcome, else `chi_square_power`, a
      moment-matched noncentral chi-square approximation to Pearson's test; bisection over n.

    Backends with weight 0 fail on any hit; when present, n also covers detecting a share
    `detect` on them with probability `power`.

    Raises:
        InvalidInput: a weight is negative, all are 0, or detect/power/alpha is out of (0, 1).
    """
    return _required_sample_size(_weights_tuple(expected_weights), detect, power, alpha)


@functools.lru_cache(maxsize=512)
def _required_sample_size(weights: tuple[int, ...], detect: float, power: float, alpha: float) -> int:
    _check_level("detect", detect)
    _check_level("power", power)
    _check_level("alpha", alpha)
    return memo.remembered(
        "sample-size",
        (weights, detect, power, alpha),
        lambda: _computed_sample_size(weights, detect, power, alpha),
        int,
        int,
    )


def zero_hit_sample_size(detect: float, power: float) -> int:
    """Answers needed to see, with probability `power`, a share `detect` sent where it must not go.

    The first n with (1 - detect)^n <= 1 - power (log1p: log(1 - detect) is 0 below 1.1e-16).

    Raises:
        InvalidInput: detect or power is out of (0, 1), or n is above MAX_SAMPLE_SIZE.
    """
    _check_level("detect", detect)
    _check_level("power", power)
    n = math.log1p(-power) / math.log1p(-detect)
    if n > MAX_SAMPLE_SIZE:
        raise _too_small()
    return math.ceil(n)


def _too_small() -> InvalidInput:
    return InvalidInput(
        f"detecting a shift this small needs more than {MAX_SAMPLE_SIZE} responses",
        fix="ask for a larger --detect, a lower --power or a larger --alpha",
    )


def _computed_sample_size(weights: tuple[int, ...], detect: float, power: float, alpha: float) -> int:
    positive = sorted(w for w in weights if w > 0)
    zero_hit_n = zero_hit_sample_size(detect, power)
    if len(positive) == 1:
        return zero_hit_n
    floor_n = zero_hit_n if len(positive) < len(weights) else 1
    share = positive[0] / sum(positive)
    alternatives = sorted({max(share - detect, 0.0), min(share + detect, 1.0)})
    if len(positive) == 2:
        return max(floor_n, _binomial_sample_size(share, alternatives, power, alpha))
    from lab.stats import multinomial  # three or more backends only: it imports scipy.special

    shares = tuple(w / sum(positive) for w in positive)
    targets = [shifted_shares(shares, 0, a - share) for a in alternatives]

    def enough(n: int) -> bool:
        try:
            return all(multinomial.power_of_test_that_runs(n, shares, alpha, t) >= power for t in targets)
        finally:
            multinomial.forget()  # each n once: its enumeration would only hold memory

    return max(floor_n, _smallest_n(enough))


def _binomial_sample_size(share: float, alternatives: Sequence[float], power: float, alpha: float) -> int:
    def enough(n: int) -> bool:
        return all(binomial_power(n, share, alpha, a) >= power for a in alternatives)

    return _smallest_n(enough)


def _smallest_n(enough: Callable[[int], bool]) -> int:
    """Bisection for the first n where `enough` turns true (doubling from 1, up to MAX_SAMPLE_SIZE)."""
    no, hi = 0, 1
    while not enough(hi):
        if hi >= MAX_SAMPLE_SIZE:
            raise _too_small()
        no, hi = hi, min(hi * 2, MAX_SAMPLE_SIZE)
    return boundary(enough, hi, no)


def sample_size_sentence(
    expected_weights: Mapping[str, int] | Sequence[int],
    n: int,
    detect: float = 0.03,
    power: float = 0.95,
    alpha: float = 0.001,
) -> str:
    """One sentence saying what `n` (from `required_sample_size`) buys."""
    weights = _weights_tuple(expected_weights)
    positive = sorted(w for w in weights if w > 0)
    level = format_level(power)
    if len(positive) == 1:
        return (
            f"{n} successful responses: a share of {format_share(detect)} or more sent to a "
            f"backend with weight 0 shows up at least once with {level} probability."
        )
    share = positive[0] / sum(positive)
    low, high = max(share - detect, 0.0), min(share + detect, 1.0)
    method = "the exact two-sided binomial test" if len(positive) == 2 else _multinomial_method(n, positive)
    return (
        f"{n} successful responses: at alpha={alpha:g}, {method} flags the smallest share "
        f"(expected {format_share(share)}) at {format_share(low)} or at {format_share(high)} "
        f"with at least {level} probability."
    )


def _multinomial_method(n: int, positive: Sequence[int]) -> str:
    """The test `lab check` runs on n answers over three or more backends, and how its power is known."""
    from lab.stats import multinomial

    kind = multinomial.kind_of_test(n, [w / sum(positive) for w in positive])
    if kind == "exact":
        return "the exact multinomial test (every outcome enumerated; its power computed exactly)"
    if kind == "chi-square":
        return f"Pearson's chi-square test ({NONCENTRAL_CHI_SQUARE})"
    return (
        "the exact multinomial test with a Monte Carlo p-value (power by the noncentral chi-square "
        "approximation to Pearson's test, an approximation for this test)"
    )
