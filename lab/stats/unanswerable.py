"""Backends the plan knows cannot answer: the finding that says why, and the verdict's sentence.

An unresolved backendRef is accepted by Kubernetes and answered 503 for its share of the weight
(v0.4.0 HTTPBackendRef), so the split can never match the weights: the check fails, saying why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lab.errors import InvalidInput
from lab.stats.formats import format_share
from lab.stats.results import BackendResult


def check_unanswerable(expected: Mapping[str, int], unanswerable: Mapping[str, str]) -> None:
    """A backend declared unable to answer must be one the weights send a share to (else exit 3)."""
    stray = [name for name in unanswerable if not expected.get(name)]
    if stray:
        raise InvalidInput(
            f"backends declared unable to answer must have a weight above 0: {', '.join(stray)} "
            f"(expected weights {dict(expected)})"
        )


def unanswerable_reasons(
    backends: Sequence[BackendResult], unanswerable: Mapping[str, str]
) -> list[str]:
    """One sentence per weighted backend declared unable to answer that indeed never answered.

    The plan knows it before the first request (an unresolved backendRef, which v0.4.0 answers
    with 503 for its share of the weight), so the split cannot match the weights: a fail.
    """
    return [
        f"{b.name}: {unanswerable[b.name]}, known before the first request; its "
        f"{format_share(b.expected_share)} of the requests is answered 503 apart from the split, "
        "so the split cannot match the weights."
        for b in backends
        if b.name in unanswerable and b.weight and not b.hits
    ]
