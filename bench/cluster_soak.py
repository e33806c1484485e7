"""Calls per second and tool-call p99 of a local cluster; prints one JSON line.

Plays ``--calls`` complete calls (``askpro simulate call``'s soak: inbound, availability,
hold, booking, call events), ``--concurrency`` at a time, first against 1 web process +
1 worker (the baseline), then against 2 web + 2 workers, each on a fresh database of one
embedded PostgreSQL (``var/bench-cluster``), with the Cal.com stand-in's and the client's
rate budget lifted (one Cal.com account allows 120 requests a minute: that is Cal.com's
ceiling, not askpro's). The correctness of the same soak at 200 calls is asserted by
``tests/cluster/test_soak.py``.

Usage: ``.venv/bin/python bench/cluster_soak.py [--calls 40] [--concurrency 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg

from askpro.calls.simulate import Simulation, soak
from askpro.db import start_embedded_postgres
from askpro.ops.cluster import CLUSTER_RETELL_KEY, running_cluster
from askpro.tenancy.demo import DEMO_PHONE_NUMBER

ROOT = Path(__file__).resolve().parents[1]


def fresh_database(server: str) -> str:
    name = f"bench_cluster_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return server.replace("/postgres?", f"/{name}?", 1)


async def measure(server: str, web: int, workers: int, calls: int, concurrency: int) -> Any:
    async with running_cluster(
        database_url=fresh_database(server),
        web_count=web,
        worker_count=workers,
        log_dir=ROOT / "var" / "bench-cluster" / f"logs-{web}x{workers}",
        settings={"database_pool_size": "5", "calcom_rate_limit_per_minute": "10000"},
    ) as cluster:
        cluster.standin.state.rate_limit_per_minute = 10_000
        template = Simulation(
            base_url=cluster.web_urls[0],
            key=CLUSTER_RETELL_KEY,
            to_number=DEMO_PHONE_NUMBER,
            from_number="+4915100000000",
            caller_name="Bench Caller",
            service="Haircut",
            servers=cluster.web_urls,
        )
        report = await soak(template, calls=calls, concurrency=concurrency)
    return {"web": web, "workers": workers, **report.as_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=10)
    options = parser.parse_args()
    server = start_embedded_postgres(ROOT / "var" / "bench-cluster")
    baseline = asyncio.run(measure(server, 1, 1, options.calls, options.concurrency))
    scaled = asyncio.run(measure(server, 2, 2, options.calls, options.concurrency))
    with psycopg.connect(server) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    line = {
        "benchmark": "cluster_soak",
        "calls": options.calls,
        "concurrency": options.concurrency,
        "baseline_1web_1worker": baseline,
        "cluster_2web_2workers": scaled,
        "versions": {
            "python": platform.python_version(),
            "askpro": version("askpro"),
            "procrastinate": version("procrastinate"),
            "postgresql": row[0] if row else None,
        },
        "note": "shared 2-core machine; server, stand-in and load generator on the same cores",
    }
    sys.stdout.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
