"""Queries of tokens and the audit log. ``company_id=None`` means platform-wide."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.kit.pagination import PageRequest, SortKey, paginate
from askpro.models import ApiToken, AuditLog

LAST_USED_GRANULARITY = dt.timedelta(minutes=1)


async def add_token(session: AsyncSession, token: ApiToken) -> ApiToken:
    session.add(token)
    await session.flush()
    await session.refresh(token)
    return token


async def find_token_by_public_id(session: AsyncSession, public_id: str) -> ApiToken | None:
    result = await session.execute(select(ApiToken).where(ApiToken.public_id == public_id))
    return result.scalar_one_or_none()


async def get_token(
    session: AsyncSession, company_id: int | None, token_id: int
) -> ApiToken | None:
    statement = select(ApiToken).where(ApiToken.id == token_id)
    if company_id is not None:
        statement = statement.where(ApiToken.company_id == company_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def list_tokens(
    session: AsyncSession, company_id: int | None, page: PageRequest
) -> tuple[list[ApiToken], str | None]:
    statement = select(ApiToken)
    if company_id is not None:
        statement = statement.where(ApiToken.company_id == company_id)
    return await paginate(session, statement, [SortKey(ApiToken.id)], page)


async def list_all_tokens(session: AsyncSession) -> Sequence[ApiToken]:
    return (await session.scalars(select(ApiToken).order_by(ApiToken.id))).all()


async def touch_last_used(session: AsyncSession, token_id: int, now: dt.datetime) -> bool:
    """Set ``last_used_at`` unless it was set less than a minute ago (one write a minute)."""
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .where(
            (ApiToken.last_used_at.is_(None))
            | (ApiToken.last_used_at <= now - LAST_USED_GRANULARITY)
        )
        .values(last_used_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def insert_audit_rows(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(AuditLog), list(rows))


async def list_audit_logs(
    session: AsyncSession,
    company_id: int | None,
    page: PageRequest,
    *,
    kind: str | None = None,
    token_id: int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> tuple[list[AuditLog], str | None]:
    """Newest first; a company sees only its own rows."""
    statement = select(AuditLog)
    if company_id is not None:
        statement = statement.where(AuditLog.company_id == company_id)
    if kind is not None:
        statement = statement.where(AuditLog.kind == kind)
    if token_id is not None:
        statement = statement.where(AuditLog.token_id == token_id)
    if since is not None:
        statement = statement.where(AuditLog.occurred_at >= since)
    if until is not None:
        statement = statement.where(AuditLog.occurred_at < until)
    return await paginate(session, statement, [SortKey(AuditLog.id)], page, descending=True)
