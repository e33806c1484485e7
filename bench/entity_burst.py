"""A burst of events for ONE entity through one worker: how long until all are processed.

Stores N Stripe events of one invoice (same entity key) through the ingest statement
(row + job in one), then starts ``askpro worker --concurrency 4`` and waits until every
event is settled. Per-entity order means they run one after another: the time is the
per-job cost plus the wake-up after each, which used to be the 1 s polling interval.
Prints ONE JSON line (time, events/s, whether processing followed arrival order).

    .venv/bin/python -m bench.entity_burst [--events 300]

The events' type (``invoice.finalized``) has no handler, so each job is the bare pipeline:
fetch, mark processing, settle ``ignored``; a handler's own time would add to each.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from bench import wrk
from bench.webhook_ingest import database_url, postgres_version

ROOT = Path(__file__).resolve().parents[1]
ENTITY = "in_bench_burst"


async def store_burst(url: str, count: int) -> None:
    from askpro.db import Database
    from askpro.webhooks import repository
    from askpro.webhooks.ingest import PROCESS_TASK, QUEUEING_LOCK_PREFIX
    from askpro.webhooks.providers import ParsedEvent

    database = Database(url, pool_size=1)
    try:
        async with database.driver_connection() as connection:
            for index in range(count):
                body = json.dumps(
                    {"id": f"evt_burst_{index}", "type": "invoice.finalized",
                     "data": {"object": {"id": ENTITY, "object": "invoice"}}}
                ).encode()  # fmt: skip
                parsed = ParsedEvent(
                    event_type="invoice.finalized",
                    dedup_key=f"evt_burst_{index}",
                    entity_key=f"stripe:invoice:{ENTITY}",
                    occurred_at=dt.datetime.now(dt.UTC),
                )
                delivery = repository.Delivery(
                    provider="stripe",
                    parsed=parsed,
                    body=body,
                    headers={},
                    correlation_id=None,
                    verified_company_id=None,
                )
                await repository.insert_and_enqueue(
                    connection,
                    delivery,
                    task_name=PROCESS_TASK,
                    queueing_lock_prefix=QUEUEING_LOCK_PREFIX,
                )
    finally:
        await database.dispose()


def settled(url: str) -> tuple[int, list[int]]:
    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT id FROM webhook_events WHERE status IN ('processed', 'ignored')"
            " ORDER BY processed_at, id"
        ).fetchall()
    return len(rows), [row[0] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()

    url = database_url()
    from askpro import migrations

    migrations.upgrade(url)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("TRUNCATE webhook_events, procrastinate_jobs CASCADE")
    asyncio.run(store_burst(url, args.events))
    log = ROOT / "var" / "bench" / "entity_burst_worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "askpro", "worker", "--concurrency", str(args.concurrency)],
            cwd=ROOT,
            env={**os.environ, "ASKPRO_DATABASE_URL": url, "ASKPRO_LOG_LEVEL": "WARNING"},
            stdout=output,
            stderr=output,
        )
    started = time.monotonic()
    first_done: float | None = None
    try:
        while True:
            done, order = settled(url)
            if done and first_done is None:
                first_done = time.monotonic()
            if done >= args.events or time.monotonic() - started > args.timeout:
                break
            time.sleep(0.05)
        finished = time.monotonic()
    finally:
        worker.terminate()
        worker.wait(timeout=40)
    draining = finished - (first_done or finished)
    print(
        json.dumps(
            {
                "bench": "entity_burst",
                "machine": wrk.machine(),
                "events": args.events,
                "worker_concurrency": args.concurrency,
                "processed": done,
                # From the first settled event to the last: the burst itself, without the
                # worker process's start-up.
                "drain_seconds": round(draining, 2),
                "events_per_s": round((done - 1) / draining, 1) if draining else None,
                "including_worker_start_seconds": round(finished - started, 2),
                "in_arrival_order": order == sorted(order),
                "target_seconds": 10,
                "versions": wrk.versions() | {"postgresql": postgres_version(url)},
            }
        )
    )


if __name__ == "__main__":
    main()
