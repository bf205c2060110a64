"""A pytest plugin for mutation runs: fresh lab caches per session, and the quickest tests first.

mutmut forks every mutant's test run from the process that collected its stats, so a
`functools.lru_cache` there would hand a mutant the unmutated function's cached answers; and a
mutant is killed by its first failing test, so the tests that took least time in the stats run
go first (mutmut gives them in no particular order).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

STATS = Path("mutmut-stats.json")  # mutmut runs pytest inside mutants/, where it keeps this file


def pytest_sessionstart(session: Any) -> None:
    """Clear every cache a lab module holds (functions decorated with functools.lru_cache)."""
    for name, module in list(sys.modules.items()):
        if name == "lab" or name.startswith("lab."):
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    """Order the tests by the time each took in mutmut's stats run, quickest first."""
    try:
        durations: dict[str, float] = json.loads(STATS.read_text())["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))
