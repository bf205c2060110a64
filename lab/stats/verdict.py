"""Judge an observed traffic split against the route weights with one pre-declared test.

Two backends with weight above 0: exact two-sided binomial test. Three or more: multinomial
goodness of fit (exact, Pearson chi-square, or Monte Carlo exact). Weight 0 and unknown backends
fail on any hit; failed requests are counted apart and make the verdict inconclusive above a limit.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lab.errors import ExitCode, InvalidInput
from lab.stats import binomial
from lab.stats.power import (
    Detectable,
    detectable_binomial,
    detectable_chi_square,
    detectable_zero_hit,
    format_level,
    format_share,
)

SCHEMA_VERSION = 1
DEFAULT_ALPHA = 0.001
DEFAULT_MAX_FAILED_SHARE = 0.01
# Enumerate every multinomial outcome when there are at most this many (k >= 3).
EXACT_MULTINOMIAL_MAX_OUTCOMES = 200_000
# Pearson's chi-square is used only when every expected count reaches this.
CHI_SQUARE_MIN_EXPECTED = 5.0
# Monte Carlo exact multinomial p-value: fixed seed, so a verdict is reproducible.
MONTE_CARLO_DRAWS = 100_000
MONTE_CARLO_SEED = 20_231_126
_LOG_TOLERANCE = math.log1p(1e-7)  # same "at most as likely" tolerance as scipy's binomtest
POWER_LEVEL = 0.95

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


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
class Verdict:
    """The judged split: outcome, the test and its p-value, per-backend figures, reasons, power.

    `n` counts successful responses (all backends); `failed` counts failed requests, apart.
    Intervals are per-backend Clopper-Pearson (1 - alpha) intervals on the share of `n`.
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
        detectable = None
        if self.detectable is not None:
            d = self.detectable
            detectable = {
                "backend": d.backend,
                "probability": d.probability,
                "below": d.below,
                "above": d.above,
                "method": d.method,
            }
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
        }


@dataclass(frozen=True)
class _TestResult:
    name: str
    p_value: float


