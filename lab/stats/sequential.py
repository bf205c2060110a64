"""Sequential split check: judge counts as they arrive and stop as soon as the verdict is clear.

Stopping rule: the test of `lab.stats.verdict.judge` is run at a fixed set of interim looks (n_max/looks,
2 n_max/looks, ..., n_max successful responses), each at alpha/looks (Bonferroni). The check stops
with FAIL at the first look that rejects, and can PASS only at the last look (n_max). It stops at
once with FAIL when a backend with weight 0 or not expected answers (no false fails possible), and
with INCONCLUSIVE once failed requests exceed the limit even if all n_max responses succeeded.

Guarantee: if the true split equals the weights, the probability of a FAIL over the whole run is at
most sum(alpha/looks) = alpha, whatever the correlation between looks (union bound). The price is
power: at n_max the test runs at alpha/looks, so plan n_max with
`required_sample_size(..., alpha=alpha / looks)`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from lab.errors import InvalidInput
from lab.stats.verdict import DEFAULT_ALPHA, DEFAULT_MAX_FAILED_SHARE, Outcome, Verdict, judge


class SequentialCheck:
    """One sequential check, fed cumulative counts through `update`."""

    def __init__(
        self,
        expected: Mapping[str, int],
        n_max: int,
        alpha: float = DEFAULT_ALPHA,
        looks: int = 4,
        max_failed_share: float = DEFAULT_MAX_FAILED_SHARE,
    ) -> None:
        if looks < 1 or n_max < looks:
            raise InvalidInput(f"need 1 <= looks <= n_max, got looks={looks}, n_max={n_max}")
        if not 0 < alpha < 1:
            raise InvalidInput(f"alpha must be strictly between 0 and 1, got {alpha}")
        self.expected = dict(expected)
        self.n_max = n_max
        self.alpha = alpha
        self.looks = looks
        self.max_failed_share = max_failed_share
        self.looks_at: tuple[int, ...] = tuple(math.ceil(n_max * i / looks) for i in range(1, looks + 1))
        self.per_look_alpha = alpha / looks
        self._next_look = 0
        self.verdict: Verdict | None = None

    @property
    def done(self) -> bool:
        """True once a verdict is reached; further updates return it unchanged."""
        return self.verdict is not None

    def _stop(self, verdict: Verdict, note: str) -> Verdict:
        self.verdict = dataclasses.replace(verdict, test=f"{verdict.test}; {note}")
        return self.verdict

    def update(self, observed: Mapping[str, int], failed: int | Mapping[str, int] = 0) -> Verdict | None:
        """Give the cumulative counts so far; returns the verdict, or None to keep going."""
        if self.verdict is not None:
            return self.verdict
        n = sum(observed.values())
        failed_total = sum(failed.values()) if isinstance(failed, Mapping) else failed
        plan = (
            f"sequential, {self.looks} looks at n={list(self.looks_at)}, "
            f"alpha {self.alpha:g} split as {self.per_look_alpha:g} per look (Bonferroni)"
        )
        verdict = judge(
            self.expected,
            observed,
            failed=failed,
            alpha=self.per_look_alpha,
            max_failed_share=self.max_failed_share,
        )
        misrouted = any(hits and not self.expected.get(name, 0) for name, hits in observed.items())
        if misrouted:
            return self._stop(verdict, f"{plan}; stopped at n={n}: misrouted response")
        if failed_total / (self.n_max + failed_total) > self.max_failed_share:
            return self._stop(verdict, f"{plan}; stopped at n={n}: too many failed requests")
        if self._next_look >= self.looks or n < self.looks_at[self._next_look]:
            return None
        while self._next_look < self.looks and self.looks_at[self._next_look] <= n:
            self._next_look += 1
        look = f"{plan}; look {self._next_look} of {self.looks} at n={n}"
        if n >= self.n_max or verdict.outcome is Outcome.FAIL:
            return self._stop(verdict, look)
        return None
