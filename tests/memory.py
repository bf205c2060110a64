"""Peak memory of a piece of Python run in a fresh interpreter, for the bounded-memory tests."""

from __future__ import annotations

import subprocess
import sys

# VmHWM (Linux): the peak resident memory of this process image. Not getrusage's ru_maxrss, which
# also counts the parent's pages held at fork time (Linux keeps the pre-exec peak in ru_maxrss).
_REPORT = """
import re, resource
from pathlib import Path
status = Path("/proc/self/status")
if status.exists():
    peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read_text()).group(1))
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("peak_kb", peak)
"""


def peak_kb(code: str, *args: str) -> tuple[int, str]:
    """Run `code` (then the report) with argv `args`: (peak memory in KB, its output)."""
    done = subprocess.run(
        [sys.executable, "-c", code + _REPORT, *args], capture_output=True, text=True, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return int(done.stdout.split()[-1]), output


CLI = """
import sys
from lab.ui.cli import cli
try:
    cli(args=sys.argv[1:], prog_name="lab")
except SystemExit as done:
    print("exit", done.code)
"""
