"""Units of work and what makes one run again: deadlocks, serialization failures and
connections found dead (there is no pre-ping)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from askpro.observability import TRANSACTION_SECONDS, TRANSACTIONS, get_logger

log = get_logger(__name__)

T = TypeVar("T")

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
MAX_ATTEMPTS = 3


class DeadConnection(psycopg.OperationalError):
    """A pooled connection turned out dead (server restart, idle kill) while used directly.

    An ``OperationalError``: when the retry cannot help either, the answer is the 503
    ``database-unavailable`` (``kit.problems.is_database_unavailable``), not a 500.
    """


def is_dead_connection(error: BaseException) -> bool:
    """The statement failed because its connection was gone (server restart, idle kill)."""
    if isinstance(error, DeadConnection):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


async def retry_on_dead_connection(work: Callable[[], Awaitable[T]], *, name: str) -> T:
    """Run ``work``; if its connection turns out dead, run it once more on a fresh one.

    SQLAlchemy discards the dead connection (and every pooled one older than it), so the
    second attempt checks out a new connection. ``work`` must be safe to repeat: the first
    attempt's transaction never committed, or committed work is recognised on repeat (the
    webhook inbox's unique key answers the repeat as a duplicate).
    """
    try:
        return await work()
    except (DBAPIError, DeadConnection) as error:
        if not is_dead_connection(error):
            raise
        TRANSACTIONS.labels(name, "dead_connection_retry").inc()
        log.warning("database.dead_connection_retry", unit=name)
    return await work()


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, DBAPIError):
        sqlstate = getattr(error.orig, "sqlstate", None)
        return sqlstate in RETRYABLE_SQLSTATES
    return getattr(error, "sqlstate", None) in RETRYABLE_SQLSTATES


async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    name: str = "unit_of_work",
    max_attempts: int = MAX_ATTEMPTS,
) -> T:
    """Run ``work(session)`` in a transaction: commit on success, roll back on any error.

    A deadlock (40P01), a serialization failure (40001) or a connection found dead before
    the COMMIT re-runs the whole unit with a fresh session, up to ``max_attempts`` times
    with jittered exponential backoff; so ``work`` must do nothing outside the database
    that it cannot repeat.
    """
    started = time.perf_counter()
    attempt = 1
    while True:
        log.debug("transaction.start", unit=name, attempt=attempt)
        async with sessions() as session:
            committing = False
            try:
                result = await work(session)
                committing = True
                await session.commit()
            except BaseException as error:
                await session.rollback()
                # A connection found dead before COMMIT (there is no pre-ping) committed
                # nothing: retried like a deadlock. One lost during COMMIT is ambiguous.
                dead = is_dead_connection(error) and not committing
                if (is_retryable(error) or dead) and attempt < max_attempts:
                    TRANSACTIONS.labels(name, "retry").inc()
                    delay = random.uniform(0.01, 0.05) * 2 ** (attempt - 1)
                    log.warning(
                        "transaction.retry",
                        unit=name,
                        attempt=attempt,
                        sqlstate=getattr(getattr(error, "orig", None), "sqlstate", None),
                        delay_ms=round(delay * 1000, 1),
                    )
                    await asyncio.sleep(delay)
                    attempt += 1
                    continue
                TRANSACTIONS.labels(name, "rollback").inc()
                duration = time.perf_counter() - started
                TRANSACTION_SECONDS.labels(name).observe(duration)
                log.info(
                    "transaction.rollback",
                    unit=name,
                    attempt=attempt,
                    error=type(error).__name__,
                    duration_ms=round(duration * 1000, 2),
                )
                raise
        duration = time.perf_counter() - started
        TRANSACTIONS.labels(name, "commit").inc()
        TRANSACTION_SECONDS.labels(name).observe(duration)
        log.debug(
            "transaction.commit", unit=name, attempt=attempt, duration_ms=round(duration * 1000, 2)
        )
        return result
