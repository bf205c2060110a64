"""The sequential design for two weighted backends: boundaries and their exact operating characteristics.

Two one-sided sequential probability ratio tests on the canary's share p0 (the smaller weight),
one against p0 - detect and one against p0 + detect (clamped to 0 and 1; at 0 it is "the canary
gets nothing"), judged after every answered request. With k canary hits in n answers:

- FAIL as soon as either likelihood ratio (alternative against p0) reaches e^a;
- PASS as soon as both are at most e^-b (the data rule out both alternatives), once n reaches
  `min_pass_n` (enough answers to have caught a backend that must get nothing);
- PASS at `n_max` if neither happened (truncation).

Wald's a = log(power / (alpha/2)), b = log((1 - alpha/2) / (1 - power)) are a start, not a
promise: the design is then computed exactly, by a forward recursion over the binomial lattice
(the probability of every (n, k) still undecided, for several true shares at once), and
tightened until the exact figures hold: n_max is the first n at which the probability of a FAIL
reaches `power` at both alternatives and when either backend gets nothing; the FAIL probability
at p0 (the false-fail rate) must stay at or below alpha, else a grows. Failed requests are not
answers: they never enter the lattice.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lab.errors import InvalidInput
from lab.stats import memo

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# The exact recursion costs ~n_max steps; designs whose fixed-n test needs more answers than this
# are refused (exit 3, use the fixed-n test): they would take minutes to compute.
MAX_SEQUENTIAL_N = 100_000
# Tightening: a grows by this (the false-fail rate falls), b by this (the power rises).
_A_STEP = math.log(1.25)
_B_STEP = math.log(1.5)
_MAX_TIGHTENINGS = 12


@dataclass(frozen=True)
class Design:
    """A sequential design and its exact operating characteristics.

    `expected_n` pairs a true share with the expected number of answers before the check stops.
    """

    share: float
    below: float
    above: float
    alpha: float
    power: float
    fail_threshold: float
    pass_threshold: float
    min_pass_n: int
    n_max: int
    false_fail: float
    power_below: float
    power_above: float
    power_none: float
    power_all: float
    expected_n: tuple[tuple[float, float], ...]

    @property
    def least_power(self) -> float:
        """The smallest of the four powers the design promises."""
        return min(self.power_below, self.power_above, self.power_none, self.power_all)

    def expected_at(self, true_share: float) -> float:
        """Expected answers before the check stops, at one of the shares computed."""
        for share, expected in self.expected_n:
            if share == true_share:
                return expected
        raise KeyError(true_share)

    def boundaries(self, last: int) -> Boundaries:
        """The integer boundaries for n = 1..last (the same numbers the recursion used)."""
        return boundaries(self.share, self.below, self.above, self.fail_threshold, self.pass_threshold, last)


@dataclass(frozen=True)
class Boundaries:
    """Per n = 1..len: FAIL if k <= fail_below or k >= fail_above; PASS if pass_from <= k <= pass_to."""

    fail_below: tuple[int, ...]
    fail_above: tuple[int, ...]
    pass_from: tuple[int, ...]
    pass_to: tuple[int, ...]

    def at(self, n: int) -> tuple[int, int, int, int]:
        """The four boundaries at n (1-based)."""
        i = n - 1
        return self.fail_below[i], self.fail_above[i], self.pass_from[i], self.pass_to[i]


def boundaries(share: float, below: float, above: float, a: float, b: float, last: int) -> Boundaries:
    """The boundaries in hit counts for n = 1..last, from the two log-likelihood ratios.

    log LR(above : share) = k log(above/share) + (n - k) log((1-above)/(1-share)) grows with k;
    log LR(below : share) falls with k. FAIL where either is >= a; PASS where both are <= -b.
    At below = 0 (or above = 1) the ratio is 0 after one hit (one miss), and the boundary is the
    n at which a run of misses (hits) alone reaches a. Plain floats: no numpy needed to run a check.
    """
    fail_below, fail_above, pass_from, pass_to = [], [], [], []
    for i in range(1, last + 1):
        n = float(i)
        if above >= 1.0:
            fa, pt = (n if n * math.log(1.0 / share) >= a else n + 1), n - 1
        else:
            up, down = math.log(above / share), math.log((1.0 - above) / (1.0 - share))
            fa, pt = math.ceil((a - n * down) / (up - down)), math.floor((-b - n * down) / (up - down))
        if below <= 0.0:
            fb, pf = (0.0 if n * math.log(1.0 / (1.0 - share)) >= a else -1.0), 1.0
        else:
            up, down = math.log(below / share), math.log((1.0 - below) / (1.0 - share))
            fb, pf = math.floor((n * down - a) / (down - up)), math.ceil((n * down + b) / (down - up))
        fail_below.append(int(max(fb, -1)))
        fail_above.append(int(min(fa, n + 1)))
        pass_from.append(int(max(pf, 0)))
        pass_to.append(int(min(pt, n)))
    return Boundaries(tuple(fail_below), tuple(fail_above), tuple(pass_from), tuple(pass_to))


@dataclass(frozen=True)
class Lattice:
    """What the recursion found, per true share (rows) and n (columns 0..last).

    `failed[i, n]`: probability the check has stopped with FAIL by n answers;
    `undecided[i, n]`: probability it is still running after n answers (the rest has passed).
    """

    shares: tuple[float, ...]
    failed: npt.NDArray[np.float64]
    undecided: npt.NDArray[np.float64]

    def expected_n(self, n_max: int) -> list[float]:
        """E[min(stopping n, n_max)] per share: the sum of P(still running after n) for n < n_max."""
        return [float(row[:n_max].sum()) for row in self.undecided]


def run_lattice(
    shares: Sequence[float],
    bounds: Boundaries,
    last: int,
    min_pass_n: int = 1,
    stop_when: float | None = None,
    watch: Sequence[int] = (),
) -> Lattice:
    """The forward recursion over (n, k) for every true share at once, up to n = last.

    Each step moves the undecided mass from (n-1, k) to (n, k) and (n, k+1), then takes off
    what lies in the FAIL and PASS regions at n. Only the band of k that can still be
    undecided is touched. With `stop_when`, stops at the first n (from `min_pass_n` on) where the
    FAIL probability of every share in `watch` (indices) reaches it. Memory: three arrays of
    len(shares) x last.
    """
    import numpy as np

    p = np.asarray(shares, dtype=np.float64)[:, None]
    q = 1.0 - p
    mass = np.zeros((len(shares), last + 2))
    mass[:, 0] = 1.0
    failed = np.zeros((len(shares), last + 1))
    undecided = np.ones((len(shares), last + 1))
    lo, hi, end = 0, 0, last
    for n in range(1, last + 1):
        hi += 1
        band = mass[:, lo : hi + 1] * q
        band[:, 1:] += mass[:, lo:hi] * p
        mass[:, lo : hi + 1] = band
        fail_below, fail_above, pass_from, pass_to = bounds.at(n)
        out = np.zeros(len(shares))
        if fail_below >= lo:
            out += mass[:, lo : fail_below + 1].sum(axis=1)
            mass[:, lo : fail_below + 1] = 0.0
            lo = fail_below + 1
        if fail_above <= hi:
            out += mass[:, fail_above : hi + 1].sum(axis=1)
            mass[:, fail_above : hi + 1] = 0.0
            hi = fail_above - 1
        failed[:, n] = failed[:, n - 1] + out
        first, final = max(pass_from, lo), min(pass_to, hi)
        if n >= min_pass_n and first <= final:
            mass[:, first : final + 1] = 0.0
        undecided[:, n] = mass[:, lo : hi + 1].sum(axis=1) if lo <= hi else 0.0
        reached = stop_when is not None and n >= min_pass_n and all(failed[i, n] >= stop_when for i in watch)
        if lo > hi or reached:
            end = n
            break
    return Lattice(tuple(shares), failed[:, : end + 1], undecided[:, : end + 1])


def wald_thresholds(alpha: float, power: float) -> tuple[float, float]:
    """Wald's starting thresholds for two one-sided tests sharing alpha: (a, b)."""
    return math.log(power / (alpha / 2)), math.log((1 - alpha / 2) / (1 - power))


