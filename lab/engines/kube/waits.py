"""Named waits of the kind and cluster engines: poll a condition until it holds or its budget ends.

What is seen while waiting is said on each change, and at least every `progress_every` seconds.

A check returns (met, what was seen); what was seen ends up in the error when time runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from lab.errors import NotConverged

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

    def wait(self, condition: Condition) -> str:
        """Poll until the condition holds (returns what was seen); NotConverged when the budget ends."""
        start = self.clock()
        said, said_at = "", start
        while True:
            try:
                met, seen = condition.check()
            except Exception as exc:  # an API hiccup while polling is "not yet", not a crash
                met, seen = False, f"{type(exc).__name__}: {exc}"
            if met:
                return seen
            now = self.clock()
            elapsed = now - start
            if seen != said or now - said_at >= self.progress_every:
                self.progress(
                    f"waiting for {condition.description} ({elapsed:.1f} s of {condition.budget:g} s): {seen}"
                )
                said, said_at = seen, now
            if elapsed >= condition.budget:
                raise NotConverged(
                    f"{condition.name}: {condition.description} did not happen within "
                    f"{condition.budget:g} s; last seen: {seen}"
                )
            self.sleep(self.poll_interval)
