"""lab.traffic.driver.Tally: memory stays bounded however many responses a run counts."""

from __future__ import annotations

from lab.traffic.driver import LATENCY_SAMPLE, Tally


def test_latencies_are_all_kept_up_to_the_sample_size() -> None:
    tally = Tally()
    for i in range(1000):
        tally.add_latency(i / 1000)
    assert len(tally.latencies) == 1000
    assert tally.percentile(50) == 0.499


def test_beyond_the_sample_size_a_uniform_sample_of_fixed_size_is_kept() -> None:
    tally = Tally()
    total = 3 * LATENCY_SAMPLE
    for i in range(total):
        tally.add_latency(i / total)  # uniform on [0, 1)
    assert len(tally.latencies) == LATENCY_SAMPLE
    median = tally.percentile(50)
    assert median is not None and abs(median - 0.5) < 0.01  # a sample, not the first 100k
