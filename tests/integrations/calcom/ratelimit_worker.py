"""One process of the shared-rate-limit test: fire requests, report what happened."""

from __future__ import annotations

import asyncio

from askpro.integrations.calcom.client import CalcomClient, RetryPolicy
from askpro.integrations.calcom.errors import CalcomRateLimitError
from askpro.integrations.calcom.ratelimit import RateLimiter, account_id, limits_storage


def run(base_url: str, api_key: str, redis_url: str, namespace: str, requests: int) -> None:
    ok, limited = asyncio.run(_fire(base_url, api_key, redis_url, namespace, requests))
    print(f"{ok} {limited}", flush=True)


async def _fire(
    base_url: str, api_key: str, redis_url: str, namespace: str, requests: int
) -> tuple[int, int]:
    limiter = RateLimiter(
        account_id(api_key), limit=120, storage=limits_storage(redis_url), namespace=namespace
    )
    async with CalcomClient(
        base_url,
        api_key,
        rate_limiter=limiter,
        retry=RetryPolicy(attempts=1),
        deadlines={"me.get": 1.5},
    ) as client:
        outcomes = await asyncio.gather(
            *(client.get_me() for _ in range(requests)), return_exceptions=True
        )
    limited = sum(isinstance(outcome, CalcomRateLimitError) for outcome in outcomes)
    others = [
        o
        for o in outcomes
        if isinstance(o, BaseException) and not isinstance(o, CalcomRateLimitError)
    ]
    if others:
        raise others[0]
    return len(outcomes) - limited, limited
