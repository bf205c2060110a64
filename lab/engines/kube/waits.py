"""Named waits of the kind and cluster engines: poll a condition until it holds or its budget ends.

What is seen while waiting is said on each change, and at least every `progress_every` seconds.

A check returns (met, what was seen); what was seen ends up in the error when time runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from lab import waiting
from lab.errors import NotConverged
from lab.waiting import OnProgress, Pending, WaitProgress

Sleep = Callable[[float], None]
Clock = Callable[[], float]
# A condition check: (met, what was seen).
Check = Callable[[], tuple[bool, str]]


@dataclass(frozen=True)
class Condition:
    """One named wait: its name (GatewayMustBeReady), what it waits for, its budget and its check."""

    name: str
    description: str
    budget: float
    check: Check


@dataclass(frozen=True)
class Waiter:
    """Polls conditions with one interval, sleep, clock and progress callback."""

    poll_interval: float
    progress: Callable[[str], None]
    progress_every: float = 15.0
    sleep: Sleep = time.sleep
    clock: Clock = time.monotonic

    def reporter(self) -> OnProgress:
        """A listener for one wait: a progress line when what is seen changes, else every `progress_every` s.

        Looks that saw nothing worth saying (an empty `seen`) print nothing.
        """
        said: list[tuple[str, float]] = []

        def heard(p: WaitProgress[object]) -> None:
            if p.seen and (not said or p.seen != said[-1][0] or p.elapsed - said[-1][1] >= self.progress_every):
                self.progress(f"waiting for {p.what} ({p.elapsed:.1f} s of {p.budget:g} s): {p.seen}")
                said.append((p.seen, p.elapsed))

        return heard

    def wait(self, condition: Condition) -> str:
        """Poll until the condition holds (returns what was seen); NotConverged when the budget ends."""

        def look() -> str | Pending:
            try:
                met, seen = condition.check()
            except Exception as exc:  # an API hiccup while polling is "not yet", not a crash
                met, seen = False, f"{type(exc).__name__}: {exc}"
            return seen if met else Pending(seen)

        try:
            return waiting.wait_for(
                look,
                what=condition.description,
                budget=condition.budget,
                interval=self.poll_interval,
                on_progress=self.reporter(),
                sleep=self.sleep,
                clock=self.clock,
            )
        except waiting.WaitTimeout as exc:
            raise NotConverged(
                f"{condition.name}: {condition.description} did not happen within {condition.budget:g} s; "
                f"last seen: {exc.seen or 'nothing seen yet'}"
            ) from None
