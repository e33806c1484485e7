"""The ``Database``: one server's engine (its pool), session factories and the pool's own
psycopg connection for one-statement hot paths."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util.concurrency import greenlet_spawn

from askpro.db._transactions import DeadConnection, unit_of_work
from askpro.db._urls import sqlalchemy_url

T = TypeVar("T")

# The pool's own psycopg connection, for the few one-statement hot paths (see
# ``Database.driver_connection``).
DriverConnection = psycopg.AsyncConnection[Any]

POOL_RECYCLE_SECONDS = 900
IDLE = TransactionStatus.IDLE


def engine_options(pool_size: int) -> dict[str, Any]:
    """The pool every engine uses (askpro's, and the bench baseline's for a fair comparison).

    Up to ``2 * pool_size`` connections, opened as needed and then KEPT: no overflow.
    SQLAlchemy closes an overflow connection as soon as it comes back while the pool holds
    ``pool_size`` idle ones, so under a sustained load above ``pool_size`` requests in
    flight every few requests paid a new connection (a PostgreSQL backend started and
    stopped): webhook ingest ran at 420 instead of 550 requests/s. The ceiling stays what
    ``pool_size`` + overflow allowed before (``docs/deployment.md`` plans for it).

    No pre-ping: it costs a round trip on every checkout, i.e. on every request. Connections
    are recycled after ``POOL_RECYCLE_SECONDS`` instead, and work that meets a connection
    the server dropped runs once more on a fresh one (:func:`retry_on_dead_connection`).
    """
    return {
        "pool_size": 2 * pool_size,
        "max_overflow": 0,
        "pool_pre_ping": False,
        "pool_recycle": POOL_RECYCLE_SECONDS,
        "pool_timeout": 10,
    }


# What PostgreSQL may call UTC itself (initdb takes "Etc/UTC" from the system). psycopg
# loads a timestamptz about three times faster in a session whose TimeZone is literally
# "UTC" (``datetime.timezone.utc``; an alias gets a ``ZoneInfo``, slow to convert to): a
# fifth of a list page's CPU. Only these sessions are renamed, so nothing else changes.
UTC_ALIASES = frozenset(
    {"Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"}
)


def _utc_by_its_name(dbapi_connection: Any, _record: object) -> None:
    """``connect`` listener: a session in an alias of UTC is set to ``UTC`` (same zone)."""
    driver: psycopg.AsyncConnection[Any] = dbapi_connection.driver_connection
    if driver.info.parameter_status("TimeZone") not in UTC_ALIASES:
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET TIME ZONE 'UTC'")
    finally:
        cursor.close()
    dbapi_connection.commit()  # the SET began a transaction; its end would undo it


class Database:
    """The engine and session factory of one PostgreSQL database."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            sqlalchemy_url(url), echo=echo, **engine_options(pool_size)
        )
        event.listen(self.engine.sync_engine, "connect", _utc_by_its_name)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False, autoflush=False
        )
        # Every statement its own transaction: no BEGIN before the first statement and no
        # ROLLBACK/COMMIT at the end (two round trips of three on a list request). For reads
        # (each statement takes its own snapshot under READ COMMITTED anyway) and for work
        # that is one statement.
        self.autocommit_sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"),
            expire_on_commit=False,
            autoflush=False,
        )

    async def dispose(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[DriverConnection]:
        """A pooled connection's psycopg connection itself, in autocommit, for hot paths
        that are one statement each (the webhook acknowledgement, the hot list reads).

        It skips SQLAlchemy's statement machinery (compilation, parameter and result
        processing) and its ``Connection`` (events, isolation-level switching, greenlet
        hops): checked out of the pool as a raw connection, about a third of the CPU of an
        ``engine.connect()``. The connection goes back to the pool as it came (autocommit
        off, idle). One left not idle (a statement interrupted) is invalidated, so the
        pool replaces it; one found broken too, and :class:`DeadConnection` is raised for
        :func:`retry_on_dead_connection`.
        """
        pooled = await self.engine.raw_connection()
        driver = pooled.driver_connection
        assert isinstance(driver, psycopg.AsyncConnection)
        clean = False
        try:
            await driver.set_autocommit(True)
            try:
                yield driver
            except psycopg.OperationalError as error:
                if not (driver.broken or driver.closed):
                    raise
                raise DeadConnection(str(error).splitlines()[0] if str(error) else "") from error
            finally:
                if not driver.closed and driver.info.transaction_status is IDLE:
                    await driver.set_autocommit(False)
                    clean = True
        finally:
            if not clean:
                await greenlet_spawn(pooled.invalidate)
            await greenlet_spawn(pooled.close)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def unit_of_work(
        self, work: Callable[[AsyncSession], Awaitable[T]], *, name: str = "unit_of_work"
    ) -> T:
        """Run ``work`` in one transaction; see :func:`unit_of_work`."""
        return await unit_of_work(self.sessions, work, name=name)
