"""The running counts a check keeps (Tally.trace -> TrafficStats.running): how the split settled."""

from __future__ import annotations

from lab.traffic.check import TrafficStats
from lab.traffic.driver import Tally


def test_a_snapshot_every_few_responses_then_the_final_counts() -> None:
    tally = Tally(trace_every=2)
    for service in ["echo-1", "echo-1", "echo-2", "echo-1", "echo-1"]:
        tally.hit(service, f"{service}-pod")
    assert tally.trace == [{"echo-1": 2}, {"echo-1": 3, "echo-2": 1}]
    stats = TrafficStats.of(tally)
    assert stats.running == ({"echo-1": 2}, {"echo-1": 3, "echo-2": 1}, {"echo-1": 4, "echo-2": 1})
    assert stats.to_dict()["running"] == {"n": [2, 4, 5], "hits": {"echo-1": [2, 3, 4], "echo-2": [0, 1, 1]}}


def test_no_snapshots_without_a_step_and_no_duplicate_final_point() -> None:
    tally = Tally()
    tally.hit("echo-1", "p")
    assert tally.trace == []
    assert TrafficStats.of(tally).running == ({"echo-1": 1},)
    even = Tally(trace_every=1)
    even.hit("echo-1", "p")
    assert TrafficStats.of(even).running == ({"echo-1": 1},)
    assert TrafficStats.of(Tally()).running == ()

