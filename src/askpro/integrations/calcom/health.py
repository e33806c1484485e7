"""Health of every configured Cal.com account: reachable, latency, breaker, rate budget."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.config import Settings
from askpro.integrations.calcom.client import CalcomClient
from askpro.integrations.calcom.errors import CalcomError
from askpro.integrations.calcom.service import client_for_key, company_api_key
from askpro.models import Company

# Health is public: answers are reused for a few seconds so probes cannot burn the
# 120/min budget of the account.
REUSE_SECONDS = 10.0
_last: dict[str, tuple[float, dict[str, Any]]] = {}


async def configured_accounts(
    session: AsyncSession, settings: Settings
) -> dict[str, tuple[CalcomClient, list[int]]]:
    """Every Cal.com account in use: the global key and each company's own key."""
    accounts: dict[str, tuple[CalcomClient, list[int]]] = {}
    if settings.calcom_api_key is not None:
        client = client_for_key(settings.calcom_api_key.get_secret_value(), settings)
        # The global key serves every company without its own key (the demo company too).
        without_own_key = await session.scalars(
            select(Company.id)
            .where(Company.calcom_api_key_encrypted.is_(None))
            .order_by(Company.id)
        )
        accounts[client.account] = (client, list(without_own_key))
    companies = await session.scalars(
        select(Company).where(Company.calcom_api_key_encrypted.is_not(None)).order_by(Company.id)
    )
    for company in companies:
        try:
            api_key = company_api_key(company, settings)
        except ValueError:
            continue  # undecryptable: reported by the company's own calls, not here
        if api_key:
            client = client_for_key(api_key, settings)
            accounts.setdefault(client.account, (client, []))[1].append(company.id)
    return accounts


async def check_account(client: CalcomClient, *, fresh: bool = False) -> dict[str, Any]:
    key = f"{client.base_url}|{client.account}"
    cached = _last.get(key)
    if cached is not None and not fresh and time.monotonic() - cached[0] < REUSE_SECONDS:
        return cached[1]
    started = time.perf_counter()
    report: dict[str, Any] = {"account": client.account, "base_url": client.base_url}
    try:
        await client.get_me()
        report["reachable"] = True
    except CalcomError as error:
        report["reachable"] = False
        report["error"] = f"{type(error).__name__}: {error.message}"
    report["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    report["breaker"] = await client.breaker.state() if client.breaker else "none"
    report["rate_budget_remaining"] = (
        await client.rate_limiter.remaining() if client.rate_limiter else None
    )
    report["ok"] = report["reachable"] and report["breaker"] != "opened"
    _last[key] = (time.monotonic(), report)
    return report


async def calcom_health(
    session: AsyncSession, settings: Settings, *, fresh: bool = False
) -> dict[str, Any]:
    accounts = await configured_accounts(session, settings)
    reports = await asyncio.gather(
        *(check_account(client, fresh=fresh) for client, _ in accounts.values())
    )
    for report, (_, company_ids) in zip(reports, accounts.values(), strict=True):
        report["companies"] = company_ids
    healthy = all(report["ok"] for report in reports)
    status = "ok" if healthy else "unavailable"
    if not reports:
        status = "not_configured"
    return {"status": status, "standin": settings.calcom_standin, "accounts": list(reports)}
