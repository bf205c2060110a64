"""Virtual time for the fakes: it moves only when the code under test sleeps through its injected
sleep, so what the fakes do "after 2 s" happens at the same poll in every run (no timing flakes)."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable


class VirtualClock:
    """now(), advance(seconds), and callbacks due at a virtual time (run by `due()`)."""

    def __init__(self, real_fraction: float = 0.05, real_cap: float = 0.005) -> None:
        self.t = 0.0
        self.lock = threading.RLock()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        # each virtual sleep also yields a little real time, so helper processes (fake helm) run
        self.real_fraction = real_fraction
        self.real_cap = real_cap
        # set while a helper process hands its result back (fake helm between "deployed" and its
        # exit): the code under test may poll, but no virtual time passes, so what it does next
        # happens at the same virtual time in every run
        self.frozen = False

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        with self.lock:
            if not self.frozen:
                self.t += seconds
        time.sleep(min(seconds * self.real_fraction, self.real_cap))

    def at(self, delay: float, fn: Callable[[], None]) -> None:
        """Run `fn` once virtual time reaches now + delay (at the next `due()`)."""
        with self.lock:
            heapq.heappush(self._timers, (self.t + delay, next(self._seq), fn))

    def due(self) -> None:
        """Run every callback whose time has come, in time order (callbacks may schedule more)."""
        with self.lock:
            while self._timers and self._timers[0][0] <= self.t:
                _, _, fn = heapq.heappop(self._timers)
                fn()
