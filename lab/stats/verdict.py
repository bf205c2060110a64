"""Judge an observed traffic split against the route weights with one pre-declared test.

Four steps, each its own function: `validate` the counts, `backend_results` (shares and
intervals), `fixed_test` (which test, its p-value and power), and `verdict_of`, whose outcome
is the pure `decide`. Two weighted backends: exact binomial test; three or more: multinomial
(lab.stats.multinomial). Weight 0 and unknown backends fail on any hit; failed requests are
counted apart and make the verdict inconclusive above a limit. A backend the plan knows cannot
answer (an unresolved backendRef: its share gets 503) fails the check whatever was observed.
lab.stats.sequential reuses the same steps with its own test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from lab.errors import InvalidInput
from lab.stats import binomial
from lab.stats.formats import format_level, format_share
from lab.stats.power import (
    Detectable,
    detectable_binomial,
    detectable_chi_square,
    detectable_zero_hit,
)
from lab.stats.results import (
    SCHEMA_VERSION,
    BackendResult,
    Counts,
    Outcome,
    TestResult,
    Verdict,
    share_of,
)
from lab.stats.unanswerable import check_unanswerable, unanswerable_reasons

__all__ = ["SCHEMA_VERSION", "BackendResult", "Counts", "Outcome", "TestResult", "Verdict", "judge"]

DEFAULT_ALPHA = 0.001
DEFAULT_MAX_FAILED_SHARE = 0.01
POWER_LEVEL = 0.95


def clopper_pearson(hits: int, n: int, alpha: float) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided (1 - alpha) interval for a binomial share."""
    return binomial.clopper_pearson(hits, n, alpha)


def _check_counts(counts: Mapping[str, int], what: str) -> None:
    for name, value in counts.items():
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"{what}: backend names must be non-empty strings, got {name!r}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInput(f"{what}: {name} must be a non-negative integer, got {value!r}")


def check_alpha(alpha: float, what: str = "alpha") -> None:
    """Alpha must lie strictly between 0 and 1 (InvalidInput, exit 3, otherwise)."""
    if not 0 < alpha < 1:
        raise InvalidInput(f"{what} must be strictly between 0 and 1, got {alpha}", fix="e.g. 0.001")


def validate(
    expected: Mapping[str, int],
    hits: Mapping[str, int],
    failed: int | Mapping[str, int],
    alpha: float,
    max_failed_share: float,
) -> Counts:
    """The counts, checked: InvalidInput (exit 3) names what is wrong."""
    _check_counts(expected, "expected weights")
    _check_counts(hits, "observed counts")
    if not expected or sum(expected.values()) == 0:
        raise InvalidInput(
            f"expected weights: at least one backend needs a weight above 0, got {dict(expected)}"
        )
    check_alpha(alpha)
    if not 0 <= max_failed_share < 1:
        raise InvalidInput(f"max_failed_share must be in [0, 1), got {max_failed_share}")
    if isinstance(failed, Mapping):
        _check_counts(failed, "failed requests")
        causes = tuple(failed.items())
        failed_total = sum(failed.values())
    elif isinstance(failed, bool) or not isinstance(failed, int) or failed < 0:
        raise InvalidInput(f"failed requests must be a non-negative integer, got {failed!r}")
    else:
        causes, failed_total = (), failed
    answered = sum(hits.values())
    if answered > binomial.MAX_EXACT_N:
        raise InvalidInput(
            f"observed counts: {answered} responses in all; lab computes verdicts exactly up to "
            f"{binomial.MAX_EXACT_N:.0e} responses",
            fix="judge the first 10^10 responses (or a random sample of them)",
        )
    return Counts(dict(expected), dict(hits), failed_total, causes, alpha, max_failed_share)


def backend_results(counts: Counts) -> tuple[BackendResult, ...]:
    """One line per backend, expected ones first: shares of all answers and exact intervals."""
    total_weight = sum(counts.expected.values())
    n = counts.answered
    names = list(counts.expected) + [name for name in counts.hits if name not in counts.expected]
    return tuple(
        BackendResult(
            name=name,
            weight=counts.expected.get(name),
            expected_share=counts.expected.get(name, 0) / total_weight,
            observed_share=share_of(counts.hits.get(name, 0), n),
            hits=counts.hits.get(name, 0),
            interval=clopper_pearson(counts.hits.get(name, 0), n, counts.alpha),
        )
        for name in names
    )


def weighted(backends: Sequence[BackendResult]) -> list[BackendResult]:
    """The backends with weight above 0: those the statistical test is about."""
    return [b for b in backends if b.weight]


def canary(backends: Sequence[BackendResult]) -> BackendResult:
    """The weighted backend with the smallest expected share (the first of equals)."""
    return min(weighted(backends), key=lambda b: b.expected_share)


