"""GET /api/v1/appointments (pages of 50, 100k appointments in the company) under wrk:
the saturation rate of one server process on one core, then p50/p99 offered open-loop at
200 requests/s; prints one JSON line.

    .venv/bin/python bench/api_read.py [--rate 200] [--seconds 8] [--appointments 100000]
        [--database askpro_bench]

Uses ASKPRO_DATABASE_URL's server when set (the database itself is ``--database``, created
when missing and (re)seeded: never point it at data you keep), else an embedded PostgreSQL
under var/bench. The server
runs in its own process (uvicorn, no background worker) pinned to core 0, wrk to core 1
(see bench/wrk.py: a fixed send schedule, with the send lag reported, so a server that
falls behind shows up). wrk's own ceiling is far above: > 10,000 requests/s here.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
from pathlib import Path

import httpx
import psycopg
from fastapi import FastAPI

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file: bench/ and tests/ import from the clone
    sys.path.insert(0, str(ROOT))

from bench import wrk  # noqa: E402

DATABASE_NAME = "askpro_bench"

SEED = """
INSERT INTO companies (name) VALUES ('bench company'), ('other company');
INSERT INTO staff (company_id, name) SELECT c, 'staff ' || s
  FROM generate_series(1, 2) c, generate_series(1, 20) s;
INSERT INTO services (company_id, name, duration_minutes) SELECT c, 'cut', 30
  FROM generate_series(1, 2) c;
-- %(count)s appointments for company 1, 20 staff, back-to-back half hours from 2030-01-01.
INSERT INTO appointments (company_id, staff_id, service_id, starts_at, ends_at,
                          blocks_from, blocks_until, status, source)
SELECT 1, 1 + (i %% 20), 1, t, t + interval '30 minutes', t, t + interval '30 minutes',
       CASE WHEN i %% 10 = 0 THEN 'cancelled' ELSE 'booked' END, 'api'
FROM generate_series(0, %(count)s - 1) i,
     LATERAL (SELECT timestamptz '2030-01-01 00:00+00' + ((i / 20) * interval '30 minutes') AS t) x;
-- and some for the other company, which must not slow company 1 down.
INSERT INTO appointments (company_id, staff_id, service_id, starts_at, ends_at,
                          blocks_from, blocks_until, status, source)
SELECT 2, 21 + (i %% 20), 2, t, t + interval '30 minutes', t, t + interval '30 minutes',
       'booked', 'api'
FROM generate_series(0, 9999) i,
     LATERAL (SELECT timestamptz '2030-01-01 00:00+00' + ((i / 20) * interval '30 minutes') AS t) x;
