"""The background-work facade over procrastinate.

Business code declares jobs with :func:`task` / :func:`periodic` and enqueues them with
:func:`enqueue`; it never imports procrastinate. Job arguments are ids, never payloads.
Passing ``session`` to :func:`enqueue` defers the job on that session's connection, so
the job exists exactly when the transaction commits.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import procrastinate
from procrastinate import exceptions as procrastinate_exceptions
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.observability import JOBS, get_logger, job_correlation_id

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


def register_task_module(module: str) -> None:
    if module not in TASK_MODULES:
        TASK_MODULES.append(module)


def retry_policy(max_attempts: int, base_seconds: int) -> procrastinate.RetryStrategy:
    """Exponential backoff: ``base_seconds ** (attempt + 1)`` seconds between attempts."""
    return procrastinate.RetryStrategy(max_attempts=max_attempts, exponential_wait=base_seconds)


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
    """Open the queue's own connection pool (procrastinate listens on one connection)."""
    pool = AsyncConnectionPool(libpq_url, min_size=1, max_size=max_size, open=False)
    await pool.open(wait=True)
    await app.open_async(pool)
    return pool


async def close_queue(pool: AsyncConnectionPool) -> None:
    await app.close_async()
    await pool.close()


async def run_worker(
    *, concurrency: int, install_signal_handlers: bool, name: str = "askpro"
) -> None:
    """Process jobs until cancelled; running jobs get 30 s to finish on shutdown."""
    import importlib

    for module in TASK_MODULES:
        importlib.import_module(module)
    log.info("worker.start", concurrency=concurrency, tasks=sorted(app.tasks))
    await app.run_worker_async(
        name=name,
        concurrency=concurrency,
        wait=True,
        install_signal_handlers=install_signal_handlers,
        shutdown_graceful_timeout=30,
        # A finished locked job wakes the workers (migration 20261201_lock_wakeup); the poll
        # only covers a wake-up lost while a fetch was running.
        fetch_job_polling_interval=0.25,
        update_heartbeat_interval=5,
        stalled_worker_timeout=20,
    )


@task("askpro.retry_stalled_jobs")
async def retry_stalled_jobs(timestamp: int) -> int:
    """Put back jobs whose worker died (no heartbeat), so a killed worker loses nothing."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=20)
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
