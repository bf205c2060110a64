"""Requests per second through the embedded gateway vs straight to the backend, side by side.

One Python/aiohttp load generator for both sides (hey, as packaged, skips TLS verification, so
it cannot measure a verified client): keep-alive connections, fixed concurrency, fixed count.
Gateway side: HTTPS verified against the lab CA on the canary-99-1 lab; backend side: plain HTTP
to the echo-1 pod's port. Prints both and their ratio.
"""

from __future__ import annotations

import asyncio
import ssl
import time

import aiohttp
import labproc

CONCURRENCY = 32
REQUESTS = 6000
WARMUP = 300


async def load(url: str, ssl_context: ssl.SSLContext | bool, n: int, concurrency: int = CONCURRENCY) -> tuple[float, int]:
    connector = aiohttp.TCPConnector(limit=concurrency, ssl=ssl_context)
    errors = 0
    remaining = n

    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return n / elapsed, errors


def measure(url: str, ssl_context: ssl.SSLContext | bool) -> tuple[float, int]:
    asyncio.run(load(url, ssl_context, WARMUP))
    return asyncio.run(load(url, ssl_context, REQUESTS))


def main() -> None:
    with labproc.running_lab() as (_, port, state):
        echo1 = next(p for p in state["extra"]["pods"] if p["name"].startswith("echo-1-"))
        ctx = ssl.create_default_context(cafile=state["ca_file"])
        gw_rps, gw_err = measure(f"https://localhost:{port}/echo", ctx)
        be_rps, be_err = measure(f"http://127.0.0.1:{echo1['port']}/echo", False)
    print(f"load: {REQUESTS} GET /echo, {CONCURRENCY} keep-alive connections, Python/aiohttp client")
    print(f"  through the gateway (HTTPS, verified): {gw_rps:8.0f} req/s  ({gw_err} non-200)")
    print(f"  straight to the echo-1 pod (HTTP):     {be_rps:8.0f} req/s  ({be_err} non-200)")
    print(f"  gateway / backend: {gw_rps / be_rps:.2f}")


if __name__ == "__main__":
    main()
