"""Outbound events: delivery throughput of ONE worker to a local receiver, and what writing
the outbox row adds to a booking. Prints ONE JSON line.

- ``delivery``: ``--events`` events of one company are sent by one in-process worker loop
  (``askpro.outbound.delivery.run_until_idle``, as the dispatch job runs it) to a receiver
  in another process on loopback (uvicorn, answers 204), pinned to another core.
- ``booking_path``: real bookings through ``askpro.booking.service.book`` (no calendar), one
  at a time, alternating with the outbox trigger enabled and disabled (``ALTER TABLE …
  DISABLE TRIGGER``; the same run, the same database); the added latency is the difference
  of the p50s.

The database is ``BENCH_DATABASE_URL`` or a fresh ``askpro_bench_outbound`` on an embedded
server under ``var/bench``.

    .venv/bin/python -m bench.outbound_events [--events 2000] [--bookings 200]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import psycopg

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "askpro_bench_outbound"
RECEIVER = (
    "import sys, uvicorn\n"
    "async def app(scope, receive, send):\n"
    "    if scope['type'] != 'http':\n"
    "        return\n"
    "    while (await receive()).get('more_body'):\n"
    "        pass\n"
    "    await send({'type': 'http.response.start', 'status': 204, 'headers': []})\n"
    "    await send({'type': 'http.response.body', 'body': b''})\n"
    "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[1]), log_level='warning',"
    " access_log=False)\n"
)


def database_url() -> str:
    configured = os.environ.get("BENCH_DATABASE_URL")
    if configured:
        return configured
    from askpro.db import start_embedded_postgres

    server = start_embedded_postgres(ROOT / "var" / "bench")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    return urlunsplit(urlsplit(server)._replace(path=f"/{DATABASE}"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 3)


def bookable_starts(count: int) -> list[dt.datetime]:
    """Distinct 30-minute starts inside the default opening hours, from the day after next."""
    berlin = ZoneInfo("Europe/Berlin")
    starts: list[dt.datetime] = []
    day = dt.date.today() + dt.timedelta(days=2)
    while len(starts) < count:
        if day.weekday() < 5:
            for hour in range(9, 17):
                for minute in (0, 30):
                    starts.append(dt.datetime.combine(day, dt.time(hour, minute), berlin))
        day += dt.timedelta(days=1)
    return starts[:count]


async def delivery_phase(url: str, events: int, port: int) -> dict[str, object]:
    from askpro.config import load_settings
    from askpro.db import Database
    from askpro.models import Company
    from askpro.outbound import delivery, service
    from askpro.outbound.schemas import (
        EndpointCreate,
        EventType,
        MessageKind,
        MessagePayload,
        Urgency,
    )
    from askpro.runtime import Runtime

    settings = load_settings(
        database_url=url, outbound_allow_local_targets=True, log_level="WARNING", _env_file=None
    )
    database = Database(url, pool_size=20)
    runtime = Runtime(settings, database)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        async with database.sessions() as session:
            company = Company(name="bench outbound")
            session.add(company)
            await session.flush()
            endpoint = EndpointCreate.model_validate(
                {"url": f"http://127.0.0.1:{port}/hooks", "event_types": ["message.taken"]}
            )
            await service.create_endpoint(session, company.id, endpoint, settings)
            for index in range(events):
                service.record_event(
                    session,
                    company.id,
                    EventType.MESSAGE_TAKEN,
                    MessagePayload(
                        message_id=index,
                        kind=MessageKind.MESSAGE,
                        call_id=f"call-{index}",
                        customer_id=None,
                        caller_name="Lisa Weber",
                        caller_number="+4915123456789",
                        message="Bitte rufen Sie mich wegen des Termins am Freitag zurück.",
                        urgency=Urgency.NORMAL,
                        callback_window=None,
                    ),
                )
            await session.commit()
        started = time.perf_counter()
        sent = await delivery.run_until_idle(runtime, max_seconds=120)
        elapsed = time.perf_counter() - started
        async with database.sessions() as session:
            from sqlalchemy import func, select

            from askpro.models import OutboundDelivery

            delivered = await session.scalar(
                select(func.count()).where(OutboundDelivery.status == "delivered")
            )
    finally:
        client = runtime.extras.get(delivery.HTTP_CLIENT)
        if client is not None:
            await client.aclose()
        await database.dispose()
    return {
        "events": events,
        "attempts": sent,
        "delivered": delivered,
        "seconds": round(elapsed, 2),
        "events_per_second": round(int(delivered or 0) / elapsed, 1),
    }


async def booking_phase(url: str, bookings: int) -> dict[str, object]:
    from sqlalchemy import text

    from askpro.booking.service import BookRequest, book
    from askpro.db import Database
    from askpro.models import Company, Service, Staff, StaffService

    database = Database(url, pool_size=5)
    try:
        async with database.sessions() as session:
            company = Company(name="bench booking", minimum_notice_minutes=0)
            session.add(company)
            await session.flush()
            staff = Staff(company_id=company.id, name="Anna")
            offered = Service(company_id=company.id, name="Haircut", duration_minutes=30)
            session.add_all([staff, offered])
            await session.flush()
            session.add(
                StaffService(staff_id=staff.id, service_id=offered.id, company_id=company.id)
            )
            await session.commit()
        # Blocks of BLOCK bookings alternate between trigger on and off; the first bookings
        # of a block are not timed (toggling a trigger invalidates cached plans).
        block, skipped = 10, 2
        blocks = -(-bookings // (block - skipped))
        starts = bookable_starts(2 * blocks * block)
        timings: dict[bool, list[float]] = {True: [], False: []}
        for index, start in enumerate(starts):
            with_hook = (index // block) % 2 == 0
            if index % block == 0:
                async with database.sessions() as session:
                    toggle = "ENABLE" if with_hook else "DISABLE"
                    await session.execute(
                        text(
                            f"ALTER TABLE appointment_events {toggle} "
                            "TRIGGER appointment_events_outbox"
                        )
                    )
                    await session.commit()
            request = BookRequest(
                company_id=company.id, service_id=offered.id, start=start, staff_id=staff.id
            )
            began = time.perf_counter()
            result = await book(database, request, gateway=None)
            took = time.perf_counter() - began
            if result.outcome.value != "booked":
                raise RuntimeError(f"booking {index} at {start}: {result.outcome}")
            if index % block >= skipped and index >= block * 2:  # the first blocks warm up
                timings[with_hook].append(took)
        async with database.sessions() as session:
            await session.execute(
                text("ALTER TABLE appointment_events ENABLE TRIGGER appointment_events_outbox")
            )
            await session.commit()
            from sqlalchemy import func, select

            from askpro.models import OutboundEvent

            written = await session.scalar(select(func.count()).select_from(OutboundEvent))
    finally:
        await database.dispose()
    with_p50 = statistics.median(timings[True]) * 1000
    without_p50 = statistics.median(timings[False]) * 1000
    return {
        "bookings_each": len(timings[True]),
        "with_outbox_p50_ms": round(with_p50, 3),
        "without_outbox_p50_ms": round(without_p50, 3),
        "added_p50_ms": round(with_p50 - without_p50, 3),
        "with_outbox_p99_ms": p(timings[True], 0.99),
        "without_outbox_p99_ms": p(timings[False], 0.99),
        "outbox_rows_written": written,
    }


async def run(events: int, bookings: int, port: int) -> dict[str, object]:
    from askpro import migrations
    from askpro.observability import configure_logging

    configure_logging("WARNING", json=True)
    url = database_url()
    await asyncio.to_thread(migrations.upgrade, url)
    with psycopg.connect(url) as connection:
        server_version = connection.execute("SHOW server_version").fetchone()
    return {
        "bench": "outbound_events",
        "delivery_one_worker": await delivery_phase(url, events, port),
        "booking_path": await booking_phase(url, bookings),
        "versions": {
            "python": platform.python_version(),
            "postgresql": server_version[0] if server_version else None,
            **{name: version(name) for name in ("httpx", "sqlalchemy", "psycopg", "uvicorn")},
        },
        "cpus": os.cpu_count(),
        "note": "shared 2-core machine; receiver pinned to core 1, bench to core 0",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--bookings", type=int, default=200)
    arguments = parser.parse_args()
    os.sched_setaffinity(0, {0})
    port = free_port()
    receiver = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, "-c", RECEIVER, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        print(json.dumps(asyncio.run(run(arguments.events, arguments.bookings, port))))
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)


if __name__ == "__main__":
    main()
