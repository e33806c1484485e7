"""Queries of the tenancy feature."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import Company


async def add_company(session: AsyncSession, company: Company) -> Company:
    session.add(company)
    await session.flush()
    return company


async def list_companies(session: AsyncSession, *, limit: int = 200) -> Sequence[Company]:
    result = await session.execute(select(Company).order_by(Company.id).limit(limit))
    return result.scalars().all()


async def find_company_by_name(session: AsyncSession, name: str) -> Company | None:
    result = await session.execute(select(Company).where(Company.name == name).limit(1))
    return result.scalar_one_or_none()
