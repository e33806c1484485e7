"""A seeded test database for the monitor's tests (the plain test database, filled by COPY)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from askpro.db import Database
from askpro.ops.perf.seed import SeedPlan, seed_database

SMALL_PLAN = SeedPlan(appointments=20_000, companies=3, webhook_events=2_000)


@pytest.fixture
async def seeded(database: Database, database_url: str) -> dict[str, int]:
    """The test database with the small plan's rows (the database fixture empties it)."""
    return await asyncio.to_thread(
        seed_database, database_url, SMALL_PLAN, lambda table, rows: None
    )


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
