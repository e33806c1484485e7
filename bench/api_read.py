"""p50/p99 of GET /api/v1/appointments (pages of 50) with 100k appointments in the company,
offered open-loop at 200 requests/s; prints one JSON line.

    .venv/bin/python bench/api_read.py [--rate 200] [--seconds 10] [--appointments 100000]

Uses ASKPRO_DATABASE_URL when set, else an embedded PostgreSQL under var/bench. The server
runs in its own process (uvicorn, no background worker); latency is measured from each
request's scheduled send time, so a server that falls behind shows up (no coordinated
omission).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
from fastapi import FastAPI

ROOT = Path(__file__).resolve().parents[1]
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


def prepare_database(server: str, count: int) -> str:
    """A migrated database holding ``count`` appointments of company 1 (reused when it does)."""
    from tests.fixtures.database import with_database

    from askpro import migrations

    url = with_database(server, DATABASE_NAME)
    with psycopg.connect(with_database(server, "postgres"), autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
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
    """The app the server processes run: no background worker, no token budget to hit."""
    from askpro.app import create_app
    from askpro.config import load_settings

    settings = load_settings(
        database_url=os.environ["ASKPRO_BENCH_DATABASE_URL"],
        rate_limit_per_token="1000000/minute",
        log_level="WARNING",
        _env_file=None,
    )
    return create_app(settings)


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams.

    httpx's async client costs several milliseconds of CPU per request on this machine,
    which would be measured as server latency; this one costs a few tens of microseconds.
    """

    def __init__(self, host: str, port: int, headers: dict[str, str], max_connections: int) -> None:
        self.host, self.port = host, port
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.header_block = f"Host: {host}:{port}\r\n{extra}".encode()
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(max_connections)

    async def get(self, path: str) -> tuple[int, bytes]:
        async with self.slots:
            if self.idle:
                reader, writer = self.idle.pop()
                try:
                    return await self._exchange(reader, writer, path)
                except (asyncio.IncompleteReadError, ConnectionError):
                    writer.close()  # the server closed an idle connection: open a new one
            reader, writer = await asyncio.open_connection(self.host, self.port)
            return await self._exchange(reader, writer, path)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
    ) -> tuple[int, bytes]:
        writer.write(f"GET {path} HTTP/1.1\r\n".encode() + self.header_block + b"\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = next(
            int(line.split(":", 1)[1])
            for line in lines[1:]
            if line.lower().startswith("content-length:")
        )
        body = await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status, body

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def load(port: int, token: str, rate: float, seconds: float) -> dict[str, object]:
    rng = random.Random(7)
    days = 100_000 // 20 // 48  # days covered by the seeded half hours

    def url() -> str:
        day = rng.randrange(max(1, days))
        query = f"limit=50&starts_from=2030-01-{1 + day % 28:02d}T{rng.randrange(24):02d}:00:00Z"
        if rng.random() < 0.3:
            query += f"&staff_id={1 + rng.randrange(20)}"
        if rng.random() < 0.3:
            query += "&status=booked"
        return f"/api/v1/appointments?{query}"

    client = KeepAliveClient("127.0.0.1", port, {"Authorization": f"Bearer {token}"}, 64)
    for _ in range(100):  # warm-up: pools, plans, caches
        status, _ = await client.get(url())
        assert status == 200, status
    latencies: list[float] = []
    errors = 0
    sizes: list[int] = []

    async def one(scheduled: float, path: str) -> None:
        nonlocal errors
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        status, body = await client.get(path)
        latencies.append(time.perf_counter() - scheduled)
        if status != 200:
            errors += 1
        else:
            sizes.append(len(json.loads(body)["items"]))

    total = int(rate * seconds)
    start = time.perf_counter() + 0.1
    began = time.perf_counter()
    await asyncio.gather(*(one(start + index / rate, url()) for index in range(total)))
    elapsed = time.perf_counter() - began
    await client.close()
    milliseconds = [value * 1000 for value in latencies]
    return {
        "requests": total,
        "errors": errors,
        "offered_rps": rate,
        "achieved_rps": round(total / elapsed, 1),
        "p50_ms": round(statistics.median(milliseconds), 2),
        "p90_ms": round(percentile(milliseconds, 0.90), 2),
        "p99_ms": round(percentile(milliseconds, 0.99), 2),
        "max_ms": round(max(milliseconds), 2),
        "mean_items_per_page": round(statistics.mean(sizes), 1) if sizes else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--appointments", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--serve", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.workers)
        return

    sys.path.insert(0, str(ROOT))
    url = prepare_database(server_url(), args.appointments)
    token = create_token(url)
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, str(port), "--workers", str(args.workers)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise SystemExit("bench server did not start") from None
                time.sleep(0.1)
        result = asyncio.run(load(port, token, args.rate, args.seconds))
    finally:
        child.terminate()
        child.wait(timeout=15)
    print(
        json.dumps(
            {
                "bench": "api_read",
                "endpoint": "GET /api/v1/appointments",
                "appointments_in_company": args.appointments,
                "page_size": 50,
                "server_processes": args.workers,
                "load_average_1m": round(os.getloadavg()[0], 2),
                "cpus": os.cpu_count(),
                **result,
                "target_p99_ms": 30,
            }
        )
    )


if __name__ == "__main__":
    main()
