"""Time to a verdict and request rate of `lab check`, side by side with the blog's way and hey.

1. Time to a verdict for canary-99-1 at the scenario's default n and alpha: `lab check` against
   the blog's method on the same running lab and the same n (a shell loop of `curl -s -k`
   appending to a file, then `grep -c` per backend). Goal: lab at least 10 times faster.
2. The driver's request rate against `hey` (Debian package `hey`) on the same gateway and path,
   same request count and concurrency. hey skips TLS verification; the driver verifies against
   the lab CA. Goal: the driver reaches at least half of hey's rate.
Both ratios are printed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import labproc
from labproc import LAB, ROOT

from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from lab.traffic.attribution import Attributor
from lab.traffic.driver import DriveSpec, drive

RATE_REQUESTS = 5000
CONCURRENCY = 16
# The blog's loop, verbatim in spirit: one curl per request appended to a file, then grep -c.
BLOG_LOOP = 'for i in $(seq "$2"); do curl -s -k "$1" >> "$3"; done; grep -c "Hostname: echo-1" "$3"; grep -c "Hostname: echo-2" "$3"'


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False)


def main() -> None:
    if shutil.which("hey") is None:
        sys.exit("hey is not installed: apt-get install -y hey")
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    n = plan.first.traffic[0].requests
    with labproc.running_lab() as (state_dir, port, state), tempfile.TemporaryDirectory() as tmp:
        url = f"https://localhost:{port}/echo"
        start = time.perf_counter()
        check = run(LAB, "--lab-dir", str(ROOT), "check", "--state-dir", str(state_dir), "--output", "json")
        lab_seconds = time.perf_counter() - start
        verdict = json.loads(check.stdout)["outcome"]

        out = Path(tmp) / "blog.txt"
        start = time.perf_counter()
        blog = run("bash", "-c", BLOG_LOOP, "blog-loop", url, str(n), str(out))
        blog_seconds = time.perf_counter() - start
        echo1, echo2 = (int(x) for x in blog.stdout.split())

        attributor = Attributor.from_resources(plan.first.resources)
        drive(DriveSpec(url=url, ca_file=state["ca_file"], requests=300, workers=CONCURRENCY), attributor)
        tally = drive(
            DriveSpec(url=url, ca_file=state["ca_file"], requests=RATE_REQUESTS, workers=CONCURRENCY),
            attributor,
        )
        hey = run("hey", "-n", str(RATE_REQUESTS), "-c", str(CONCURRENCY), url)
        match = re.search(r"Requests/sec:\s+([\d.]+)", hey.stdout)
        hey_rate = float(match.group(1)) if match else float("nan")
    print(f"time to a verdict, canary-99-1, n={n}, alpha=0.001 (same running lab)")
    print(f"  lab check (verdict {verdict}, incl. process start):     {lab_seconds:7.2f} s")
    print(f"  blog loop: curl -s -k x{n} >> file; grep -c ({echo1}/{echo2}): {blog_seconds:7.2f} s")
    print(f"  speed-up: {blog_seconds / lab_seconds:.1f}x (goal >= 10x)")
    print(f"request rate, {RATE_REQUESTS} GET /echo, concurrency {CONCURRENCY}, keep-alive")
    print(f"  lab driver (TLS verified): {tally.rate:8.0f} req/s ({tally.failed} failed)")
    print(f"  hey (TLS not verified):    {hey_rate:8.0f} req/s")
    print(f"  driver / hey: {tally.rate / hey_rate:.2f} (goal >= 0.5)")


if __name__ == "__main__":
    main()
