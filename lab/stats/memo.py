"""Exact computations remembered across lab commands: sample sizes and sequential designs.

Both are pure functions of a few numbers that take tens of milliseconds (and numpy's import) to
compute, while a workshop runs the same check again and again. Entries live in one small JSON file
each under $LAB_STATS_CACHE (default ~/.cache/lab/stats; "off" turns it off), keyed by the function,
its arguments and a hash of the code of lab.stats, so any change to the statistics computes anew.
Off unless a command turns it on (`enable`); anything unreadable is computed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from lab.state import atomic_write

T = TypeVar("T")
_folder: list[Path | None] = [None]


def default_folder(environ: dict[str, str] | None = None) -> Path | None:
    """$LAB_STATS_CACHE, else ~/.cache/lab/stats (XDG_CACHE_HOME honoured); None when "off"."""
    env = dict(os.environ) if environ is None else environ
    chosen = env.get("LAB_STATS_CACHE")
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "lab" / "stats"


def enable(folder: Path | None) -> None:
    """Remember computations in `folder` from now on (None: not at all)."""
    _folder[0] = folder


@cache
def code_version() -> str:
    """A hash of lab.stats' source: entries made by other code are never read."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def remembered(
    name: str,
    key: tuple[Any, ...],
    compute: Callable[[], T],
    encode: Callable[[T], Any],
    decode: Callable[[Any], T],
) -> T:
    """`compute()`, or what an earlier command computed for the same `name`, `key` and code."""
    folder = _folder[0]
    if folder is None:
        return compute()
    entry = hashlib.sha256(json.dumps([name, code_version(), repr(key)]).encode()).hexdigest()[:32]
    path = folder / f"{name}-{entry}.json"
    try:
        return decode(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    value = compute()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(path, json.dumps(encode(value)).encode(), 0o600)
    except OSError:
        pass  # a cache: a folder that cannot be written only costs the computation next time
    return value
