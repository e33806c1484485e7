"""A seeded test database for the monitor's tests (the plain test database, filled by COPY)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import psycopg
import pytest

from askpro.db import Database
from askpro.ops.perf.seed import SeedPlan, seed

SMALL_PLAN = SeedPlan(appointments=20_000, companies=3, webhook_events=2_000)


def seed_now(database_url: str, plan: SeedPlan) -> dict[str, int]:
    with psycopg.connect(database_url) as connection:
        counts = seed(connection, plan, lambda table, rows: None)
        connection.commit()
        connection.autocommit = True
        connection.execute("ANALYZE")
    return counts


@pytest.fixture
async def seeded(database: Database, database_url: str) -> dict[str, int]:
    """The test database with the small plan's rows (the database fixture empties it)."""
    return await asyncio.to_thread(seed_now, database_url, SMALL_PLAN)


def askpro(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the ``askpro`` command line in a subprocess (wide output, readable logs)."""
    return subprocess.run(
        [sys.executable, "-m", "askpro", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ASKPRO_LOG_JSON": "false", "COLUMNS": "200", **env},
        check=False,
    )
