"""The queue facade: jobs deferred on a session exist exactly when its transaction commits."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from askpro import worker
from askpro.db import Database
from askpro.models import Company


async def _job_count(database: Database) -> int:
    async with database.sessions() as session:
        return (await session.execute(text("SELECT count(*) FROM procrastinate_jobs"))).scalar_one()


async def test_a_job_deferred_in_a_committed_transaction_exists(
    database: Database, queue: None
) -> None:
    async def work(session: AsyncSession) -> None:
        session.add(Company(name="with job"))
        await worker.enqueue("askpro.retry_stalled_jobs", session=session, timestamp=0)

    await database.unit_of_work(work)
    assert await _job_count(database) == 1


async def test_a_rolled_back_transaction_takes_its_job_with_it(
    database: Database, queue: None
) -> None:
    async def work(session: AsyncSession) -> None:
        session.add(Company(name="never"))
        await session.flush()
        await worker.enqueue("askpro.retry_stalled_jobs", session=session, timestamp=0)
        raise RuntimeError("fail after enqueue")

    with pytest.raises(RuntimeError):
        await database.unit_of_work(work)
    assert await _job_count(database) == 0
    async with database.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Company))).scalar_one() == 0
