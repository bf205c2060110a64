"""A pytest plugin for mutation runs: empty lab's function caches when a test session starts.

mutmut forks every mutant's test run from the process that collected its stats, so an
`functools.lru_cache` there would hand a mutant the unmutated function's cached answers.
"""

from __future__ import annotations

import sys
from typing import Any


def pytest_sessionstart(session: Any) -> None:
    """Clear every cache a lab module holds (functions decorated with functools.lru_cache)."""
    for name, module in list(sys.modules.items()):
        if name == "lab" or name.startswith("lab."):
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()
