"""The Consul 0.1.0 splitter rule: float32 percentages rounded to 0.01 must sum to exactly 100."""

from __future__ import annotations

import pytest

from lab.spec import consul


@pytest.mark.parametrize(
    "weights", [[50, 50], [99, 1], [90, 10], [70, 30], [1, 2], [1, 0, 1], [5], [50, 30, 20]]
)
def test_accepted(weights: list[int]) -> None:
    assert consul.accepted(weights)


@pytest.mark.parametrize("weights", [[1, 1, 1], [1, 1, 1, 1, 1, 1, 1]])
def test_rejected_and_a_valid_suggestion(weights: list[int]) -> None:
    assert not consul.accepted(weights)
    suggestion = consul.suggest(weights)
    assert sum(suggestion) == 100 and consul.accepted(suggestion)
    assert all(s > 0 for s in suggestion)


def test_one_third_each_rounds_to_99_99() -> None:
    assert consul.splitter_sum([1, 1, 1]) == pytest.approx(99.99)
    assert consul.suggest([1, 1, 1]) == [34, 33, 33]