ANALYZE;
"""


def server_url() -> str:
    configured = os.environ.get("ASKPRO_DATABASE_URL")
    if configured:
        return configured.replace("postgresql+psycopg://", "postgresql://", 1)
    from askpro.db import start_embedded_postgres

    return start_embedded_postgres(ROOT / "var" / "bench")


def prepare_database(server: str, count: int, name: str = DATABASE_NAME) -> str:
    """A migrated database holding ``count`` appointments of company 1 (reused when it does)."""
    from tests.fixtures.database import with_database

    from askpro import migrations

    url = with_database(server, name)
    with psycopg.connect(with_database(server, "postgres"), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    migrations.upgrade(url)
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM appointments WHERE company_id = 1"
        ).fetchone()
        if row is None or row[0] != count:
            connection.execute(
                "TRUNCATE companies, staff, services, appointments, api_tokens, audit_logs "
                "RESTART IDENTITY CASCADE"
            )
            connection.execute(SEED % {"count": count})
    return url


def create_token(url: str) -> str:
    from askpro.auth import tokens

    minted = tokens.mint()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO api_tokens (public_id, company_id, name, scopes, secret_hash) "
            "VALUES (%s, 1, 'bench', ARRAY['appointments:read'], %s)",
            (minted.public_id, minted.secret_hash),
        )
    return minted.plaintext


def bench_app() -> FastAPI:
    """The app the server processes run: no background worker, no token budget to hit,
    the heap frozen after start-up as `askpro serve` does."""
    from askpro.app import create_app
    from askpro.config import load_settings

    settings = load_settings(
        database_url=os.environ["ASKPRO_BENCH_DATABASE_URL"],
        rate_limit_per_token="1000000/minute",
        log_level="WARNING",
        _env_file=None,
    )
    return create_app(settings, freeze_heap=True)


def serve(url: str, port: int, workers: int) -> None:
    """The server: uvicorn with ``workers`` processes (each its own event loop and pool)."""
    import uvicorn

    os.environ["ASKPRO_BENCH_DATABASE_URL"] = url
    uvicorn.run(
        "bench.api_read:bench_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def paths(count: int, appointments: int) -> list[str]:
    """``count`` list requests: random days and hours, some filtered by staff or status."""
    rng = random.Random(7)
    days = max(1, appointments // 20 // 48)  # days covered by the seeded half hours
    found = []
    for _ in range(count):
        day = rng.randrange(days)
        query = f"limit=50&starts_from=2030-01-{1 + day % 28:02d}T{rng.randrange(24):02d}:00:00Z"
        if rng.random() < 0.3:
            query += f"&staff_id={1 + rng.randrange(20)}"
        if rng.random() < 0.3:
            query += "&status=booked"
        found.append(f"/api/v1/appointments?{query}")
    return found


def requests(token: str, count: int, appointments: int) -> list[wrk.HttpRequest]:
    headers = {"Authorization": f"Bearer {token}"}
    return [wrk.HttpRequest("GET", path, headers) for path in paths(count, appointments)]


def mean_items(port: int, token: str, appointments: int) -> float:
    """Items per page over a sample of the same requests (the pages are really full)."""
    sizes = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for path in paths(50, appointments):
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            response.raise_for_status()
            sizes.append(len(response.json()["items"]))
    return statistics.mean(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=8, help="for the saturation run")
    parser.add_argument("--appointments", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--database",
        default=DATABASE_NAME,
        help="the bench's own database on the server (seeded; another name per clone)",
    )
    parser.add_argument("--serve", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.workers)
        return

    url = prepare_database(server_url(), args.appointments, args.database)
    token = create_token(url)
    port = wrk.free_port()
    log = ROOT / "var" / "bench" / "api_read_server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    child = wrk.start_server(
        [sys.executable, __file__, "--serve", url, str(port), "--workers", str(args.workers)],
        {"PYTHONPATH": str(ROOT)},
        port,
        log,
        ROOT,
    )
    result: dict[str, object] = {
        "bench": "api_read",
        "endpoint": "GET /api/v1/appointments",
        "appointments_in_company": args.appointments,
        "page_size": 50,
        "server_processes": args.workers,
        "machine": wrk.machine(),
    }
    try:
        wrk.run(port, requests(token, 4000, args.appointments), seconds=2, connections=8)
        saturated = wrk.run(
            port,
            requests(token, 40_000, args.appointments),
            seconds=args.seconds,
            connections=args.connections,
            server_pid=child.pid,
        )
        at_rate = wrk.run(
            port,
            requests(token, int(args.rate * args.seconds * 2), args.appointments),
            seconds=args.seconds,
            connections=64,
            rate=args.rate,
            server_pid=child.pid,
        )
        result["mean_items_per_page"] = round(mean_items(port, token, args.appointments), 1)
    finally:
        child.terminate()
        child.wait(timeout=15)
    result["saturation"] = saturated.summary() | {"connections": args.connections}
    result[f"at_{int(args.rate)}_per_s"] = at_rate.summary() | {"offered_per_s": args.rate}
    result["target"] = {"saturation_per_s": 800, "p99_ms_at_200_per_s": 30}
    result["generator"] = {"tool": "wrk", "threads": 1, "server_core": wrk.SERVER_CORE,
                           "load_core": wrk.LOAD_CORE}  # fmt: skip
    result["versions"] = wrk.versions()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
