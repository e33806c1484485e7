"""The background-work facade over procrastinate.

Business code declares jobs with :func:`task` / :func:`periodic` and enqueues them with
:func:`enqueue`; it never imports procrastinate. Job arguments are ids, never payloads.
A job that chooses its own next attempt raises :class:`RetryLater` under a
:func:`retry_when_asked` policy.
Passing ``session`` to :func:`enqueue` defers the job on that session's connection, so
the job exists exactly when the transaction commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import procrastinate
from procrastinate import exceptions as procrastinate_exceptions
from procrastinate.jobs import Job
from procrastinate.retry import RetryDecision
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.observability import JOBS, WORKER_RESTARTS, get_logger, job_correlation_id

log = get_logger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Modules whose import registers tasks; workers import them all before fetching jobs.
TASK_MODULES: list[str] = [
    "askpro.worker",
    "askpro.webhooks.tasks",
    "askpro.booking.tasks",
    "askpro.integrations.calcom.sync.reconcile",
    "askpro.outbound.tasks",
]

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(),
    import_paths=TASK_MODULES,
)

AlreadyEnqueued = procrastinate_exceptions.AlreadyEnqueued

# A worker writes its heartbeat every HEARTBEAT_SECONDS; one silent for longer than
# STALLED_WORKER_SECONDS is dead: its running jobs are put back in the queue.
HEARTBEAT_SECONDS = 5.0
STALLED_WORKER_SECONDS = 20.0


def register_task_module(module: str) -> None:
    if module not in TASK_MODULES:
        TASK_MODULES.append(module)


def retry_policy(max_attempts: int, base_seconds: int) -> procrastinate.RetryStrategy:
    """Exponential backoff: ``base_seconds ** (attempt + 1)`` seconds between attempts."""
    return procrastinate.RetryStrategy(max_attempts=max_attempts, exponential_wait=base_seconds)


class RetryLater(Exception):
    """Raised by a job declared with a :func:`retry_when_asked` policy: run it again later.

    The job is retried after ``seconds`` whatever its attempt count (the job keeps its own).
    ``own_lock``, when given, replaces the job's lock while it waits, so the jobs queued
    behind that lock are not held back by it.
    """

    def __init__(self, seconds: float, reason: str, own_lock: str | None = None) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.own_lock = own_lock


class _RetryWhenAsked(procrastinate.BaseRetryStrategy):
    """The job decides through :class:`RetryLater`; anything else backs off, capped."""

    def __init__(self, *, max_attempts: int, base_seconds: float, max_seconds: float) -> None:
        self.max_attempts = max_attempts
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, RetryLater):
            return RetryDecision(retry_at=_in_seconds(exception.seconds), lock=exception.own_lock)
        if job.attempts >= self.max_attempts:
            return None
        delay = min(self.base_seconds * 2**job.attempts, self.max_seconds)
        return RetryDecision(retry_at=_in_seconds(delay))


def _in_seconds(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)


def retry_when_asked(
    *, max_attempts: int, base_seconds: float, max_seconds: float
) -> procrastinate.BaseRetryStrategy:
    """A job raising :class:`RetryLater` runs again when and under the lock it says.

    Any other exception (one the job did not expect to handle) is retried after
    ``min(base_seconds * 2 ** attempts, max_seconds)`` seconds, until ``max_attempts``.
    """
    return _RetryWhenAsked(
        max_attempts=max_attempts, base_seconds=base_seconds, max_seconds=max_seconds
    )


def task(
    name: str,
    *,
    retry: procrastinate.BaseRetryStrategy | int | bool = False,
    queue: str = "default",
) -> Callable[[Callable[P, Awaitable[R]]], Any]:
    """Declare an async job. It receives ``correlation_id`` (if given) in its log context."""

    def decorate(function: Callable[P, Awaitable[R]]) -> Any:
        @functools.wraps(function)
        async def run(*args: Any, correlation_id: str | None = None, **kwargs: Any) -> R:
            token = job_correlation_id.set(correlation_id)
            try:
                result = await function(*args, **kwargs)
            except Exception:
                JOBS.labels(name, "error").inc()
                raise
            finally:
                job_correlation_id.reset(token)
            JOBS.labels(name, "success").inc()
            return result

        return app.task(name=name, retry=retry, queue=queue)(run)

    return decorate


def periodic(cron: str, periodic_id: str = "") -> Callable[[Any], Any]:
    """Run a task declared with :func:`task` on a cron schedule (deferred by workers)."""
    return app.periodic(cron=cron, periodic_id=periodic_id)


async def enqueue(
    task_name: str,
    *,
    session: AsyncSession | None = None,
    lock: str | None = None,
    queueing_lock: str | None = None,
    schedule_in_seconds: float | None = None,
    correlation_id: str | None = None,
    **task_kwargs: Any,
) -> int:
    """Defer a job by task name; with ``session``, inside that session's transaction."""
    connection = None
    if session is not None:
        session_connection = await session.connection()
        raw = await session_connection.get_raw_connection()
        connection = raw.driver_connection
    options: dict[str, Any] = {"lock": lock, "queueing_lock": queueing_lock}
    if schedule_in_seconds is not None:
        options["schedule_in"] = {"seconds": schedule_in_seconds}
    if connection is not None:
        options["connection"] = connection
    if correlation_id is not None:
        task_kwargs["correlation_id"] = correlation_id
    deferrer = app.configure_task(name=task_name, **options)
    job_id: int = await deferrer.defer_async(**task_kwargs)
    return job_id


