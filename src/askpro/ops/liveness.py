"""Is anything working the queue? Live workers, the oldest waiting event, and the alarm.

A webhook is acknowledged as soon as its inbox row commits; a worker processes it later.
If no worker is alive, acknowledged events wait silently. Every web process therefore
looks, every ``WATCH_INTERVAL_SECONDS``, at the workers' heartbeats (procrastinate's
``procrastinate_workers`` table) and at the oldest inbox row still ``received``; when
events have waited longer than ``ASKPRO_QUEUE_ALARM_SECONDS`` and no worker is alive it
logs ``queue.unattended`` (an error) and sets ``askpro_queue_unattended`` to 1.
``/health/ready`` reports the same figures.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.observability import get_logger
from askpro.runtime import Runtime
from askpro.worker import STALLED_WORKER_SECONDS

log = get_logger(__name__)

WATCH_INTERVAL_SECONDS = 15.0

WORKERS_ALIVE = Gauge(
    "askpro_workers_alive", "Queue workers whose heartbeat is recent (seen from this process)."
)
OLDEST_RECEIVED_AGE = Gauge(
    "askpro_webhook_oldest_received_age_seconds",
    "Age of the oldest acknowledged webhook not yet picked up by a worker (0: none waiting).",
)
UNATTENDED = Gauge(
    "askpro_queue_unattended",
    "1 while events wait longer than ASKPRO_QUEUE_ALARM_SECONDS and no worker is alive.",
)
UNATTENDED_ALARMS = Counter(
    "askpro_queue_unattended_alarms_total", "Checks that found the queue unattended."
)

_QUERY = text(
    """
    SELECT
      (SELECT count(*) FROM procrastinate_workers
        WHERE last_heartbeat > now() - make_interval(secs => :stalled)) AS workers_alive,
      (SELECT count(*) FROM webhook_events WHERE status = 'received') AS received,
      (SELECT extract(epoch FROM now() - min(received_at)) FROM webhook_events
        WHERE status = 'received') AS oldest_age
    """
)


@dataclass(frozen=True)
class QueueLiveness:
    workers_alive: int
    received_events: int
    oldest_received_age_seconds: float | None
    alarm_seconds: float

    @property
    def unattended(self) -> bool:
        """Events have waited past the threshold and no worker is alive to take them."""
        age = self.oldest_received_age_seconds
        return self.workers_alive == 0 and age is not None and age > self.alarm_seconds

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"unattended": self.unattended}


async def measure(session: AsyncSession, alarm_seconds: float) -> QueueLiveness:
    row = (await session.execute(_QUERY, {"stalled": STALLED_WORKER_SECONDS})).one()
    age = None if row.oldest_age is None else round(float(row.oldest_age), 1)
    liveness = QueueLiveness(int(row.workers_alive), int(row.received), age, alarm_seconds)
    WORKERS_ALIVE.set(liveness.workers_alive)
    OLDEST_RECEIVED_AGE.set(age or 0)
    UNATTENDED.set(1 if liveness.unattended else 0)
    return liveness


async def check_once(runtime: Runtime) -> QueueLiveness:
    """Measure, and raise the alarm (metric and log line) when the queue is unattended."""
    async with runtime.database.session() as session:
        liveness = await measure(session, runtime.settings.queue_alarm_seconds)
    if liveness.unattended:
        UNATTENDED_ALARMS.inc()
        log.error(
            "queue.unattended",
            received_events=liveness.received_events,
            oldest_received_age_s=liveness.oldest_received_age_seconds,
            workers_alive=0,
            hint="start `askpro worker` (or `askpro serve` without --no-worker)",
        )
    return liveness


async def watch(runtime: Runtime, interval: float = WATCH_INTERVAL_SECONDS) -> None:
    """Check forever (a web process's background task); a failed check is retried later."""
    while True:
        with contextlib.suppress(Exception):  # the database may be down: /health/ready says so
            await check_once(runtime)
        await asyncio.sleep(interval)
