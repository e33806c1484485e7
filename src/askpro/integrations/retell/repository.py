"""The queries the agent's tools make (tenant-scoped: ``company_id`` first)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import Call, Staff


async def staff_named(session: AsyncSession, company_id: int, name: str) -> Staff | None:
    """The first active staff member whose name contains ``name`` (case-insensitive)."""
    return (
        await session.execute(
            select(Staff)
            .where(
                Staff.company_id == company_id,
                Staff.active.is_(True),
                func.lower(Staff.name).contains(name.casefold(), autoescape=True),
            )
            .order_by(Staff.id)
            .limit(1)
        )
    ).scalar_one_or_none()


async def call_row_id(session: AsyncSession, retell_call_id: str) -> int | None:
    return (
        await session.execute(select(Call.id).where(Call.call_id == retell_call_id))
    ).scalar_one_or_none()