def clopper_pearson(hits: int, n: int, alpha: float) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided (1 - alpha) interval for a binomial share."""
    return binomial.clopper_pearson(hits, n, alpha)


@functools.lru_cache(maxsize=64)
def _compositions(n: int, k: int) -> npt.NDArray[np.int64]:
    """Every way to split n responses over k backends, one row each."""
    import numpy as np

    if k == 1:
        return np.array([[n]], dtype=np.int64)
    blocks = []
    for first in range(n + 1):
        rest = _compositions(n - first, k - 1)
        blocks.append(np.column_stack([np.full(len(rest), first, dtype=np.int64), rest]))
    return np.vstack(blocks)


def _log_pmf(counts: npt.NDArray[np.int64], probs: npt.NDArray[np.float64]) -> Any:
    import numpy as np
    from scipy import special  # k >= 3 only: scipy takes ~0.9 s to import

    n = counts.sum(axis=-1)
    return (
        special.gammaln(n + 1)
        - special.gammaln(counts + 1).sum(axis=-1)
        + (counts * np.log(probs)).sum(axis=-1)
    )


def multinomial_outcomes(n: int, k: int) -> int:
    """How many ways n responses can fall on k backends."""
    return math.comb(n + k - 1, k - 1)


def _multinomial_test(counts: list[int], probs: list[float]) -> _TestResult:
    import numpy as np

    observed = np.array(counts, dtype=np.int64)
    p = np.array(probs, dtype=np.float64)
    n, k = int(observed.sum()), len(counts)
    log_observed = _log_pmf(observed, p) + _LOG_TOLERANCE
    outcomes = multinomial_outcomes(n, k)
    if outcomes <= EXACT_MULTINOMIAL_MAX_OUTCOMES:
        log_all = _log_pmf(_compositions(n, k), p)
        p_value = float(np.exp(log_all[log_all <= log_observed]).sum())
        return _TestResult(
            f"exact multinomial goodness-of-fit test (all {outcomes} outcomes enumerated)",
            min(p_value, 1.0),
        )
    expected = n * p
    if expected.min() >= CHI_SQUARE_MIN_EXPECTED:
        from scipy import stats  # k >= 3 only: scipy takes ~0.9 s to import

        result = stats.power_divergence(observed, expected, lambda_="pearson")
        return _TestResult(
            "Pearson chi-square goodness-of-fit test (scipy.stats.power_divergence; every "
            f"expected count >= {CHI_SQUARE_MIN_EXPECTED:g})",
            float(result.pvalue),
        )
    rng = np.random.default_rng(MONTE_CARLO_SEED)
    draws = rng.multinomial(n, p, size=MONTE_CARLO_DRAWS)
    extreme = int(np.count_nonzero(_log_pmf(draws, p) <= log_observed))
    return _TestResult(
        "exact multinomial goodness-of-fit test, Monte Carlo p-value "
        f"({MONTE_CARLO_DRAWS} draws, seed {MONTE_CARLO_SEED}; an expected count is below "
        f"{CHI_SQUARE_MIN_EXPECTED:g}, so chi-square is not valid)",
        (1 + extreme) / (1 + MONTE_CARLO_DRAWS),
    )


def _check_counts(counts: Mapping[str, int], what: str) -> None:
    for name, value in counts.items():
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"{what}: backend names must be non-empty strings, got {name!r}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInput(f"{what}: {name} must be a non-negative integer, got {value!r}")


def _responses(count: int) -> str:
    return f"{count} response" + ("" if count == 1 else "s")


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _backend_sentence(result: BackendResult, n: int, alpha: float) -> str:
    lo, hi = result.interval
    off = 100 * (result.observed_share - result.expected_share)
    return (
        f"{result.name} received {format_share(result.observed_share)} of responses "
        f"({result.hits} of {n}); expected {format_share(result.expected_share)}, "
        f"{abs(off):.1f} points {'more' if off >= 0 else 'less'} "
        f"({format_level(1 - alpha)} interval {format_share(lo)}..{format_share(hi)})."
    )


def judge(
    expected: Mapping[str, int],
    observed: Mapping[str, int],
    *,
    failed: int | Mapping[str, int] = 0,
    alpha: float = DEFAULT_ALPHA,
    max_failed_share: float = DEFAULT_MAX_FAILED_SHARE,
) -> Verdict:
    """Judge observed response counts against the expected weights.

    Args:
        expected: Weight per backend (non-negative integers, at least one above 0).
        observed: Successful responses per backend; a missing expected backend counts 0.
        failed: Failed requests (non-2xx, timeouts, connection errors): a total, or counts per
            cause. Reported apart, never added to a backend.
        alpha: False-fail rate of the test (and 1 - confidence of the intervals).
        max_failed_share: Above this share of failed requests the verdict is inconclusive.

    Returns:
        The verdict. Fail if a backend with weight 0 or not expected received any response, or
        the test rejects (p <= alpha); otherwise inconclusive if no response succeeded or too
        many failed; otherwise pass.

    Raises:
        InvalidInput: a weight or count is negative or not an integer, no weight is above 0,
            or alpha / max_failed_share is out of range.
    """
    _check_counts(expected, "expected weights")
    _check_counts(observed, "observed counts")
    if not expected or sum(expected.values()) == 0:
        raise InvalidInput(
            f"expected weights: at least one backend needs a weight above 0, got {dict(expected)}"
        )
    if not 0 < alpha < 1:
        raise InvalidInput(f"alpha must be strictly between 0 and 1, got {alpha}")
    if not 0 <= max_failed_share < 1:
        raise InvalidInput(f"max_failed_share must be in [0, 1), got {max_failed_share}")
    causes: dict[str, int] = dict(failed) if isinstance(failed, Mapping) else {}
    if isinstance(failed, Mapping):
        _check_counts(failed, "failed requests")
    elif isinstance(failed, bool) or not isinstance(failed, int) or failed < 0:
        raise InvalidInput(f"failed requests must be a non-negative integer, got {failed!r}")
    failed_total = sum(causes.values()) if isinstance(failed, Mapping) else failed

    total_weight = sum(expected.values())
    n = sum(observed.values())
    names = list(expected) + [name for name in observed if name not in expected]
    backends = tuple(
        BackendResult(
            name=name,
            weight=expected.get(name),
            expected_share=expected.get(name, 0) / total_weight,
            observed_share=_share(observed.get(name, 0), n),
            hits=observed.get(name, 0),
            interval=clopper_pearson(observed.get(name, 0), n, alpha),
        )
        for name in names
    )
    positive = [b for b in backends if b.weight]
    n_test = sum(b.hits for b in positive)

    reasons: list[str] = []
    violations = False
    for b in backends:
        if b.hits and b.weight == 0:
            violations = True
            reasons.append(
                f"{b.name} has weight 0 but received {_responses(b.hits)} "
                f"({format_share(b.observed_share)}); any hit on a weight-0 backend fails."
            )
        elif b.hits and b.weight is None:
            violations = True
            reasons.append(
                f"{b.name} is not among the expected backends ({', '.join(expected)}) but "
                f"received {_responses(b.hits)}; a response from an unexpected backend fails."
            )

    # The one pre-declared test, on the backends with weight above 0.
    test: _TestResult | None = None
    detectable: Detectable | None = None
    canary = min(positive, key=lambda b: b.expected_share)
    if n_test == 0:
        test_name = "none (no successful responses from a backend with weight above 0)"
    elif len(positive) == 1:
        test_name = "any-hit rule (one backend with weight above 0: all responses must be on it)"
        detectable = detectable_zero_hit(n, alpha, POWER_LEVEL)
    elif len(positive) == 2:
        share = canary.weight / sum(b.weight or 0 for b in positive) if canary.weight else 0.0
        p_value = binomial.two_sided_p_value(canary.hits, n_test, share)
        test = _TestResult(f"exact two-sided binomial test on {canary.name}", p_value)
        detectable = detectable_binomial(canary.name, n_test, share, alpha, POWER_LEVEL)
    else:
        positive_weight = sum(b.weight or 0 for b in positive)
        probs = [(b.weight or 0) / positive_weight for b in positive]
        test = _multinomial_test([b.hits for b in positive], probs)
        index = positive.index(canary)
        detectable = detectable_chi_square(canary.name, n_test, tuple(probs), index, alpha, POWER_LEVEL)
    if test is not None:
        test_name = test.name
    rejected = test is not None and test.p_value <= alpha

    requests = n + failed_total
    failed_share = _share(failed_total, requests)
    too_many_failed = failed_share > max_failed_share
    if failed_total:
        by_cause = ", ".join(f"{cause} {count}" for cause, count in causes.items())
        reasons.append(
            f"{failed_total} of {requests} requests failed ({format_share(failed_share)}"
            + (f"; {by_cause}" if by_cause else "")
            + f"), counted apart from the split; the limit is {format_share(max_failed_share)}."
        )

    stat_sentence = ""
    if test is not None:
        relation = "<=" if rejected else ">"
        meaning = (
            "the split does not match the weights" if rejected else "the split is consistent with the weights"
        )
        stat_sentence = f"p = {test.p_value:.2g} {relation} alpha = {alpha:g}: {meaning}."
        if rejected:
            culprits = [b for b in positive if not b.interval[0] <= b.expected_share <= b.interval[1]]
            if not culprits:
                culprits = [
                    max(
                        positive,
                        key=lambda b: (
                            abs(b.observed_share - b.expected_share)
                            / math.sqrt(b.expected_share * (1 - b.expected_share) / n)
                        ),
                    )
                ]
            reasons.extend(_backend_sentence(b, n, alpha) for b in culprits)
        else:
            reasons.append(_backend_sentence(canary, n, alpha))

    if violations:
        outcome = Outcome.FAIL
        if stat_sentence:
            reasons.append(stat_sentence.replace("the split", "the split among weighted backends"))
    elif n == 0:
        outcome = Outcome.INCONCLUSIVE
        reasons.append("No successful responses: there is no split to judge.")
    elif too_many_failed:
        outcome = Outcome.INCONCLUSIVE
        alone = ""
        if test is not None:
            alone = f" (the test alone gives p = {test.p_value:.2g})"
        reasons.append(
            f"Failed requests are above the {format_share(max_failed_share)} limit, so the "
            f"split cannot be judged{alone}: inconclusive, not a pass."
        )
    elif rejected:
        outcome = Outcome.FAIL
        reasons.append(stat_sentence)
    else:
        outcome = Outcome.PASS
        if test is not None:
            reasons.append(stat_sentence)
        else:
            reasons.append(
                f"All {n} responses came from {canary.name}, the only backend with weight above 0."
            )

    if detectable is not None:
        power = detectable.sentence()
    else:
        power = "No successful responses: the test could detect nothing."
    return Verdict(
        outcome=outcome,
        test=test_name,
        alpha=alpha,
        p_value=None if test is None else test.p_value,
        n=n,
        failed=failed_total,
        failed_by_cause=tuple(causes.items()),
        max_failed_share=max_failed_share,
        backends=backends,
        reasons=tuple(reasons),
        power=power,
        detectable=detectable,
    )
