"""The acceptance region of the exact two-sided binomial test: the hit counts it does not reject.

Read off the whole pmf for small n, searched for with the exact p-value above (bounded memory
at any n); both give scipy.stats.binomtest's answer for every count.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable

from lab.stats import binomial

# scipy.stats.binomtest counts an outcome as "at most as likely" with this relative tolerance;
# the acceptance region uses the same rule so that both always agree.
_PMF_RELATIVE_TOLERANCE = binomial.PMF_RELATIVE_TOLERANCE


@functools.lru_cache(maxsize=1024)
def acceptance_region(n: int, share: float, alpha: float) -> tuple[int, int]:
    """The hit counts that the exact two-sided binomial test does not reject.

    Identical to `lab.stats.binomial.two_sided_p_value(k, n, share) > alpha` and to
    `scipy.stats.binomtest(k, n, share).pvalue > alpha` for every k, because it is found with
    that p-value: the test is "minimum likelihood" (the p-value of k is the total probability of
    the outcomes at most as likely as k), so the p-value only grows towards the mode, where it is
    1, and the accepted counts are one interval around the mode. Up to `WHOLE_PMF_MAX_N` all
    p-values come at once from the sorted pmf; above, each end is found by a galloping search
    from the normal approximation, then bisection: about 2 log2(sd) p-values, never the whole
    pmf (bounded memory at any n).

    Args:
        n: Number of trials (successful responses), at least 1.
        share: Expected probability of a hit, strictly between 0 and 1.
        alpha: Significance level; k is rejected when its p-value is <= alpha.

    Returns:
        (lo, hi): k is accepted iff lo <= k <= hi.
    """
    if n <= WHOLE_PMF_MAX_N:
        return _region_from_the_whole_pmf(n, share, alpha)
    return _region_by_search(n, share, alpha)


# Up to this n the acceptance region is read off the whole pmf at once (8 bytes a count: 0.5 MB);
# above it, searched for with the p-value, in memory that does not grow with n.
WHOLE_PMF_MAX_N = 1 << 16


def _region_from_the_whole_pmf(n: int, share: float, alpha: float) -> tuple[int, int]:
    """Every p-value at once: the cumulative sums of the sorted pmf, looked up per count."""
    import numpy as np

    pmf = binomial.pmf(0, n, n, share)
    order = np.sort(pmf)
    cumulative = np.cumsum(order)
    index = np.searchsorted(order, pmf * _PMF_RELATIVE_TOLERANCE, side="right") - 1
    accepted = np.flatnonzero(np.minimum(cumulative[index], 1.0) > alpha)
    # The pmf is unimodal, so the accepted set is one interval around the mode.
    return int(accepted[0]), int(accepted[-1])


def _region_by_search(n: int, share: float, alpha: float) -> tuple[int, int]:
    """Each end by galloping from the normal approximation, then bisection, on the exact p-value."""

    def accepted(k: int) -> bool:
        return binomial.two_sided_p_value(k, n, share) > alpha

    mode = min(max(math.floor((n + 1) * share), 0), n)
    sd = math.sqrt(n * share * (1.0 - share))
    z = statistics.NormalDist().inv_cdf(1.0 - alpha / 2)
    step = 2  # the normal approximation is within a few counts once sd is large
    lo = _edge(accepted, mode, math.floor(n * share - z * sd), -1, 0, step)
    hi = _edge(accepted, mode, math.ceil(n * share + z * sd), 1, n, step)
    return lo, hi


def _edge(accepted: Callable[[int], bool], inside: int, guess: int, direction: int, end: int, step: int) -> int:
    """The last accepted count going from `inside` (accepted) towards `end`, searching from `guess`.

    `accepted` holds on a run of counts from `inside` outward and fails from some count on.
    Distances d from `inside`: gallop from the guess (doubling steps) to bracket the last
    accepted distance, then bisect.
    """
    span = abs(end - inside)

    def ok(d: int) -> bool:
        return accepted(inside + direction * d)

    d = min(max(direction * (guess - inside), 0), span)
    if ok(d):
        good, bad, probe = d, span + 1, d + step
        while probe <= span:
            if not ok(probe):
                bad = probe
                break
            good, step = probe, step * 2
            probe = good + step
    else:
        good, bad, probe = 0, d, d - step
        while probe > 0:
            if ok(probe):
                good = probe
                break
            bad, step = probe, step * 2
            probe = bad - step
    return inside + direction * boundary(ok, good, bad)


def boundary(holds: Callable[[int], bool], yes: int, no: int) -> int:
    """Bisect between a count where `holds` is true and one where it is false: the last true one."""
    while abs(yes - no) > 1:
        middle = (yes + no) // 2
        if holds(middle):
            yes = middle
        else:
            no = middle
    return yes