def fixed_test(counts: Counts, backends: Sequence[BackendResult]) -> TestResult | None:
    """The fixed-n test on the weighted backends; None when none of them answered."""
    positive = weighted(backends)
    n_test = sum(b.hits for b in positive)
    alpha = counts.alpha
    smallest = canary(backends)
    if n_test == 0:
        return None
    if len(positive) == 1:
        detectable = detectable_zero_hit(counts.answered, alpha, POWER_LEVEL)
        name = "any-hit rule (one backend with weight above 0: all responses must be on it)"
        return TestResult(name, None, False, None, detectable.sentence(), detectable)
    positive_weight = sum(b.weight or 0 for b in positive)
    shares = tuple((b.weight or 0) / positive_weight for b in positive)
    index = positive.index(smallest)
    if len(positive) == 2:
        p_value = binomial.two_sided_p_value(smallest.hits, n_test, shares[index])
        name = f"exact two-sided binomial test on {smallest.name}"
        detectable = detectable_binomial(smallest.name, n_test, shares[index], alpha, POWER_LEVEL)
    else:
        from lab.stats import multinomial

        result = multinomial.multinomial_test([b.hits for b in positive], list(shares))
        p_value, name = result.p_value, result.name
        if result.kind == "exact":
            detectable = multinomial.detectable_exact(
                smallest.name, n_test, shares, index, alpha, POWER_LEVEL
            )
        else:
            detectable = detectable_chi_square(smallest.name, n_test, shares, index, alpha, POWER_LEVEL)
        if result.kind == "monte-carlo":
            detectable = _restated(detectable, multinomial.MONTE_CARLO_POWER)
    rejected = p_value <= alpha
    finding = f"p = {p_value:.2g} {'<=' if rejected else '>'} alpha = {alpha:g}"
    return TestResult(name, p_value, rejected, finding, detectable.sentence(), detectable)


def _restated(detectable: Detectable, method: str) -> Detectable:
    return Detectable(
        detectable.backend,
        detectable.expected_share,
        detectable.n,
        detectable.alpha,
        detectable.probability,
        detectable.below,
        detectable.above,
        method,
    )


def decide(
    *,
    misrouted: bool,
    answered: int,
    too_many_failed: bool,
    rejected: bool,
    decided: bool = True,
    unanswerable: bool = False,
) -> Outcome:
    """The outcome, a pure function of six facts.

    In order: a misrouted response, or a weighted backend known before the first request to be
    unable to answer, fails; no answer, too many failed requests or a test that did not decide is
    inconclusive; a rejecting test fails; otherwise pass.
    """
    if misrouted or unanswerable:
        return Outcome.FAIL
    if answered == 0 or too_many_failed or not decided:
        return Outcome.INCONCLUSIVE
    return Outcome.FAIL if rejected else Outcome.PASS


def misroute_reasons(counts: Counts, backends: Sequence[BackendResult]) -> list[str]:
    """One sentence per backend that must get nothing and got something."""
    reasons = []
    for b in backends:
        if b.hits and b.weight == 0:
            reasons.append(
                f"{b.name} has weight 0 but received {_responses(b.hits)} "
                f"({format_share(b.observed_share)}); any hit on a weight-0 backend fails."
            )
        elif b.hits and b.weight is None:
            reasons.append(
                f"{b.name} is not among the expected backends ({', '.join(counts.expected)}) but "
                f"received {_responses(b.hits)}; a response from an unexpected backend fails."
            )
    return reasons


def verdict_of(
    counts: Counts,
    backends: tuple[BackendResult, ...],
    test: TestResult | None,
    sequential: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    unanswerable: Mapping[str, str] | None = None,
) -> Verdict:
    """The verdict from the validated counts, the backend lines and the test that ran (plus notes).

    `unanswerable`: backends the plan knows cannot answer, with the finding that says why.
    """
    misrouted = misroute_reasons(counts, backends)
    broken = unanswerable_reasons(backends, unanswerable or {})
    rejected = test is not None and test.rejected
    outcome = decide(
        misrouted=bool(misrouted),
        answered=counts.answered,
        too_many_failed=counts.too_many_failed,
        rejected=rejected,
        decided=test is None or test.decided,
        unanswerable=bool(broken),
    )
    reasons = misrouted + _failed_reasons(counts) + _backend_reasons(counts, backends, test)
    conclusion = _conclusion(counts, backends, test, misrouted=bool(misrouted))
    if broken:  # what the test alone says, then the finding that decides
        conclusion = f"Without the finding below: {conclusion[0].lower()}{conclusion[1:]}"
    reasons += [conclusion, *broken]
    reasons.extend(notes)
    none = "none (no successful responses from a backend with weight above 0)"
    return Verdict(
        outcome=outcome,
        test=none if test is None else test.name,
        alpha=counts.alpha,
        p_value=None if test is None else test.p_value,
        n=counts.answered,
        failed=counts.failed,
        failed_by_cause=counts.failed_by_cause,
        max_failed_share=counts.max_failed_share,
        backends=backends,
        reasons=tuple(reasons),
        power="No successful responses: the test could detect nothing." if test is None else test.power,
        detectable=None if test is None else test.detectable,
        sequential=sequential,
    )


