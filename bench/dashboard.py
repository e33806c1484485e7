"""p50/p95 of every dashboard page with 100k appointments and 100k webhook events in one
company; prints one JSON line.

    .venv/bin/python bench/dashboard.py [--requests 40] [--appointments 100000]

Uses ASKPRO_DATABASE_URL when set, else an embedded PostgreSQL under var/bench. The data
comes from ``askpro perf seed`` (one company). The server (uvicorn, no worker) runs pinned
to CPU 0, this client to CPU 1; each page is requested ``--requests`` times one after the
other on a keep-alive connection with a logged-in session cookie. ``/health`` measured the
same way is the baseline (the cost of a request that does nothing).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from urllib.parse import urlencode

import psycopg

ROOT = Path(__file__).resolve().parents[1]
DATABASE_NAME = "askpro_bench_dashboard"


def prepare_database(server: str, appointments: int, events: int) -> str:
    """A migrated database seeded once with the plan (reused while the counts match)."""
    from tests.fixtures.database import with_database

    from askpro import migrations
    from askpro.ops.perf.seed import SeedPlan, seed_database

    url = with_database(server, DATABASE_NAME)
    with psycopg.connect(with_database(server, "postgres"), autocommit=True) as admin:
        if not admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone():
            admin.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    migrations.upgrade(url)
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT (SELECT count(*) FROM appointments), (SELECT count(*) FROM webhook_events)"
        ).fetchone()
        if row != (appointments, events):
            connection.execute(
                "TRUNCATE companies, billing_accounts, appointments, webhook_events, calls, "
                "customers, ledger_entries, tool_call_answers, api_tokens, dashboard_sessions, "
                "audit_logs RESTART IDENTITY CASCADE"
            )
            plan = SeedPlan(appointments=appointments, companies=1, webhook_events=events)
            seed_database(url, plan, lambda table, rows: None)
            connection.execute("VACUUM ANALYZE")  # what autovacuum does soon after a load
    return url


def create_token(url: str) -> str:
    from askpro.auth import tokens
    from askpro.auth.scopes import COMPANY_SCOPES

    minted = tokens.mint()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO api_tokens (public_id, company_id, name, scopes, secret_hash) "
            "VALUES (%s, 1, 'bench', %s, %s)",
            (minted.public_id, sorted(COMPANY_SCOPES), minted.secret_hash),
        )
    return minted.plaintext


def sample_ids(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT (SELECT max(id) FROM webhook_events), (SELECT max(id) FROM calls), "
            "(SELECT max(id) FROM customers), (SELECT max(id) FROM appointments)"
        ).fetchone()
    assert row is not None
    return {"event": row[0], "call": row[1], "customer": row[2], "appointment": row[3]}


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "ASKPRO_DATABASE_URL": url,
        "ASKPRO_LOG_LEVEL": "WARNING",
    }
    command = [
        "taskset", "-c", "0", sys.executable, "-m", "uvicorn", "--factory",
        "bench.dashboard:bench_app", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=environment)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start")


def bench_app() -> object:
    from askpro.app import create_app
    from askpro.config import load_settings

    settings = load_settings(
        database_url=os.environ["ASKPRO_DATABASE_URL"],
        rate_limit_per_ip="1000000/minute",  # the baseline's /health is limited per IP
        log_level="WARNING",
        _env_file=None,
    )
    return create_app(settings, freeze_heap=True)  # as `askpro serve` does


def login(connection: http.client.HTTPConnection, token: str) -> str:
    connection.request("GET", "/dashboard/login")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("set-cookie", "").split(";", 1)[0]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    body = urlencode({"csrf_token": csrf.group(1), "token": token})
    connection.request(
        "POST", "/dashboard/login", body,
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )  # fmt: skip
    response = connection.getresponse()
    response.read()
    assert response.status == 303, response.status
    return response.getheader("set-cookie", "").split(";", 1)[0]


def measure(
    connection: http.client.HTTPConnection, path: str, cookie: str, count: int
) -> dict[str, float]:
    timings: list[float] = []
    for index in range(count + 3):  # three warm-up requests per page
        started = time.perf_counter()
        connection.request("GET", path, headers={"Cookie": cookie})
        response = connection.getresponse()
        response.read()
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status == 200, (path, response.status)
        if index >= 3:
            timings.append(elapsed)
    ordered = sorted(timings)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--appointments", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.api_read import server_url
    from bench.wrk import free_port

    os.sched_setaffinity(0, {1})
    url = prepare_database(server_url(), args.appointments, args.events)
    token = create_token(url)
    ids = sample_ids(url)
    with psycopg.connect(url) as connection:
        day = connection.execute(
            "SELECT (max(starts_at) - interval '10 days')::date FROM appointments"
        ).fetchone()
    assert day is not None
    pages = {
        "today": "/dashboard",
        "webhooks": "/dashboard/webhooks",
        "webhooks dead": "/dashboard/webhooks?status=dead",
        "webhooks stripe since": "/dashboard/webhooks?provider=stripe&since=2020-01-01T00:00",
        "webhook event": f"/dashboard/webhooks/{ids['event']}",
        "replay confirm (dead)": "/dashboard/webhooks/replay?status=dead",
        "calls": "/dashboard/calls",
        "calls of a day": f"/dashboard/calls?date={day[0]}",
        "call": f"/dashboard/calls/{ids['call']}",
        "appointments day": f"/dashboard/appointments?date={day[0]}",
        "appointments week": f"/dashboard/appointments?view=week&date={day[0]}",
        "appointment": f"/dashboard/appointments/{ids['appointment']}",
        "customers": "/dashboard/customers",
        "customers by name": "/dashboard/customers?q=Anna",
        "customers by number": "/dashboard/customers?q=%2B49150000000042",
        "customer": f"/dashboard/customers/{ids['customer']}",
        "charts": "/dashboard/charts",
    }
    load_before = os.getloadavg()[0]
    port = free_port()
    server = start_server(url, port)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        cookie = login(connection, token)
        baseline = measure(connection, "/health", cookie, args.requests)
        results = {
            name: measure(connection, path, cookie, args.requests) for name, path in pages.items()
        }
        with psycopg.connect(url) as connection_pg:
            version = connection_pg.execute("SHOW server_version").fetchone()
    finally:
        server.terminate()
        server.wait(timeout=15)
    worst = max(results.items(), key=lambda item: item[1]["p95_ms"])
    print(
        json.dumps(
            {
                "bench": "dashboard",
                "appointments": args.appointments,
                "webhook_events": args.events,
                "requests_per_page": args.requests,
                "baseline_health": baseline,
                "pages": results,
                "worst_page": worst[0],
                "worst_p95_ms": worst[1]["p95_ms"],
                "all_under_200ms_p95": all(r["p95_ms"] < 200 for r in results.values()),
                "versions": {
                    "python": platform.python_version(),
                    "postgresql": version[0] if version else None,
                    **{
                        name: metadata.version(name)
                        for name in ("fastapi", "uvicorn", "sqlalchemy", "psycopg", "jinja2")
                    },
                },
                "machine": "2 cores shared with other work; server on CPU 0, client on CPU 1",
                "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            }
        )
    )


if __name__ == "__main__":
    main()
