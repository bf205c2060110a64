"""Named waits of the kind and cluster engines: poll a condition until it holds or its budget ends.

A check returns (met, what was seen); what was seen ends up in the error when time runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from lab.errors import NotConverged

Sleep = Callable[[float], None]
# A condition check: (met, what was seen).
Check = Callable[[], tuple[bool, str]]


@dataclass(frozen=True)
class Condition:
    """One named wait: what it waits for, its timeout and the check polled until it holds."""

    name: str
    description: str
    timeout: float
    check: Check


def wait_for(condition: Condition, *, poll_interval: float, sleep: Sleep = time.sleep) -> None:
    """Poll `condition` until it holds; NotConverged naming it and the last thing seen on timeout."""
    last = ["nothing seen yet"]

    def attempt() -> bool:
        try:
            met, seen = condition.check()
        except Exception as exc:  # an API hiccup while polling is "not yet", not a crash
            met, seen = False, f"{type(exc).__name__}: {exc}"
        last[0] = seen
        return met

    retrying = Retrying(
        stop=stop_after_delay(condition.timeout),
        wait=wait_fixed(poll_interval),
        retry=retry_if_result(lambda met: not met),
        sleep=sleep,
    )
    try:
        retrying(attempt)
    except RetryError:
        raise NotConverged(
            f"{condition.name}: {condition.description} did not happen within {condition.timeout:g} s; "
            f"last seen: {last[0]}"
        ) from None
