"""What PostgreSQL's statistics views say: indexes, big tables scanned sequentially, slow
statements (``pg_stat_statements``) and the live figures of ``perf monitor --live``."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

# A table this big read sequentially on a hot path is worth a look.
BIG_TABLE_ROWS = 10_000

ENABLE_PG_STAT_STATEMENTS = (
    "pg_stat_statements is not available on this server. Enable it with "
    "`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`, restart the server "
    "(embedded: stop every askpro process using ./var/postgres, the next start loads it), then "
    "`CREATE EXTENSION pg_stat_statements` in the database (see docs/operations.md)."
)


@dataclass(frozen=True)
class IndexStat:
    table: str
    index: str
    scans: int
    size_bytes: int
    unique: bool
    unused: bool
    duplicate_of: str | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SeqScannedTable:
    table: str
    live_rows: int
    seq_scans: int
    seq_rows_read: int
    index_scans: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


INDEX_STATS_SQL = """
SELECT s.relname AS table, s.indexrelname AS index, s.idx_scan AS scans,
       pg_relation_size(s.indexrelid) AS size_bytes, i.indisunique AS unique,
       i.indisprimary OR i.indisunique
         OR EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid) AS enforces,
       i.indrelid::regclass::text || ' ' || i.indkey::text || ' ' || i.indclass::text || ' '
         || coalesce(pg_get_expr(i.indexprs, i.indrelid), '') || ' '
         || coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS definition
FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
ORDER BY s.relname, s.indexrelname
"""


def index_stats(connection: psycopg.Connection[Any]) -> list[IndexStat]:
    """Every index: unused (never scanned since the statistics were reset, and enforcing no
    constraint) and duplicates (same table, columns, operator classes, expression and
    predicate as another)."""
    with connection.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(INDEX_STATS_SQL).fetchall()
    first_with: dict[str, str] = {}
    stats: list[IndexStat] = []
    for row in rows:
        duplicate_of = first_with.get(row["definition"])
        first_with.setdefault(row["definition"], row["index"])
        stats.append(
            IndexStat(
                table=row["table"],
                index=row["index"],
                scans=row["scans"],
                size_bytes=row["size_bytes"],
                unique=row["unique"],
                unused=row["scans"] == 0 and not row["enforces"],
                duplicate_of=duplicate_of,
            )
        )
    return stats


def seq_scanned_tables(connection: psycopg.Connection[Any]) -> list[SeqScannedTable]:
    """Big tables that were read sequentially, most rows read first."""
    rows = connection.execute(
        "SELECT relname, n_live_tup, seq_scan, seq_tup_read, coalesce(idx_scan, 0) "
        "FROM pg_stat_user_tables WHERE n_live_tup >= %s AND seq_scan > 0 "
        "ORDER BY seq_tup_read DESC",
        (BIG_TABLE_ROWS,),
    ).fetchall()
    return [SeqScannedTable(*row) for row in rows]


@dataclass(frozen=True)
class Statement:
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def pg_stat_statements_ready(connection: psycopg.Connection[Any]) -> bool:
    """Loaded at server start and created in this database."""
    row = connection.execute(
        "SELECT current_setting('shared_preload_libraries') LIKE '%%pg_stat_statements%%', "
        "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')"
    ).fetchone()
    return bool(row and row[0] and row[1])


def slow_statements(
    connection: psycopg.Connection[Any], *, order: str = "total", limit: int = 10
) -> list[Statement]:
    """Top statements of this database by total or mean time (texts normalised: ``$1``)."""
    column = {"total": "total_exec_time", "mean": "mean_exec_time"}[order]
    statement = sql.SQL(
        "SELECT query, calls, total_exec_time, mean_exec_time, rows FROM pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "ORDER BY {} DESC LIMIT %s"
    ).format(sql.Identifier(column))
    rows = connection.execute(statement, (limit,)).fetchall()
    return [
        Statement(query=" ".join(row[0].split()), calls=row[1], total_ms=round(row[2], 3),
                  mean_ms=round(row[3], 3), rows=row[4])
        for row in rows
    ]  # fmt: skip


@dataclass(frozen=True)
class LiveFigures:
    connections: int
    locks_waiting: int
    queue_depth: int
    oldest_received: dt.timedelta | None
    cache_hit_ratio: float | None


def live_figures(connection: psycopg.Connection[Any]) -> LiveFigures:
    row = connection.execute(
        """
        SELECT
          (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()),
          (SELECT count(*) FROM pg_locks WHERE NOT granted),
          (SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'),
          (SELECT now() - min(received_at) FROM webhook_events WHERE status = 'received'),
          (SELECT blks_hit::float / nullif(blks_hit + blks_read, 0)
             FROM pg_stat_database WHERE datname = current_database())
        """
    ).fetchone()
    assert row is not None
    return LiveFigures(
        connections=row[0],
        locks_waiting=row[1],
        queue_depth=row[2],
        oldest_received=row[3],
        cache_hit_ratio=round(row[4], 4) if row[4] is not None else None,
    )