async def open_queue(libpq_url: str, *, max_size: int = 10) -> AsyncConnectionPool:
    """Open the queue's own connection pool (procrastinate listens on one connection).

    Connections are checked when they are taken from the pool: after a database restart
    the pool would otherwise hand the worker's heartbeat a dead connection, and one failed
    heartbeat stops a procrastinate worker.
    """
    pool = AsyncConnectionPool(
        libpq_url,
        min_size=1,
        max_size=max_size,
        open=False,
        check=AsyncConnectionPool.check_connection,
    )
    await pool.open(wait=True)
    await app.open_async(pool)
    return pool


async def close_queue(pool: AsyncConnectionPool) -> None:
    await app.close_async()
    await pool.close()


# Seconds between restarts of a worker that stopped on its own: doubling, capped; a worker
# that ran for RESTART_RESET_SECONDS before failing starts again from the first delay.
RESTART_FIRST_DELAY = 1.0
RESTART_MAX_DELAY = 30.0
RESTART_RESET_SECONDS = 60.0


async def run_worker(
    *, concurrency: int, install_signal_handlers: bool, name: str = "askpro"
) -> None:
    """Process jobs until cancelled (or SIGTERM/SIGINT with ``install_signal_handlers``).

    procrastinate stops its worker when one of its side tasks fails: a heartbeat or the
    periodic deferrer that meets a dropped connection, a restarting database, a full
    ``max_connections``. Its heartbeat stops with it, so its jobs are taken over after
    the stall timeout, but the process itself would serve nothing until restarted by hand
    (and the in-process worker of ``askpro serve`` would end silently). So the worker is
    supervised: whenever it stops without being asked to, it is logged and started again
    with backoff. A stop request lets the running jobs finish (up to 30 s).
    """
    import importlib

    for module in TASK_MODULES:
        importlib.import_module(module)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    if install_signal_handlers:
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stop_requested.set)
    delay = RESTART_FIRST_DELAY
    try:
        while True:
            log.info("worker.start", concurrency=concurrency, tasks=sorted(app.tasks))
            started = time.monotonic()
            outcome = await _run_until_stopped(concurrency, name, stop_requested)
            if outcome is None:
                return
            if time.monotonic() - started > RESTART_RESET_SECONDS:
                delay = RESTART_FIRST_DELAY
            WORKER_RESTARTS.inc()
            log.error("worker.restarting", reason=outcome, restart_in_s=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_requested.wait(), timeout=delay)
                return
            delay = min(delay * 2, RESTART_MAX_DELAY)
    finally:
        if install_signal_handlers:
            for number in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(number)


async def _run_until_stopped(
    concurrency: int, name: str, stop_requested: asyncio.Event
) -> str | None:
    """One procrastinate worker run: ``None`` when stopped on request, else why it ended."""
    run = asyncio.create_task(
        app.run_worker_async(
            name=name,
            concurrency=concurrency,
            wait=True,
            install_signal_handlers=False,
            shutdown_graceful_timeout=30,
            # A finished locked job wakes the workers (migration 20261201_lock_wakeup); the poll
            # only covers a wake-up lost while a fetch was running.
            fetch_job_polling_interval=0.25,
            update_heartbeat_interval=HEARTBEAT_SECONDS,
            stalled_worker_timeout=STALLED_WORKER_SECONDS,
        )
    )
    stop = asyncio.create_task(stop_requested.wait())
    try:
        await asyncio.wait({run, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not run.done():
            run.cancel()  # procrastinate stops gracefully on cancellation
        stop.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await run
    if stop_requested.is_set():
        return None
    error = run.exception() if not run.cancelled() else None
    if error is None:
        return "the worker stopped on its own (a side task failed; see the log above)"
    return f"{type(error).__name__}: {error}"


@task("askpro.retry_stalled_jobs")
async def retry_stalled_jobs(timestamp: int) -> int:
    """Put back jobs whose worker died (no heartbeat), so a killed worker loses nothing."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_WORKER_SECONDS)
    count = 0
    for job in stalled:
        await app.job_manager.retry_job(job)
        count += 1
    if count:
        log.warning("worker.stalled_jobs_retried", count=count)
    return count


periodic(cron="* * * * * */10", periodic_id="retry_stalled_jobs")(retry_stalled_jobs)


@task("askpro.prune_succeeded_jobs")
async def prune_succeeded_jobs(timestamp: int) -> None:
    """Drop succeeded jobs after a day: periodic jobs (the outbound dispatch runs every
    second) would otherwise grow the queue table by ~100k rows a day. Failed jobs stay."""
    await app.job_manager.delete_old_jobs(nb_hours=24)


periodic(cron="17 * * * *", periodic_id="prune_succeeded_jobs")(prune_succeeded_jobs)
