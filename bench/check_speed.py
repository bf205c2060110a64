"""Time to a verdict for canary-99-1: the whole `lab check` process against the blog's curl loop.

1. On one running embedded lab: `lab check` (the sequential check, the default) and
   `lab check --fixed`, each RUNS times as whole processes (start-up included), median; against
   the blog's method at the same confidence: as many `curl -s -k` requests as the fixed-n test
   needs for alpha 0.001 and 95% power at +/-3 points (757), appended to a file, then `grep -c`
   per backend (and then the counts still need judging). Goal: lab at least 20 times faster.
2. The driver's request rate (h11 over asyncio streams) against an aiohttp client's (the driver's
   client until it cost `lab check` ~0.15 s of imports) on the same gateway, same count and
   concurrency, both verifying TLS: the lighter start-up must not cost throughput. With `hey`
   installed (Debian package `hey`), against hey's rate too; hey skips TLS verification. Goal:
   the driver reaches at least half of hey's rate.
Ratios are printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import labproc
from gateway_rps import load
from labproc import LAB, ROOT

from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from lab.traffic.attribution import Attributor
from lab.traffic.driver import DriveSpec, drive, ssl_context

RUNS = 5
RATE_REQUESTS = 5000
CONCURRENCY = 16
# The blog's loop, verbatim in spirit: one curl per request appended to a file, then grep -c.
BLOG_LOOP = 'for i in $(seq "$2"); do curl -s -k "$1" >> "$3"; done; grep -c "Hostname: echo-1" "$3"; grep -c "Hostname: echo-2" "$3"'


# lab as a user runs it: with Python's bytecode cache (pip compiles it at install). Some sandboxes
# set PYTHONDONTWRITEBYTECODE, which makes every `lab` start recompile ~200 modules (~0.2 s).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, env=ENV)


def timed_check(state_dir: Path, *extra: str) -> tuple[float, str, int]:
    """One whole `lab check` process: (seconds, outcome, answers judged)."""
    start = time.perf_counter()
    done = run(LAB, "--lab-dir", str(ROOT), "check", "--state-dir", str(state_dir), "--output", "json", *extra)
    seconds = time.perf_counter() - start
    report = json.loads(done.stdout)
    return seconds, report["outcome"], report["checks"][0]["verdict"]["n"]


def main() -> None:
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    n = plan.first.traffic[0].requests
    with labproc.running_lab() as (state_dir, port, state), tempfile.TemporaryDirectory() as tmp:
        url = f"https://localhost:{port}/echo"
        timed_check(state_dir)  # warm-up: fills the bytecode cache, as any earlier `lab` command would
        sequential = [timed_check(state_dir) for _ in range(RUNS)]
        fixed = [timed_check(state_dir, "--fixed") for _ in range(RUNS)]
        out = Path(tmp) / "blog.txt"
        start = time.perf_counter()
        blog = run("bash", "-c", BLOG_LOOP, "blog-loop", url, str(n), str(out))
        blog_seconds = time.perf_counter() - start
        echo1, echo2 = (int(x) for x in blog.stdout.split())
        attributor = Attributor.from_resources(plan.first.resources)
        driver_rate, aiohttp_rate = _client_rates(url, state["ca_file"], attributor)
        rate = _rates(url, state["ca_file"], attributor) if shutil.which("hey") else None
    seq_s = statistics.median(s for s, _, _ in sequential)
    fixed_s = statistics.median(s for s, _, _ in fixed)
    print("time to a verdict, canary-99-1, alpha=0.001, 95% power at +/-3 points (same running lab)")
    print(f"  lab check, sequential (median of {RUNS} processes): {seq_s:7.2f} s; "
          f"answers judged {[a for _, _, a in sequential]}, outcomes {sorted({o for _, o, _ in sequential})}")  # fmt: skip
    print(f"  lab check --fixed, n={n} (median of {RUNS}):          {fixed_s:7.2f} s")
    print(f"  blog loop: curl -s -k x{n} >> file; grep -c ({echo1}/{echo2}), no verdict: {blog_seconds:7.2f} s")
    print(f"  speed-up, sequential: {blog_seconds / seq_s:.1f}x (goal >= 20x); fixed: {blog_seconds / fixed_s:.1f}x")
    print(f"request rate, {RATE_REQUESTS} GET /echo, concurrency {CONCURRENCY}, keep-alive, TLS verified")
    print(f"  lab driver (h11): {driver_rate:8.0f} req/s; aiohttp client: {aiohttp_rate:8.0f} req/s; "
          f"driver / aiohttp: {driver_rate / aiohttp_rate:.2f}")  # fmt: skip
    if rate is None:
        print("request rate: skipped (hey is not installed: apt-get install -y hey)")
        return
    driver_rate, failed, hey_rate = rate
    print(f"request rate, {RATE_REQUESTS} GET /echo, concurrency {CONCURRENCY}, keep-alive")
    print(f"  lab driver (TLS verified): {driver_rate:8.0f} req/s ({failed} failed)")
    print(f"  hey (TLS not verified):    {hey_rate:8.0f} req/s")
    print(f"  driver / hey: {driver_rate / hey_rate:.2f} (goal >= 0.5)")


def _client_rates(url: str, ca_file: str, attributor: Attributor) -> tuple[float, float]:
    """(driver req/s, aiohttp client req/s), alternating three rounds each, best of each."""
    driver_rates, aiohttp_rates = [], []
    for _ in range(3):
        tally = drive(DriveSpec(url=url, ca_file=ca_file, requests=RATE_REQUESTS, workers=CONCURRENCY), attributor)
        driver_rates.append(tally.rate)
        aiohttp_rates.append(asyncio.run(load(url, ssl_context(ca_file), RATE_REQUESTS, CONCURRENCY))[0])
    return max(driver_rates), max(aiohttp_rates)


def _rates(url: str, ca_file: str, attributor: Attributor) -> tuple[float, int, float]:
    drive(DriveSpec(url=url, ca_file=ca_file, requests=300, workers=CONCURRENCY), attributor)
    tally = drive(DriveSpec(url=url, ca_file=ca_file, requests=RATE_REQUESTS, workers=CONCURRENCY), attributor)
    hey = run("hey", "-n", str(RATE_REQUESTS), "-c", str(CONCURRENCY), url)
    match = re.search(r"Requests/sec:\s+([\d.]+)", hey.stdout)
    return tally.rate, tally.failed, float(match.group(1)) if match else float("nan")


if __name__ == "__main__":
    main()
