"""The dashboard's sessions: the cookie's row, its token and the company it acts on.

Also the companies a session can choose between (the company switcher).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import ApiToken, Company, DashboardSession


async def add_session(session: AsyncSession, row: DashboardSession) -> DashboardSession:
    session.add(row)
    await session.flush()
    return row


async def session_with_token(
    session: AsyncSession, secret_hash: bytes, now: dt.datetime
) -> tuple[DashboardSession, ApiToken, Company | None] | None:
    """The unexpired session with this cookie hash, its token (checked by the caller) and
    the company it acts on, in one query (every page asks)."""
    row = (
        await session.execute(
            select(DashboardSession, ApiToken, Company)
            .join(ApiToken, ApiToken.id == DashboardSession.token_id)
            .outerjoin(Company, Company.id == DashboardSession.company_id)
            .where(DashboardSession.secret_hash == secret_hash, DashboardSession.expires_at > now)
        )
    ).one_or_none()
    return (row[0], row[1], row[2]) if row is not None else None


async def delete_session(session: AsyncSession, session_id: int) -> None:
    await session.execute(delete(DashboardSession).where(DashboardSession.id == session_id))


async def choose_company(session: AsyncSession, session_id: int, company_id: int | None) -> None:
    await session.execute(
        update(DashboardSession)
        .where(DashboardSession.id == session_id)
        .values(company_id=company_id)
    )


async def delete_expired_sessions(session: AsyncSession, now: dt.datetime) -> None:
    await session.execute(delete(DashboardSession).where(DashboardSession.expires_at <= now))


async def company(session: AsyncSession, company_id: int) -> Company | None:
    return await session.get(Company, company_id)


async def companies(session: AsyncSession) -> Sequence[Company]:
    return (await session.scalars(select(Company).order_by(Company.name, Company.id))).all()
