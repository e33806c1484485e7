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


async def _live_worker_ids(database: Database) -> list[int]:
    async with database.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT id FROM procrastinate_workers "
                "WHERE last_heartbeat > now() - interval '2 seconds' ORDER BY id"
            )
        )
        return list(rows.scalars())


async def test_a_worker_whose_heartbeat_fails_is_restarted_and_heartbeats_again(
    database: Database, queue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """procrastinate stops a worker when its heartbeat fails once; ours starts a new one."""
    import asyncio
    import contextlib

    from askpro.observability import WORKER_RESTARTS

    monkeypatch.setattr(worker, "HEARTBEAT_SECONDS", 0.2)
    monkeypatch.setattr(worker, "RESTART_FIRST_DELAY", 0.1)
    real_update = worker.app.job_manager.update_heartbeat
    failures = {"left": 1}

    async def flaky_update(worker_id: int) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise OSError("connection dropped")  # what a restarting database looks like
        await real_update(worker_id)

    monkeypatch.setattr(worker.app.job_manager, "update_heartbeat", flaky_update)
    restarts_before = WORKER_RESTARTS._value.get()
    running = asyncio.create_task(worker.run_worker(concurrency=1, install_signal_handlers=False))
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while WORKER_RESTARTS._value.get() == restarts_before or not await _live_worker_ids(
            database
        ):
            assert not running.done(), "run_worker ended instead of restarting"
            assert asyncio.get_running_loop().time() < deadline, "no restarted worker"
            await asyncio.sleep(0.1)
        first = await _live_worker_ids(database)
        await asyncio.sleep(1)
        assert await _live_worker_ids(database) == first  # still heartbeating
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert failures["left"] == 0
    assert WORKER_RESTARTS._value.get() - restarts_before == 1
