"""The client-side rate limit: per API key, waits within the deadline, shared via Redis."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from askpro.integrations.calcom.client import CalcomClient, RetryPolicy
from askpro.integrations.calcom.errors import CalcomRateLimitError
from askpro.integrations.calcom.ratelimit import RateLimiter, account_id
from askpro.integrations.calcom.standin.server import RunningStandin

REDIS_URL = os.environ.get("ASKPRO_TEST_REDIS_URL")
ROOT = Path(__file__).parents[3]


def limited_client(standin: RunningStandin, limiter: RateLimiter, deadline: float) -> CalcomClient:
    return CalcomClient(
        standin.base_url,
        standin.api_key,
        rate_limiter=limiter,
        retry=RetryPolicy(attempts=1),
        deadlines={"me.get": deadline},
    )


async def test_callers_wait_for_budget_within_their_deadline(
    calcom_standin: RunningStandin,
) -> None:
    limiter = RateLimiter(account_id("k"), limit=5, window_seconds=1)
    async with limited_client(calcom_standin, limiter, deadline=3.0) as client:
        started = time.monotonic()
        await asyncio.gather(*(client.get_me() for _ in range(8)))
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3.0  # the last three waited for the window to move
    assert len(calcom_standin.state.requests) == 8


async def test_callers_get_rate_limit_error_when_the_wait_exceeds_the_deadline(
    calcom_standin: RunningStandin,
) -> None:
    limiter = RateLimiter(account_id("k"), limit=120)
    async with limited_client(calcom_standin, limiter, deadline=0.5) as client:
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(client.get_me() for _ in range(150)), return_exceptions=True
        )
        elapsed = time.monotonic() - started
    limited = [o for o in outcomes if isinstance(o, CalcomRateLimitError)]
    assert len(limited) == 30
    assert all(o.retry_after > 0.5 for o in limited)
    assert len(calcom_standin.state.requests) == 120
    assert elapsed < 5
    assert await limiter.remaining() == 0


async def test_budgets_are_per_api_key(calcom_standin: RunningStandin) -> None:
    first = RateLimiter(account_id("cal_a"), limit=2)
    second = RateLimiter(account_id("cal_b"), limit=2)
    for limiter in (first, second):
        async with limited_client(calcom_standin, limiter, deadline=0.2) as client:
            await client.get_me()
            await client.get_me()
            with pytest.raises(CalcomRateLimitError):
                await client.get_me()


@pytest.mark.redis
@pytest.mark.skipif(REDIS_URL is None, reason="set ASKPRO_TEST_REDIS_URL to test the Redis limit")
def test_four_processes_sharing_redis_send_at_most_120_per_minute(
    calcom_standin: RunningStandin,
) -> None:
    assert REDIS_URL is not None
    namespace = f"test:calcom:{uuid.uuid4().hex}"
    code = (
        "from tests.integrations.calcom.ratelimit_worker import run; import sys; "
        "run(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], 100)"
    )
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                code,
                calcom_standin.base_url,
                calcom_standin.api_key,
                REDIS_URL,
                namespace,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err[-2000:]
        ok, limited = map(int, out.split()[-2:])
        results.append((ok, limited))
    assert sum(ok + limited for ok, limited in results) == 400
    assert len(calcom_standin.state.requests) <= 120  # what reached "Cal.com" in the minute
    assert sum(ok for ok, _ in results) == len(calcom_standin.state.requests)
    assert sum(ok for ok, _ in results) == 120  # and the budget was used, not wasted


@pytest.mark.redis
@pytest.mark.skipif(REDIS_URL is None, reason="set ASKPRO_TEST_REDIS_URL to test Redis sharing")
async def test_breaker_and_cache_state_are_shared_through_redis(
    calcom_standin: RunningStandin,
) -> None:
    """Two clients with separate breaker/cache objects (as two processes would have)."""
    import datetime as dt

    from askpro.integrations.calcom.breaker import CircuitBreaker
    from askpro.integrations.calcom.cache import CalcomCache
    from askpro.integrations.calcom.errors import CalcomCircuitOpenError, CalcomUnavailableError
    from tests.integrations.calcom.helpers import next_weekday_at

    assert REDIS_URL is not None
    base = f"{calcom_standin.base_url}/{uuid.uuid4().hex}"  # a breaker name of its own
    namespace = f"test:calcom:{uuid.uuid4().hex}"
    first_cache = CalcomCache(REDIS_URL, namespace=namespace)
    second_cache = CalcomCache(REDIS_URL, namespace=namespace)
    first = CalcomClient(
        calcom_standin.base_url,
        calcom_standin.api_key,
        retry=RetryPolicy(attempts=1),
        breaker=CircuitBreaker(base, threshold=2, ttl_seconds=30, redis_url=REDIS_URL),
        cache=first_cache,
    )
    second = CalcomClient(
        calcom_standin.base_url,
        calcom_standin.api_key,
        retry=RetryPolicy(attempts=1),
        breaker=CircuitBreaker(base, threshold=2, ttl_seconds=30, redis_url=REDIS_URL),
        cache=second_cache,
    )
    try:
        monday = next_weekday_at(0)
        window = (monday, monday + dt.timedelta(days=1))
        calcom_standin.state.faults.latency_seconds = 0.2
        # Concurrent misses in two "processes": one fetches, the other waits for its value.
        results = await asyncio.gather(
            *(client.get_slots(1001, *window) for client in (first, second) for _ in range(20))
        )
        assert all(result == results[0] for result in results)
        assert sum(r.path == "/v2/slots" for r in calcom_standin.state.requests) == 1
        calcom_standin.state.faults.latency_seconds = 0

        calcom_standin.state.faults.errors = 2
        for _ in range(2):
            with pytest.raises(CalcomUnavailableError):
                await first.get_me()
        before = len(calcom_standin.state.requests)
        with pytest.raises(CalcomCircuitOpenError):
            await second.get_me()  # opened by the other "process"
        assert len(calcom_standin.state.requests) == before
    finally:
        await first.aclose()
        await second.aclose()
        await first_cache.clear()
        await first_cache.close()
        await second_cache.close()
