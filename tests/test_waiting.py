"""lab.waiting: the one wait primitive, on a fake clock (nothing waits for real)."""

from __future__ import annotations

import pytest

from lab.errors import ExitCode
from lab.waiting import Pending, WaitProgress, WaitTimeout, poll, wait_for


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_the_value_once_the_condition_holds() -> None:
    t = FakeTime()
    answers = iter([None, Pending("starting"), "ready"])
    assert wait_for(lambda: next(answers), what="x", budget=10, interval=0.5, sleep=t.sleep, clock=t.clock) == "ready"
    assert t.sleeps == [0.5, 0.5]


def test_a_condition_that_holds_at_once_never_sleeps() -> None:
    t = FakeTime()
    assert poll(lambda: 0, what="x", budget=0, interval=1, sleep=t.sleep, clock=t.clock) == 0
    assert t.sleeps == []


def test_timeout_names_the_condition_the_budget_and_the_last_thing_seen() -> None:
    t = FakeTime()
    seen = iter(f"pod Pending ({i})" for i in range(100))
    with pytest.raises(WaitTimeout, match=r"Gateway Ready did not happen within 2 s; last seen: pod Pending \(4\)") as err:
        wait_for(lambda: Pending(next(seen)), what="Gateway Ready", budget=2, interval=0.5, sleep=t.sleep, clock=t.clock)
    assert err.value.exit_code == ExitCode.NOT_CONVERGED
    assert t.now == pytest.approx(102.0)  # never sleeps past the budget


def test_poll_returns_none_when_the_budget_passes() -> None:
    t = FakeTime()
    assert poll(lambda: None, what="x", budget=1, interval=0.3, sleep=t.sleep, clock=t.clock) is None
    assert t.sleeps == pytest.approx([0.3, 0.3, 0.3, 0.1])


def test_pending_again_in_overrides_the_interval() -> None:
    t = FakeTime()
    answers = iter([Pending("ok 1", again_in=0), Pending("ok 2", again_in=0), Pending("error"), 7])
    assert poll(lambda: next(answers), what="x", budget=10, interval=0.5, sleep=t.sleep, clock=t.clock) == 7
    assert t.sleeps == [0, 0, 0.5]


def test_progress_hears_every_look_that_did_not_hold() -> None:
    t = FakeTime()
    heard: list[WaitProgress[object]] = []
    answers = iter([Pending("a"), None, 1])
    poll(lambda: next(answers), what="w", budget=5, interval=1, on_progress=heard.append, sleep=t.sleep, clock=t.clock)
    assert [(p.what, p.elapsed, p.budget, p.seen) for p in heard] == [("w", 0, 5, "a"), ("w", 1, 5, "")]


def test_exceptions_from_the_condition_propagate() -> None:
    t = FakeTime()

    def boom() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        poll(boom, what="x", budget=5, interval=1, sleep=t.sleep, clock=t.clock)
