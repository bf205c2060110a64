"""`lab judge` at a billion responses against a thousand, side by side: time and peak memory.

Whole processes (start-up included), median of RUNS each; peak memory from /usr/bin/time -v
where it exists. Goal: n = 1e9 answers in under 2 s within 100 MB, and costs little more than
n = 1e3 (the sums grow like sqrt(n), never the pmf).
"""

from __future__ import annotations

import re
import statistics
import subprocess
import time
from pathlib import Path

from labproc import LAB

RUNS = 5
TIME = "/usr/bin/time"  # GNU time: -v reports the peak resident memory
SMALL = ("judge", "--expect", "50,50", "--observed", "500,500")
LARGE = ("judge", "--expect", "50,50", "--observed", "500000000,500000000")


def once(args: tuple[str, ...]) -> tuple[float, int | None]:
    """(seconds, peak KB or None) of one `lab` process."""
    argv = [TIME, "-v", LAB, *args] if Path(TIME).exists() else [LAB, *args]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return seconds, int(found.group(1)) if found else None


def main() -> None:
    small = [once(SMALL) for _ in range(RUNS)]
    large = [once(LARGE) for _ in range(RUNS)]
    small_s = statistics.median(s for s, _ in small)
    large_s = statistics.median(s for s, _ in large)
    peak = max((kb for _, kb in large if kb is not None), default=None)
    print(f"lab judge, 50/50, median of {RUNS} processes")
    print(f"  n = 1e3: {small_s:6.2f} s")
    print(f"  n = 1e9: {large_s:6.2f} s (goal < 2 s), peak {peak and peak // 1024} MB (goal < 100 MB)")
    print(f"  n = 1e9 / n = 1e3: {large_s / small_s:.1f}x")


if __name__ == "__main__":
    main()