def plan(
    share: float,
    detect: float,
    power: float,
    alpha: float,
    *,
    fixed_n: int,
    min_pass_n: int = 1,
    max_n: int | None = None,
) -> Design:
    """The sequential design (see `compute_plan`), remembered across commands (lab.stats.memo)."""
    key = (share, detect, power, alpha, fixed_n, min_pass_n, max_n)
    return memo.remembered(
        "sequential-design",
        key,
        lambda: compute_plan(share, detect, power, alpha, fixed_n=fixed_n, min_pass_n=min_pass_n, max_n=max_n),
        _design_json,
        _design_from_json,
    )


def _design_json(design: Design) -> dict[str, Any]:
    return {**dataclasses.asdict(design), "expected_n": [list(pair) for pair in design.expected_n]}


def _design_from_json(data: dict[str, Any]) -> Design:
    fields = {f.name for f in dataclasses.fields(Design)}
    if set(data) != fields:
        raise KeyError("not a Design")
    pairs = tuple((float(s), float(e)) for s, e in data["expected_n"])
    return Design(**{**data, "expected_n": pairs})


def compute_plan(
    share: float,
    detect: float,
    power: float,
    alpha: float,
    *,
    fixed_n: int,
    min_pass_n: int = 1,
    max_n: int | None = None,
) -> Design:
    """The sequential design for a canary expected at `share` (module docstring), computed exactly.

    `fixed_n` (the fixed-n test's n for the same promise) bounds the search: n_max is looked for
    up to 2 fixed_n + 1000. `max_n` caps n_max when it is lower (the power is then what it is,
    computed exactly); a larger one changes nothing.

    Raises:
        InvalidInput: the fixed-n test needs more than `MAX_SEQUENTIAL_N` answers.
    """
    if fixed_n > MAX_SEQUENTIAL_N:
        raise InvalidInput(
            f"a sequential design for this shift needs the exact recursion over more than "
            f"{MAX_SEQUENTIAL_N} answers (the fixed-n test needs {fixed_n})",
            fix="use the fixed-n test (lab check --fixed; lab sample-size without --sequential), "
            "or ask for a larger --detect",
        )
    below, above = max(share - detect, 0.0), min(share + detect, 1.0)
    shares = (share, below, above, 0.0, 1.0, min(share + 2 * detect, 1.0))
    a, b = wald_thresholds(alpha, power)
    cap = 2 * fixed_n + 1000 if max_n is None else min(2 * fixed_n + 1000, max_n)
    for _ in range(_MAX_TIGHTENINGS):
        bounds = boundaries(share, below, above, a, b, cap)
        lattice = run_lattice(shares, bounds, cap, min_pass_n, stop_when=power, watch=(1, 2, 3, 4))
        fails = lattice.failed[:, -1]
        capped = max_n is not None and lattice.failed.shape[1] - 1 == max_n
        if not capped and min(fails[1:5]) < power:
            b += _B_STEP  # the power levels off below the promise: make passing harder
        elif fails[0] > alpha:
            a += _A_STEP  # too many false fails: make failing harder
        else:
            return _design(lattice, alpha, power, (a, b), min_pass_n)
    raise InvalidInput(  # not reached for alpha, power in (0, 1); kept as a plain refusal
        f"no sequential design met alpha={alpha:g} and power={power:g} for a share of {share:g}",
        fix="use the fixed-n test (lab check --fixed; lab sample-size without --sequential)",
    )


def _design(
    lattice: Lattice, alpha: float, power: float, thresholds: tuple[float, float], min_pass_n: int
) -> Design:
    """The Design read off a finished lattice of the shares (p0, below, above, 0, 1, ...)."""
    n_max = lattice.failed.shape[1] - 1
    fails = [float(x) for x in lattice.failed[:, -1]]
    share, below, above = lattice.shares[:3]
    return Design(
        share=share,
        below=below,
        above=above,
        alpha=alpha,
        power=power,
        fail_threshold=thresholds[0],
        pass_threshold=thresholds[1],
        min_pass_n=min_pass_n,
        n_max=n_max,
        false_fail=fails[0],
        power_below=fails[1],
        power_above=fails[2],
        power_none=fails[3],
        power_all=fails[4],
        expected_n=tuple(zip(lattice.shares, lattice.expected_n(n_max), strict=True)),
    )
