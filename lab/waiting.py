"""The one way lab waits: poll a named condition until it holds, within a budget, saying what it sees.

Every wait in lab (a process starting or stopping, a port freeing, the state lock, a Kubernetes
condition, the converge probe) goes through `poll` or `wait_for`, built on tenacity, with its budget
from the Timeouts table. Sleep and clock are injectable, so tests never wait for real.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from lab.errors import NotConverged

T = TypeVar("T")
Sleep = Callable[[float], None]
Clock = Callable[[], float]


@dataclass(frozen=True)
class Pending:
    """A condition's answer "not yet": what it sees now, and optionally when to look again."""

    seen: str = ""
    # seconds until the next look instead of the wait's interval (0: at once, e.g. after a success)
    again_in: float | None = None


@dataclass(frozen=True)
class WaitProgress(Generic[T]):
    """One look at a condition that does not hold yet, for live progress lines."""

    what: str
    elapsed: float
    budget: float
    seen: str


# A condition returns its value when it holds, or None / Pending(...) while it does not.
Condition = Callable[[], "T | Pending | None"]
OnProgress = Callable[[WaitProgress[object]], None]


class WaitTimeout(NotConverged):
    """A named condition did not hold within its budget (exit 5); says the last thing seen."""

    def __init__(self, what: str, budget: float, seen: str, fix: str | None = None) -> None:
        self.what, self.budget, self.seen = what, budget, seen
        super().__init__(
            f"{what} did not happen within {budget:g} s" + (f"; last seen: {seen}" if seen else ""), fix=fix
        )


def poll(
    condition: Callable[[], T | Pending | None],
    *,
    what: str,
    budget: float,
    interval: float,
    on_progress: OnProgress | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> T | None:
    """Look at `condition` until it returns a value (returned) or `budget` s pass (None).

    The condition is always looked at once, even with a budget of 0. `on_progress` hears every
    look that did not hold (what is waited for, elapsed, budget, what was seen).
    """
    start = clock()
    deadline = start + budget
    last: list[T | Pending | None] = [None]

    def look() -> T | Pending | None:
        value = condition()
        last[0] = value
        if (value is None or isinstance(value, Pending)) and on_progress is not None:
            seen = value.seen if isinstance(value, Pending) else ""
            on_progress(WaitProgress(what, clock() - start, budget, seen))
        return value

    def pause(_state: object = None) -> float:
        value = last[0]
        wanted = value.again_in if isinstance(value, Pending) and value.again_in is not None else interval
        return max(0.0, min(wanted, deadline - clock()))

    value = look()
    if value is not None and not isinstance(value, Pending):
        return value  # held at the first look (an uncontended lock, a ready object): no waiting
    if clock() >= deadline:
        return None
    sleep(pause())
    from tenacity import Retrying, retry_if_result  # ~10 ms that a condition holding at once skips

    retrying = Retrying(
        stop=lambda state: clock() >= deadline,
        wait=pause,
        retry=retry_if_result(lambda value: value is None or isinstance(value, Pending)),
        retry_error_callback=lambda state: None,
        sleep=sleep,
        reraise=True,
    )
    value = retrying(look)
    if value is None or isinstance(value, Pending):
        return None
    return value


def wait_for(
    condition: Callable[[], T | Pending | None],
    *,
    what: str,
    budget: float,
    interval: float,
    fix: str | None = None,
    on_progress: OnProgress | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> T:
    """Like `poll`, but a condition that never holds raises WaitTimeout naming it and what was seen."""
    seen = [""]

    def watched() -> T | Pending | None:
        value = condition()
        if isinstance(value, Pending):
            seen[0] = value.seen
        return value

    value = poll(
        watched, what=what, budget=budget, interval=interval, on_progress=on_progress, sleep=sleep, clock=clock
    )
    if value is None:
        raise WaitTimeout(what, budget, seen[0], fix=fix)
    return value
