"""The transaction helper: commit, rollback on any error, re-run on deadlock."""

from __future__ import annotations

import asyncio
import datetime as dt

import psycopg
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.db import Database, DeadConnection, unit_of_work
from askpro.models import Branch, Company
from tests.fixtures.factories import create_company


async def test_unit_of_work_reruns_the_unit_after_a_real_deadlock(database: Database) -> None:
    async def seed(session: AsyncSession) -> tuple[int, int]:
        first = await create_company(session, name="first")
        second = await create_company(session, name="second")
        return first.id, second.id

    first_id, second_id = await database.unit_of_work(seed)
    attempts = {"forward": 0, "backward": 0}
    both_hold_their_first_lock = asyncio.Barrier(2)

    def crossing_update(label: str, lock_first: int, lock_second: int):  # type: ignore[no-untyped-def]
        async def work(session: AsyncSession) -> None:
            attempts[label] += 1
            await session.execute(
                update(Company).where(Company.id == lock_first).values(locale=label[:2])
            )
            if attempts[label] == 1:
                await both_hold_their_first_lock.wait()
            await session.execute(
                update(Company).where(Company.id == lock_second).values(locale=label[:2])
            )

        return work

    await asyncio.gather(
        unit_of_work(
            database.sessions, crossing_update("forward", first_id, second_id), name="forward"
        ),
        unit_of_work(
            database.sessions, crossing_update("backward", second_id, first_id), name="backward"
        ),
    )

    assert sorted(attempts.values()) == [1, 2], (
        "exactly one unit is the deadlock victim and re-runs once"
    )
    async with database.sessions() as session:
        locales = set((await session.execute(select(Company.locale))).scalars())
    victim = "forward" if attempts["forward"] == 2 else "backward"
    assert locales == {victim[:2]}, "the re-run unit committed last, so its writes stand"


async def test_an_exception_mid_unit_leaves_no_partial_rows(database: Database) -> None:
    class Boom(Exception):
        pass

    async def work(session: AsyncSession) -> None:
        company = await create_company(session, name="half-made")
        session.add(Branch(company_id=company.id, name="never"))
        await session.flush()
        raise Boom

    with pytest.raises(Boom):
        await database.unit_of_work(work)

    async with database.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Company))).scalar_one() == 0
        assert (await session.execute(select(func.count()).select_from(Branch))).scalar_one() == 0


async def test_a_non_retryable_error_is_not_rerun(database: Database) -> None:
    calls = 0

    async def work(session: AsyncSession) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        await database.unit_of_work(work)
    assert calls == 1


async def test_a_connection_killed_before_commit_reruns_the_unit_on_a_fresh_one(
    database: Database, database_url: str
) -> None:
    """No pre-ping on checkout: a pooled connection the server dropped fails the first
    statement, and the unit runs again (nothing of the first attempt was committed)."""
    own = Database(database_url, pool_size=1)
    pids: list[int] = []

    async def work(session: AsyncSession) -> int:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        pids.append(pid)
        if len(pids) == 1:
            with psycopg.connect(database_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        company = await create_company(session, name=f"attempt {len(pids)}")
        return company.id

    try:
        company_id = await own.unit_of_work(work, name="test.dead_connection")
    finally:
        await own.dispose()
    assert len(pids) == 2
    assert pids[0] != pids[1]
    async with database.sessions() as session:
        names = (await session.execute(select(Company.name))).scalars().all()
        assert list(names) == ["attempt 2"]
        assert (await session.get(Company, company_id)) is not None


async def test_the_driver_connection_goes_back_as_it_came_or_not_at_all(database_url: str) -> None:
    """A read on the driver connection (the hot list reads) is in autocommit; the pool gets
    the connection back idle with autocommit off, after a failed or cancelled statement
    too (psycopg cancels it on the server). One the server killed is discarded
    (:class:`DeadConnection`, for the retry)."""
    own = Database(database_url, pool_size=1)
    try:
        async with own.driver_connection() as connection:
            assert connection.autocommit
            first = (await (await connection.execute("SELECT pg_backend_pid()")).fetchone())[0]
        with pytest.raises(psycopg.errors.DivisionByZero):
            async with own.driver_connection() as connection:
                await connection.execute("SELECT 1 / 0")
        async with own.sessions() as session:  # the same pooled connection, as it was
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            assert pid == first
            raw = await (await session.connection()).get_raw_connection()
            assert not raw.driver_connection.autocommit  # type: ignore[union-attr]

        async def slow() -> None:
            async with own.driver_connection() as connection:
                await connection.execute("SELECT pg_sleep(5)")

        task = asyncio.create_task(slow())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with own.driver_connection() as connection:
            second = (await (await connection.execute("SELECT pg_backend_pid()")).fetchone())[0]
            sleeping = await connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(5)'"
                " AND state = 'active'"
            )
            assert (await sleeping.fetchone()) == (0,)

        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (second,))
        with pytest.raises(DeadConnection):
            async with own.driver_connection() as connection:
                await connection.execute("SELECT 1")
        async with own.driver_connection() as connection:
            third = (await (await connection.execute("SELECT pg_backend_pid()")).fetchone())[0]
            assert third != second
    finally:
        await own.dispose()


@pytest.mark.parametrize(
    ("server_zone", "session_zone"),
    [("Etc/UTC", "UTC"), ("UTC", "UTC"), ("Europe/Berlin", "Europe/Berlin")],
)
async def test_a_session_in_an_alias_of_utc_is_named_utc_and_no_other_is_touched(
    database_url: str, server_zone: str, session_zone: str
) -> None:
    """psycopg loads timestamptz fastest under the literal name ``UTC``; the zone (and so
    every answer and every SQL date function) stays what the server says."""
    separator = "&" if "?" in database_url else "?"
    own = Database(f"{database_url}{separator}options=-c%20TimeZone%3D{server_zone}", pool_size=1)
    try:
        async with own.sessions() as session:
            zone = (await session.execute(text("SHOW TimeZone"))).scalar_one()
            moment = (
                await session.execute(text("SELECT timestamptz '2030-01-01 12:00+00'"))
            ).scalar_one()
        assert zone == session_zone
        assert moment.utcoffset() == (
            dt.timedelta(hours=1) if "Berlin" in zone else dt.timedelta(0)
        )
        if zone == "UTC":
            assert moment.tzinfo is dt.UTC
    finally:
        await own.dispose()
