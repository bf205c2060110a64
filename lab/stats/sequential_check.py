"""A sequential split check fed one answer at a time, and the verdict of where it stopped.

Two weighted backends: the design of lab.stats.sequential, checked after every answer. One
weighted backend: the any-hit rule, failing at the first answer from a backend that must get
nothing and passing after the planned n. Three or more: not covered (`covers`); lab check runs
the fixed-n test and says so. In every case a response from a backend with weight 0 (or not
expected) fails at once, failed requests never count as answers, and the verdict is built by
lab.stats.verdict from the counts at the stop: nothing is judged again at another alpha (a
backend declared unable to answer, lab.stats.unanswerable, fails it wherever it stopped).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

from lab.errors import InvalidInput
from lab.stats import sequential
from lab.stats.formats import format_level, format_share
from lab.stats.power import ZERO_HIT_RULE, Detectable, required_sample_size, zero_hit_sample_size
from lab.stats.results import ResponseCounts, TestResult, Verdict
from lab.stats.unanswerable import check_unanswerable
from lab.stats.verdict import (
    DEFAULT_ALPHA,
    DEFAULT_MAX_FAILED_SHARE,
    POWER_LEVEL,
    backend_results,
    validate,
    verdict_of,
)

SEQUENTIAL_METHOD = "sequential design, exact on the binomial lattice"
THREE_OR_MORE = (
    "Three or more backends with weight above 0: the sequential design covers two, so lab check "
    "runs the fixed-n test at the planned n."
)


def covers(expected: Mapping[str, int]) -> bool:
    """Whether the sequential check applies: one or two backends with weight above 0."""
    return 1 <= sum(1 for weight in expected.values() if weight > 0) <= 2


class SequentialCheck(ResponseCounts):
    """One sequential check: `record` each answer, `record_failure` each failed request, then `verdict`."""

    def __init__(
        self,
        expected: Mapping[str, int],
        *,
        detect: float,
        power: float = POWER_LEVEL,
        alpha: float = DEFAULT_ALPHA,
        max_failed_share: float = DEFAULT_MAX_FAILED_SHARE,
        max_n: int | None = None,
        unanswerable: Mapping[str, str] | None = None,
    ) -> None:
        validate(expected, {}, 0, alpha, max_failed_share)
        check_unanswerable(expected, unanswerable or {})
        self.unanswerable = dict(unanswerable or {})
        if not covers(expected):
            raise InvalidInput(f"expected weights {dict(expected)}: {THREE_OR_MORE}")
        self.expected = dict(expected)
        self.alpha, self.max_failed_share = alpha, max_failed_share
        self.hits: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.stop: str | None = None
        weighted = [name for name, weight in expected.items() if weight > 0]
        self.canary = min(weighted, key=lambda name: expected[name])
        must_see = zero_hit_sample_size(detect, power)
        self.design: sequential.Design | None = None
        if len(weighted) == 1:
            self.n_max = must_see if max_n is None else min(must_see, max_n)
            self.detectable = Detectable(
                "other backends", 0.0, self.n_max, alpha, power, None, detect, ZERO_HIT_RULE
            )
            return
        fixed_n = required_sample_size(expected, detect=detect, power=power, alpha=alpha)
        share = expected[self.canary] / sum(expected[name] for name in weighted)
        min_pass_n = must_see if len(weighted) < len(expected) else 1
        self.fixed_n = fixed_n
        self.design = sequential.plan(
            share, detect, power, alpha, fixed_n=fixed_n, min_pass_n=min_pass_n, max_n=max_n
        )
        self.bounds = self.design.boundaries(self.design.n_max)
        self.n_max = self.design.n_max

    @property
    def allowed_failures(self) -> int:
        """The most failed requests that can still end within the limit (at n_max answers)."""
        return math.floor(self.max_failed_share * self.n_max / (1 - self.max_failed_share))

    @property
    def budget(self) -> int:
        """Requests to send at most: past this many, too many failed whatever comes next."""
        return self.n_max + self.allowed_failures + 1

    @property
    def done(self) -> bool:
        """True once the check has stopped."""
        return self.stop is not None

    def record(self, backend: str) -> bool:
        """One answer from `backend`; True once the check has stopped."""
        if self.stop is not None:
            return True
        self.hits[backend] += 1
        n = self.answered
        if not self.expected.get(backend, 0):
            self.stop = "misrouted response"
        elif self.design is not None:
            self.stop = self._boundary(n, self.hits[self.canary])
        elif n >= self.n_max:
            self.stop = "maximum n"
        return self.stop is not None

    def _boundary(self, n: int, k: int) -> str | None:
        fail_below, fail_above, pass_from, pass_to = self.bounds.at(n)
        assert self.design is not None  # noqa: S101 - only called with a design
        if k <= fail_below or k >= fail_above:
            return "fail boundary"
        if n >= self.design.min_pass_n and pass_from <= k <= pass_to:
            return "pass boundary"
        return "maximum n" if n >= self.n_max else None

    def record_failure(self, cause: str) -> bool:
        """One failed request; True once the check has stopped (too many failed for any pass)."""
        if self.stop is not None:
            return True
        self.failures[cause] += 1
        if self.failed > self.allowed_failures:
            self.stop = "failed requests"
        return self.stop is not None

    def verdict(self) -> Verdict:
        """The verdict at the stop (or, interrupted, an undecided one: inconclusive)."""
        counts = validate(
            self.expected, dict(self.hits), dict(self.failures), self.alpha, self.max_failed_share
        )
        test = self._test()
        return verdict_of(
            counts, backend_results(counts), test, self._summary(), unanswerable=self.unanswerable
        )

    def _test(self) -> TestResult:
        n, k, decided = self.answered, self.hits[self.canary], self.stop is not None
        if self.design is None:
            name = (
                f"any-hit rule, sequential (one backend with weight above 0: fails at the first "
                f"answer from another, passes after {self.n_max} answers)"
            )
            finding = None if decided else f"The check stopped after {n} of {self.n_max} answers"
            power = self._any_hit_power()
            return TestResult(name, None, False, finding, power, self.detectable, decided)
        d = self.design
        name = (
            f"sequential probability ratio tests on {self.canary} ({format_share(d.share)} against "
            f"{format_share(d.below)} and {format_share(d.above)}; at most {d.n_max} answers)"
        )
        rejected = self.stop == "fail boundary"
        detectable = Detectable(
            self.canary, d.share, d.n_max, d.alpha, d.least_power, d.below, d.above, SEQUENTIAL_METHOD
        )
        finding = self._finding(n, k)
        return TestResult(name, None, rejected, finding, self._power(), detectable, decided)

    def _finding(self, n: int, k: int) -> str:
        d = self.design
        assert d is not None  # noqa: S101 - only called with a design
        at = f"stopped at n={n} with {k} on {self.canary}"
        if self.stop == "pass boundary":
            return (
                f"{at}: both likelihood ratios, {format_share(d.below)} and {format_share(d.above)} "
                f"against {format_share(d.share)}, fell to 1/{math.exp(d.pass_threshold):.0f} or below"
            )
        if self.stop == "fail boundary":
            side = d.below if k < d.share * n else d.above
            return (
                f"{at}: a share of {format_share(side)} is {math.exp(d.fail_threshold):.0f} or more "
                f"times as likely as {format_share(d.share)}"
            )
        if self.stop == "maximum n":
            return f"{at}: the maximum n, reached without crossing a boundary"
        return f"The check stopped at n={n} with {k} on {self.canary}, before its design decided"

    def _power(self) -> str:
        d = self.design
        assert d is not None  # noqa: S101 - only called with a design
        level = f"{math.floor(d.least_power * 1000) / 10:.1f}%"  # rounded down: "at least"
        return (
            f"Sequential design (at most {d.n_max} answers, alpha={d.alpha:g}): {self.canary} at "
            f"{format_share(d.below)} or {format_share(d.above)}, or either backend getting "
            f"nothing, fails with probability at least {level} (exact, on the binomial lattice: "
            f"false-fail rate {d.false_fail:.2g}; expected answers {d.expected_at(d.share):.0f} at "
            f"the weights, where the fixed-n test needs {self.fixed_n})."
        )

    def _any_hit_power(self) -> str:
        shown = self.detectable.above or 0.0
        return (
            f"After {self.n_max} answers a misrouted share of {format_share(shown)} or more shows up "
            f"at least once with {format_level(self.detectable.probability)} probability (any-hit "
            f"rule; the check fails at the first misrouted answer)."
        )

    def _summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "n_max": self.n_max,
            "stopped_at": self.answered,
            "stop": self.stop or "not reached",
        }
        if self.design is not None:
            d = self.design
            summary |= {
                "fixed_n": self.fixed_n,
                "false_fail": d.false_fail,
                "power": d.least_power,
                "expected_n_at_weights": d.expected_at(d.share),
                # the design itself, so a report can redraw its boundaries (lab.stats.sequential.boundaries)
                "canary": self.canary,
                "share": d.share,
                "below": d.below,
                "above": d.above,
                "fail_threshold": d.fail_threshold,
                "pass_threshold": d.pass_threshold,
            }
        return summary


def plan_sentences(check: SequentialCheck) -> list[str]:
    """What a sequential check will cost and promise, for `lab sample-size --sequential`."""
    d = check.design
    if d is None:
        return [
            f"sequential any-hit rule: at most {check.n_max} answers; it fails at the first answer "
            f"from a backend with weight 0 and passes after {check.n_max}."
        ]
    twice = min(d.share + 2 * (d.above - d.share), 1.0)
    spent = [
        f"{d.expected_at(d.share):.0f} at the weights ({format_share(d.share)} on {check.canary})",
        f"{d.expected_at(d.below):.0f} at {format_share(d.below)}",
        f"{d.expected_at(d.above):.0f} at {format_share(d.above)}",
        f"{d.expected_at(twice):.0f} at {format_share(twice)} (twice the shift)",
        f"{d.expected_at(0.0):.0f} if {check.canary} gets nothing",
        f"{d.expected_at(1.0):.0f} if the other backend gets nothing",
    ]
    return [
        f"sequential check: at most {d.n_max} answers (the fixed-n test needs {check.fixed_n}); "
        "it stops as soon as the verdict is clear.",
        "expected answers: " + ", ".join(spent) + ".",
        f"exact on the binomial lattice: false-fail rate {d.false_fail:.2g} (alpha {d.alpha:g}); "
        f"power {d.power_below:.3f} at {format_share(d.below)} and {d.power_above:.3f} at "
        f"{format_share(d.above)}, {d.power_none:.3f} and {d.power_all:.3f} when a backend gets nothing.",
    ]
