"""Tokens: format, hashed storage, constant-time check, expiry, revocation, last-used."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import re

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.auth import repository, service, tokens
from askpro.auth.scopes import Scope
from askpro.db import Database
from askpro.models import ApiToken
from tests.fixtures.auth import create_token
from tests.fixtures.factories import create_company


def test_minted_token_format_and_entropy() -> None:
    minted = tokens.mint()
    assert re.fullmatch(r"askpro_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", minted.plaintext)
    secret_bytes = base64.urlsafe_b64decode(minted.secret + "=")
    assert len(secret_bytes) >= 32
    assert tokens.parse(minted.plaintext) == tokens.PresentedToken(minted.public_id, minted.secret)
    assert tokens.parse("askpro_xyz_abc") is None
    assert tokens.mint().public_id != minted.public_id


def test_secret_check_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = tokens.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    minted = tokens.mint()
    assert tokens.secret_matches(minted.secret, minted.secret_hash)
    assert not tokens.secret_matches("wrong", minted.secret_hash)
    assert not tokens.secret_matches(minted.secret, None)  # unknown id: compared all the same
    assert len(calls) == 3


async def test_only_the_sha256_of_the_secret_is_stored(session: AsyncSession) -> None:
    company = await create_company(session)
    issued = await create_token(session, company)
    await session.commit()
    secret = issued.plaintext.split("_", 2)[2]
    row = (await session.execute(select(ApiToken).where(ApiToken.id == issued.row.id))).scalar_one()
    assert row.secret_hash == hashlib.sha256(secret.encode()).digest()
    stored = " ".join(str(getattr(row, column.key)) for column in ApiToken.__table__.columns)
    assert secret not in stored


async def test_expired_revoked_unknown_are_rejected(session: AsyncSession) -> None:
    company = await create_company(session)
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    issued = await service.create_token(
        session,
        company_id=company.id,
        name="n",
        scopes=[Scope.STAFF_READ],
        expires_in=dt.timedelta(days=1),
        now=now,
    )
    ok = await service.authenticate(session, issued.plaintext, now=now + dt.timedelta(hours=23))
    assert ok.rejection is None
    late = await service.authenticate(session, issued.plaintext, now=now + dt.timedelta(days=1))
    assert late.rejection is service.TokenRejection.EXPIRED
    tampered = issued.plaintext[:-1] + ("A" if issued.plaintext[-1] != "A" else "B")
    assert (
        await service.authenticate(session, tampered)
    ).rejection is service.TokenRejection.UNKNOWN
    await service.revoke_token(session, company.id, issued.token.id)
    revoked = await service.authenticate(session, issued.plaintext, now=now)
    assert revoked.rejection is service.TokenRejection.REVOKED


async def test_company_tokens_cannot_hold_platform_scopes(session: AsyncSession) -> None:
    company = await create_company(session)
    with pytest.raises(service.ScopeNotAllowed):
        await service.create_token(
            session, company_id=company.id, name="n", scopes=[Scope.COMPANIES_READ]
        )


async def test_last_used_is_written_at_most_once_a_minute(
    session: AsyncSession, database: Database
) -> None:
    company = await create_company(session)
    issued = await create_token(session, company)
    await session.commit()
    start = dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC)

    async def touch(at: dt.datetime) -> bool:
        async with database.sessions() as own:
            written = await repository.touch_last_used(own, issued.row.id, at)
            await own.commit()
            return written

    # Twenty concurrent requests in the same minute: one write.
    results = await asyncio.gather(*(touch(start) for _ in range(20)))
    assert sum(results) == 1
    assert not await touch(start + dt.timedelta(seconds=59))
    assert await touch(start + dt.timedelta(seconds=60))

    async with database.sessions() as own:
        first = await service.authenticate(
            own, issued.plaintext, now=start + dt.timedelta(seconds=61)
        )
        await own.commit()
    assert first.token is not None
    assert first.token.last_used_at == start + dt.timedelta(seconds=60)


async def test_tokens_api_create_use_list_revoke(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    manager = await create_token(session, company, scopes=[Scope.TOKENS_WRITE, Scope.STAFF_READ])
    await session.commit()

    created = await api.post(
        "/api/v1/tokens",
        json={"name": "reader", "scopes": ["staff:read"], "expires_in_days": 30},
        headers=manager.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["company_id"] == company.id
    assert body["expires_at"] is not None
    new = {"Authorization": f"Bearer {body['token']}"}
    assert (await api.get("/api/v1/staff", headers=new)).status_code == 200
    assert (await api.get("/api/v1/services", headers=new)).status_code == 403

    escalation = await api.post(
        "/api/v1/tokens",
        json={"name": "root", "scopes": ["staff:write"]},
        headers=manager.headers,
    )
    assert escalation.status_code == 403
    assert escalation.json()["type"].endswith("/scope-escalation")

    listed = await api.get("/api/v1/tokens", headers=manager.headers)
    assert listed.status_code == 200
    assert {item["id"] for item in listed.json()["items"]} == {manager.row.id, body["id"]}
    assert "token" not in listed.json()["items"][0]
    assert "secret_hash" not in listed.text

    revoked = await api.delete(f"/api/v1/tokens/{body['id']}", headers=manager.headers)
    assert revoked.status_code == 204
    after = await api.get("/api/v1/staff", headers=new)
    assert after.status_code == 401
    assert after.headers["www-authenticate"].startswith("Bearer")


async def test_platform_token_manages_platform_tokens(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    platform = await create_token(session, None)
    await session.commit()
    created = await api.post(
        "/api/v1/tokens",
        json={"name": "ops", "scopes": ["companies:read"]},
        headers=platform.headers,
    )
    assert created.status_code == 201
    assert created.json()["company_id"] is None
    headers = {"Authorization": f"Bearer {created.json()['token']}"}
    assert (await api.get("/api/v1/companies", headers=headers)).status_code == 200
