"""The client's Prometheus metrics move with what happens."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import respx
from prometheus_client import REGISTRY

from askpro.integrations.calcom.breaker import CircuitBreaker
from askpro.integrations.calcom.cache import CalcomCache
from askpro.integrations.calcom.client import CalcomClient, RetryPolicy
from askpro.integrations.calcom.errors import CalcomCircuitOpenError, CalcomUnavailableError
from askpro.integrations.calcom.ratelimit import RateLimiter
from askpro.integrations.calcom.standin.server import RunningStandin
from tests.integrations.calcom.helpers import next_weekday_at


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_requests_retries_cache_and_rate_waits_are_counted(
    calcom_standin: RunningStandin,
) -> None:
    cache = CalcomCache(namespace="test:metrics")
    before = {
        "requests": value("askpro_calcom_requests_total", endpoint="slots.get", status="200"),
        "errors": value("askpro_calcom_requests_total", endpoint="slots.get", status="500"),
        "retries": value("askpro_calcom_retries_total", endpoint="slots.get", reason="unavailable"),
        "miss": value("askpro_calcom_cache_total", kind="slots", result="miss"),
        "hit": value("askpro_calcom_cache_total", kind="slots", result="hit"),
        "waits": value("askpro_calcom_rate_limit_wait_seconds_count"),
        "latency": value("askpro_calcom_request_seconds_count", endpoint="slots.get"),
    }
    calcom_standin.state.faults.errors = 1
    async with CalcomClient(
        calcom_standin.base_url,
        calcom_standin.api_key,
        cache=cache,
        rate_limiter=RateLimiter("metrics-test", limit=100),
        retry=RetryPolicy(attempts=2, wait_initial=0.01, wait_max=0.01, wait_jitter=0),
    ) as client:
        monday = next_weekday_at(0)
        for _ in range(3):
            await client.get_slots(1001, monday, monday + dt.timedelta(days=1))
    await cache.close()
    assert (
        value("askpro_calcom_requests_total", endpoint="slots.get", status="200")
        == before["requests"] + 1
    )
    assert (
        value("askpro_calcom_requests_total", endpoint="slots.get", status="500")
        == before["errors"] + 1
    )
    assert (
        value("askpro_calcom_retries_total", endpoint="slots.get", reason="unavailable")
        == before["retries"] + 1
    )
    assert value("askpro_calcom_cache_total", kind="slots", result="miss") == before["miss"] + 1
    assert value("askpro_calcom_cache_total", kind="slots", result="hit") == before["hit"] + 2
    assert value("askpro_calcom_rate_limit_wait_seconds_count") == before["waits"] + 2
    assert (
        value("askpro_calcom_request_seconds_count", endpoint="slots.get") == before["latency"] + 2
    )


async def test_breaker_state_gauge_and_rejections() -> None:
    base = "https://metrics.calcom.test"
    breaker = CircuitBreaker(base, threshold=1, ttl_seconds=30)
    async with respx.mock(base_url=base) as mock:
        mock.get("/v2/me").mock(return_value=httpx.Response(500, json={}))
        async with CalcomClient(
            base, "cal_k", breaker=breaker, retry=RetryPolicy(attempts=1)
        ) as client:
            assert value("askpro_calcom_breaker_state", base_url=base) == 0
            with pytest.raises(CalcomUnavailableError):
                await client.get_me()
            assert value("askpro_calcom_breaker_state", base_url=base) == 2
            with pytest.raises(CalcomCircuitOpenError):
                await client.get_me()
    assert value("askpro_calcom_breaker_rejections_total", base_url=base) == 1
