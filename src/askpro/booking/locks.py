"""Transaction-scoped advisory locks: they are released by commit or rollback, never leak."""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def advisory_key(*parts: object) -> int:
    """A stable signed 64-bit key for ``parts`` (PostgreSQL advisory locks take a bigint)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock(session: AsyncSession, *parts: object) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(*parts)})


async def lock_staff(session: AsyncSession, company_id: int, staff_ids: list[int]) -> None:
    """Lock each (company, staff) in ascending id order, so two bookings cannot deadlock."""
    for staff_id in sorted(set(staff_ids)):
        await lock(session, "booking", company_id, staff_id)
