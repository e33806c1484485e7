"""The scale-out suite: real processes through ``askpro.ops.cluster`` (see docs/deployment.md).

These tests start K ``askpro serve --no-worker`` and M ``askpro worker`` processes each and
take minutes in all, so they run once per CI run (``.ci/run`` sets ``ASKPRO_TEST_CLUSTER=1``
and runs ``pytest -m cluster``), against the server named by ``ASKPRO_TEST_DATABASE_URL``
(else the embedded test server). Redis is always a private ``redis-server``: the Cal.com
rate budget is one key per API key, and a shared Redis may hold other runs' budgets.
Faults that stop a server stop a private one; nothing here touches shared servers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cluster.services import PrivateRedis
from tests.cluster.tally import TALLY
from tests.fixtures.database import (
    create_test_database,
    drop_test_database,
    ensure_template,
    server_url,
)

ROOT = Path(__file__).resolve().parents[2]
ENABLED = os.environ.get("ASKPRO_TEST_CLUSTER") == "1"
SUMMARY_PATH = ROOT / "var" / "test-cluster" / "fault-summary.json"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="scale-out suite: run by .ci/run (ASKPRO_TEST_CLUSTER=1)")
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.cluster)
            if not ENABLED:
                item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ENABLED and TALLY.faults_injected:
        TALLY.write(SUMMARY_PATH)
        terminalreporter.write_line(TALLY.line())


@pytest.fixture(scope="session")
def cluster_server() -> str:
    server = server_url()
    ensure_template(server)
    return server


def new_database(server: str) -> tuple[str, str]:
    name = f"askpro_test_cluster_{uuid.uuid4().hex[:8]}"
    return name, create_test_database(server, name)


@pytest.fixture
def fresh_database(cluster_server: str) -> Iterator[str]:
    name, url = new_database(cluster_server)
    yield url
    drop_test_database(cluster_server, name)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis.log")
    server.start()
    yield server
    server.stop()


async def query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        cursor = await connection.execute(sql, params or None)
        return list(await cursor.fetchall()) if cursor.description else []


async def scalar(url: str, sql: str, *params: Any) -> Any:
    rows = await query(url, sql, *params)
    return rows[0][0] if rows else None


@pytest.fixture
def cluster_logs(tmp_path: Path) -> Path:
    return tmp_path / "processes"