def _failed_reasons(counts: Counts) -> list[str]:
    if not counts.failed:
        return []
    by_cause = ", ".join(f"{cause} {count}" for cause, count in counts.failed_by_cause)
    return [
        f"{counts.failed} of {counts.answered + counts.failed} requests failed "
        f"({format_share(counts.failed_share)}" + (f"; {by_cause}" if by_cause else "") + "), counted "
        f"apart from the split; the limit is {format_share(counts.max_failed_share)}."
    ]


def _backend_reasons(counts: Counts, backends: Sequence[BackendResult], test: TestResult | None) -> list[str]:
    """Where the split is off: the backends outside their interval when the test rejected, else the canary."""
    if test is None or test.finding is None:
        return []
    n, positive = counts.answered, weighted(backends)
    if not test.rejected:
        return [_backend_sentence(canary(backends), n, counts.alpha)]
    culprits = [b for b in positive if not b.interval[0] <= b.expected_share <= b.interval[1]]
    if not culprits:

        def deviation(b: BackendResult) -> float:
            return abs(b.observed_share - b.expected_share) / math.sqrt(
                b.expected_share * (1 - b.expected_share) / n
            )

        culprits = [max(positive, key=deviation)]
    return [_backend_sentence(b, n, counts.alpha) for b in culprits]


def _conclusion(
    counts: Counts,
    backends: Sequence[BackendResult],
    test: TestResult | None,
    *,
    misrouted: bool,
) -> str:
    """The last reason: what decided the outcome."""
    if counts.answered == 0 and not misrouted:
        return "No successful responses: there is no split to judge."
    if test is not None and test.finding is not None:
        subject = "the split among weighted backends" if misrouted else "the split"
        meaning = "does not match the weights" if test.rejected else "is consistent with the weights"
        stated = f"{test.finding}: {subject} {meaning}."
    else:
        stated = ""
    if misrouted:
        return stated or "A misrouted response fails the check whatever the split."
    if test is not None and not test.decided:
        return f"{test.finding}: inconclusive, not a pass."
    if counts.too_many_failed:
        alone = "" if not stated else f" (the test alone: {stated[:-1]})"
        return (
            f"Failed requests are above the {format_share(counts.max_failed_share)} limit, so the "
            f"split cannot be judged{alone}: inconclusive, not a pass."
        )
    if stated:
        return stated
    only = canary(backends).name
    return f"All {counts.answered} responses came from {only}, the only backend with weight above 0."


def _responses(count: int) -> str:
    return f"{count} response" + ("" if count == 1 else "s")


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
    hits: Mapping[str, int],
    *,
    failed: int | Mapping[str, int] = 0,
    alpha: float = DEFAULT_ALPHA,
    max_failed_share: float = DEFAULT_MAX_FAILED_SHARE,
    notes: Sequence[str] = (),
    complete: bool = True,
    unanswerable: Mapping[str, str] | None = None,
) -> Verdict:
    """Judge observed response counts against the expected weights with the fixed-n test.

    Args:
        expected: Weight per backend (non-negative integers, at least one above 0).
        hits: Answers (successful responses) per backend, as observed; a missing expected
            backend counts 0.
        failed: Failed requests (non-2xx, timeouts, connection errors): a total, or counts per
            cause. Reported apart, never added to a backend.
        alpha: False-fail rate of the test (and 1 - confidence of the intervals).
        max_failed_share: Above this share of failed requests the verdict is inconclusive.
        notes: Sentences added after the reasons (how the check was run).
        complete: False when the run stopped (Ctrl-C) before its planned n: the test then decides
            nothing (a test looked at early is not the test declared), so the verdict is
            inconclusive unless a misrouted response already fails it.
        unanswerable: Weighted backends the plan knows cannot answer, each with the finding
            (a status condition) that says why; one that indeed never answered fails the check.

    Returns:
        The verdict (`decide`): fail if a backend with weight 0 or not expected received any
        response, or a backend declared unanswerable received none; otherwise inconclusive if
        no response succeeded, too many failed or the run was incomplete; otherwise fail if the
        test rejects (p <= alpha); otherwise pass.

    Raises:
        InvalidInput: a weight or count is negative or not an integer, no weight is above 0,
            alpha / max_failed_share is out of range, or there are too many responses to
            compute exactly (`binomial.MAX_EXACT_N`).
    """
    counts = validate(expected, hits, failed, alpha, max_failed_share)
    check_unanswerable(expected, unanswerable or {})
    backends = backend_results(counts)
    test = fixed_test(counts, backends)
    if not complete and test is not None:
        test = replace(test, decided=False, finding=f"interrupted after {counts.answered} answers, before the planned n")
    return verdict_of(counts, backends, test, notes=notes, unanswerable=unanswerable)
