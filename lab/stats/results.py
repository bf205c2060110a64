"""What a verdict is made of: the outcome, the validated counts, per-backend lines, the test that ran.

Plain frozen values, JSON-ready; lab.stats.verdict computes them, lab.ui renders them.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lab.errors import ExitCode
from lab.stats.power import Detectable

SCHEMA_VERSION = 1


class ResponseCounts:
    """Answers per backend (`hits`) and failed requests per cause (`failures`), with their totals.

    Shared by the traffic driver's tally and the sequential check: one name per concept.
    """

    hits: Counter[str]
    failures: Counter[str]

    @property
    def answered(self) -> int:
        """Answers attributed to a backend (successful responses)."""
        return sum(self.hits.values())

    @property
    def failed(self) -> int:
        """Failed requests, any cause (never answers)."""
        return sum(self.failures.values())


def share_of(part: int, whole: int) -> float:
    """The share part / whole, 0 when whole is 0."""
    return part / whole if whole else 0.0


class Outcome(enum.StrEnum):
    """The three possible verdicts."""

    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"

    @property
    def exit_code(self) -> ExitCode:
        """The process exit code for this outcome."""
        return {
            Outcome.PASS: ExitCode.OK,
            Outcome.FAIL: ExitCode.CHECK_FAILED,
            Outcome.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
        }[self]


@dataclass(frozen=True)
class Counts:
    """Validated input of a verdict: weights and hits per backend, failed requests, the levels."""

    expected: Mapping[str, int]
    hits: Mapping[str, int]
    failed: int
    failed_by_cause: tuple[tuple[str, int], ...]
    alpha: float
    max_failed_share: float

    @property
    def answered(self) -> int:
        """Successful responses, all backends."""
        return sum(self.hits.values())

    @property
    def failed_share(self) -> float:
        """Failed requests as a share of all requests (answered + failed)."""
        return share_of(self.failed, self.answered + self.failed)

    @property
    def too_many_failed(self) -> bool:
        """Whether failed requests are above the limit (the verdict is then inconclusive)."""
        return self.failed_share > self.max_failed_share


@dataclass(frozen=True)
class BackendResult:
    """One backend's line in the verdict; `weight` is None for a backend not expected at all."""

    name: str
    weight: int | None
    expected_share: float
    observed_share: float
    hits: int
    interval: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "weight": self.weight,
            "expected_share": self.expected_share,
            "observed_share": self.observed_share,
            "hits": self.hits,
            "interval": [self.interval[0], self.interval[1]],
        }


@dataclass(frozen=True)
class TestResult:
    """The test that ran, and what it could detect.

    `p_value` is None for a rule or a sequential design; `finding` says what the test found in
    words (None for the any-hit rule); `decided` is False when a sequential check stopped
    (interrupted) before its design reached a verdict.
    """

    name: str
    p_value: float | None
    rejected: bool
    finding: str | None
    power: str
    detectable: Detectable | None
    decided: bool = True  # False: a sequential check that stopped before its design decided


@dataclass(frozen=True)
class Verdict:
    """The judged split: outcome, the test and its p-value, per-backend figures, reasons, power.

    `n` is the number answered (successful responses, all backends); `failed` counts failed
    requests, apart; `hits` per backend sum to `n`.
    Intervals are per-backend Clopper-Pearson (1 - alpha) intervals on the share of `n`.
    `sequential` describes the sequential design and where it stopped (None for a fixed-n test).
    """

    outcome: Outcome
    test: str
    alpha: float
    p_value: float | None
    n: int
    failed: int
    failed_by_cause: tuple[tuple[str, int], ...]
    max_failed_share: float
    backends: tuple[BackendResult, ...]
    reasons: tuple[str, ...]
    power: str
    detectable: Detectable | None
    sequential: Mapping[str, Any] | None = None

    @property
    def passed(self) -> bool:
        """True iff the outcome is pass."""
        return self.outcome is Outcome.PASS

    def backend(self, name: str) -> BackendResult:
        """The line for one backend, by name."""
        for result in self.backends:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (schema version `SCHEMA_VERSION`)."""
        d = self.detectable
        detectable = None
        if d is not None:
            keys = ("backend", "probability", "below", "above", "method")
            detectable = {key: getattr(d, key) for key in keys}
        return {
            "schema_version": SCHEMA_VERSION,
            "outcome": self.outcome.value,
            "test": self.test,
            "alpha": self.alpha,
            "p_value": self.p_value,
            "n": self.n,
            "failed": self.failed,
            "failed_by_cause": dict(self.failed_by_cause),
            "max_failed_share": self.max_failed_share,
            "backends": [b.to_dict() for b in self.backends],
            "reasons": list(self.reasons),
            "power": self.power,
            "detectable": detectable,
            "sequential": None if self.sequential is None else dict(self.sequential),
        }
