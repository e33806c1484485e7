"""Availability latency through the full Cal.com client path (rate limiter, breaker, cache)
against the stand-in over real HTTP with 200 ms added latency: cold (every lookup a miss)
and warm (in-process memory cache). Prints one JSON line.

    .venv/bin/python -m bench.calcom_slots [--cold 30] [--warm 2000] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import time

from askpro.integrations.calcom.breaker import CircuitBreaker
from askpro.integrations.calcom.cache import CalcomCache
from askpro.integrations.calcom.client import CalcomClient
from askpro.integrations.calcom.ratelimit import RateLimiter, account_id
from askpro.integrations.calcom.standin import StandinState
from askpro.integrations.calcom.standin.server import start_standin


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


async def measure(cold: int, warm: int, latency: float) -> dict[str, object]:
    state = StandinState()
    state.faults.latency_seconds = latency
    standin = start_standin(state)
    cache = CalcomCache(namespace="bench:calcom")
    client = CalcomClient(
        standin.base_url,
        standin.api_key,
        breaker=CircuitBreaker(standin.base_url),
        rate_limiter=RateLimiter(account_id(standin.api_key), limit=120),
        cache=cache,
    )
    today = dt.date.today()
    try:
        cold_ms: list[float] = []
        for offset in range(cold):  # a different day each time: always a miss
            started = time.perf_counter()
            await client.get_day_slots(1001, today + dt.timedelta(days=offset + 1), "Europe/Berlin")
            cold_ms.append((time.perf_counter() - started) * 1000)
        warm_ms: list[float] = []
        days = [today + dt.timedelta(days=offset + 1) for offset in range(min(cold, 7))]
        for index in range(warm):
            started = time.perf_counter()
            await client.get_day_slots(1001, days[index % len(days)], "Europe/Berlin")
            warm_ms.append((time.perf_counter() - started) * 1000)
        upstream = sum(1 for request in state.requests if request.path == "/v2/slots")
    finally:
        await client.aclose()
        await cache.close()
        standin.stop()
    return {
        "bench": "calcom_slots",
        "standin_latency_ms": latency * 1000,
        "cold_requests": cold,
        "cold_p50_ms": round(statistics.median(cold_ms), 2),
        "cold_p99_ms": round(percentile(cold_ms, 0.99), 2),
        "warm_requests": warm,
        "warm_p50_ms": round(statistics.median(warm_ms), 3),
        "warm_p99_ms": round(percentile(warm_ms, 0.99), 3),
        "upstream_slot_requests": upstream,
        "warm_p99_target_ms": 5,
        "warm_p99_met": percentile(warm_ms, 0.99) < 5,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", type=int, default=30)
    parser.add_argument("--warm", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2)
    arguments = parser.parse_args()
    result = asyncio.run(measure(arguments.cold, arguments.warm, arguments.latency))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
