"""Rate limits: 600/min per token on the API, 120/min per IP on public paths, none on webhooks."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.auth.ratelimit import RateLimiter, is_public_limited
from askpro.config import load_settings
from tests.fixtures.auth import create_token
from tests.fixtures.factories import create_company


async def test_the_601st_request_of_a_token_in_a_minute_is_refused(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    token = await create_token(session, company)
    other = await create_token(session, company)
    await session.commit()

    statuses = []
    for _ in range(600):
        response = await api.get("/api/v1/branches?limit=1", headers=token.headers)
        statuses.append(response.status_code)
    assert statuses == [200] * 600
    assert response.headers["RateLimit-Limit"] == "600"
    assert response.headers["RateLimit-Remaining"] == "0"

    refused = await api.get("/api/v1/branches?limit=1", headers=token.headers)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/rate-limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Remaining"] == "0"
    # Another token has its own budget.
    assert (await api.get("/api/v1/branches", headers=other.headers)).status_code == 200


async def test_public_endpoints_are_limited_per_ip_and_webhooks_never(app: FastAPI) -> None:
    @app.post("/webhooks/test-ping")
    async def ping() -> dict[str, str]:
        return {"status": "accepted"}

    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://askpro.test") as client:
        healths = [(await client.get("/health")).status_code for _ in range(120)]
        assert healths == [200] * 120
        refused = await client.get("/health")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert (await client.get("/metrics")).status_code == 429  # one budget per IP
        webhooks = [(await client.post("/webhooks/test-ping")).status_code for _ in range(300)]
        assert webhooks == [200] * 300

    other_ip = httpx.ASGITransport(app=app, client=("203.0.113.10", 4000))
    async with httpx.AsyncClient(transport=other_ip, base_url="http://askpro.test") as client:
        assert (await client.get("/health")).status_code == 200


def test_which_paths_are_limited_per_ip() -> None:
    assert is_public_limited("/health")
    assert is_public_limited("/health/ready")
    assert is_public_limited("/metrics")
    assert is_public_limited("/api/health/calcom")
    assert not is_public_limited("/webhooks/stripe")
    assert not is_public_limited("/retell/functions/book")
    assert not is_public_limited("/healthz-other")
    assert not is_public_limited("/api/v1/staff")


REDIS_URL = os.environ.get("ASKPRO_TEST_REDIS_URL")
HIT_SCRIPT = """
import asyncio, json, sys
from askpro.auth.ratelimit import RateLimiter
from askpro.config import load_settings

async def main():
    limiter = RateLimiter(load_settings(redis_url=sys.argv[1], _env_file=None))
    allowed = 0
    for _ in range(int(sys.argv[3])):
        allowed += (await limiter.hit_token(sys.argv[2])).allowed
    print(json.dumps({"allowed": allowed}))

asyncio.run(main())
"""


@pytest.mark.redis
@pytest.mark.skipif(REDIS_URL is None, reason="ASKPRO_TEST_REDIS_URL is not set")
async def test_two_processes_share_one_budget_through_redis() -> None:
    assert REDIS_URL is not None
    key = uuid.uuid4().hex[:16]

    def run() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", HIT_SCRIPT, REDIS_URL, key, "400"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    first, second = run(), run()
    outputs = [
        await asyncio.to_thread(process.communicate, timeout=60) for process in (first, second)
    ]
    for process, (_, stderr) in zip((first, second), outputs, strict=True):
        assert process.returncode == 0, stderr
    allowed = [json.loads(stdout)["allowed"] for stdout, _ in outputs]
    assert sum(allowed) == 600, allowed  # 800 attempts over two processes, one budget
    assert all(count > 0 for count in allowed), allowed

    limiter = RateLimiter(load_settings(redis_url=REDIS_URL, _env_file=None))
    verdict = await limiter.hit_token(key)
    assert not verdict.allowed
    assert int(verdict.headers()["Retry-After"]) >= 1


@pytest.mark.redis
@pytest.mark.skipif(REDIS_URL is None, reason="ASKPRO_TEST_REDIS_URL is not set")
async def test_api_answers_429_with_the_redis_backend(
    session: AsyncSession, runtime: object
) -> None:
    from askpro.app import create_app
    from askpro.runtime import Runtime

    assert isinstance(runtime, Runtime)
    settings = runtime.settings.model_copy(
        update={"redis_url": REDIS_URL, "rate_limit_per_token": "5/minute"}
    )
    app = create_app(settings, runtime=Runtime(settings=settings, database=runtime.database))
    company = await create_company(session)
    token = await create_token(session, company)
    await session.commit()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://askpro.test") as client:
        statuses = [
            (await client.get("/api/v1/branches", headers=token.headers)).status_code
            for _ in range(6)
        ]
    await app.state.audit_writer.close()
    assert statuses == [200] * 5 + [429]


async def test_requests_without_a_usable_token_are_limited_per_ip(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    token = await create_token(session, company)
    await session.commit()
    bad = {"Authorization": "Bearer askpro_0123456789abcdef_" + "B" * 43}
    statuses = [(await api.get("/api/v1/staff", headers=bad)).status_code for _ in range(120)]
    assert statuses == [401] * 120
    refused = await api.get("/api/v1/staff")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    # A valid token from the same address is not affected.
    assert (await api.get("/api/v1/staff", headers=token.headers)).status_code == 200


async def test_an_unreachable_redis_falls_back_to_a_per_process_budget() -> None:
    """Redis down neither refuses everyone nor lifts the limit: this process counts alone."""
    from askpro.kit.shared_state import degraded_components

    limiter = RateLimiter(
        load_settings(
            redis_url="redis://127.0.0.1:1/0", rate_limit_per_token="1/minute", _env_file=None
        )
    )
    verdicts = [await limiter.hit_token("abc") for _ in range(3)]
    assert [verdict.allowed for verdict in verdicts] == [True, False, False]
    assert "auth.ratelimit" in degraded_components()
