"""Run every benchmark under bench/ in turn (`make bench`)."""

from __future__ import annotations

import runpy
from pathlib import Path

HERE = Path(__file__).resolve().parent

for name in ("local_up.py", "gateway_rps.py", "check_speed.py", "judge_large_n.py"):
    print(f"== {name}")
    runpy.run_path(str(HERE / name), run_name="__main__")
