"""Use cases of the tenancy feature; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import Company
from askpro.tenancy import repository
from askpro.tenancy.schemas import CompanyCreate


async def create_company(session: AsyncSession, data: CompanyCreate) -> Company:
    return await repository.add_company(session, Company(**data.model_dump()))


async def list_companies(session: AsyncSession) -> Sequence[Company]:
    return await repository.list_companies(session)
