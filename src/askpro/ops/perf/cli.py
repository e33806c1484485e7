"""``askpro perf``: the performance monitor and the data seeder.

askpro perf monitor [--live | --report [FILE] | --index-stats | --slow-queries]
askpro perf seed --appointments 1000000 --database askpro_perf
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import typer
from psycopg import sql
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from askpro.ops.perf import monitor, stats
from askpro.ops.perf.seed import SeedPlan, SeedRefused, seed_database

perf_cli = typer.Typer(
    help="Performance: time the critical queries, inspect indexes, seed test data.",
    no_args_is_help=True,
)
console = Console()
LIVE_INTERVAL_SECONDS = 5.0


def _app_database_url() -> str:
    from askpro.config import SettingsError, get_settings
    from askpro.db import resolve_database_url

    try:
        return resolve_database_url(get_settings())
    except SettingsError as error:
        typer.echo(f"askpro: {error}", err=True)
        raise typer.Exit(2) from None


def _on_app_server(database: str) -> str:
    """The URL of ``database`` on the server askpro uses (the embedded one by default)."""
    parts = urlsplit(_app_database_url())
    return urlunsplit(parts._replace(path=f"/{database}"))


def _connect(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as error:
        typer.echo(f"askpro: cannot connect to the database: {error}".strip(), err=True)
        raise typer.Exit(1) from None


def render_results(results: list[monitor.QueryResult]) -> Table:
    table = Table(title="Critical queries (EXPLAIN ANALYZE, median of the runs)")
    for column in ("query", "median ms", "rows", "index", "verdict"):
        table.add_column(column, justify="right" if column in ("median ms", "rows") else "left")
    for result in results:
        table.add_row(
            result.name,
            "-" if result.median_ms is None else f"{result.median_ms:.3f}",
            str(result.rows),
            ", ".join(result.indexes) or "none",
            result.verdict if not result.note else f"{result.verdict} ({result.note})",
            style=None if result.verdict == "ok" else "red",
        )
    return table


def render_live(results: list[monitor.QueryResult], figures: stats.LiveFigures) -> Group:
    """One frame of ``--live``: the query timings and the server's figures."""
    server = Table(title="Server")
    for column in ("connections", "locks waiting", "queue depth", "oldest received", "cache hit"):
        server.add_column(column, justify="right")
    oldest = figures.oldest_received
    server.add_row(
        str(figures.connections),
        str(figures.locks_waiting),
        str(figures.queue_depth),
        "-" if oldest is None else f"{oldest.total_seconds():.0f} s",
        "-" if figures.cache_hit_ratio is None else f"{figures.cache_hit_ratio:.2%}",
    )
    return Group(render_results(results), server)


def render_index_stats(
    indexes: list[stats.IndexStat], tables: list[stats.SeqScannedTable]
) -> Group:
    table = Table(title="Indexes (pg_stat_user_indexes)")
    for column in ("table", "index", "scans", "size", "flag"):
        table.add_column(column, justify="right" if column in ("scans", "size") else "left")
    for index in indexes:
        flags = []
        if index.unused:
            flags.append("UNUSED")
        if index.duplicate_of:
            flags.append(f"DUPLICATE of {index.duplicate_of}")
        table.add_row(
            index.table,
            index.index,
            str(index.scans),
            f"{index.size_bytes / 1024:.0f} kB",
            ", ".join(flags),
            style="red" if flags else None,
        )
    scanned = Table(title=f"Tables with >= {stats.BIG_TABLE_ROWS} rows read sequentially")
    for column in ("table", "rows", "seq scans", "rows read by seq scans", "index scans"):
        scanned.add_column(column, justify="left" if column == "table" else "right")
    for row in tables:
        scanned.add_row(
            row.table, str(row.live_rows), str(row.seq_scans), str(row.seq_rows_read),
            str(row.index_scans),
        )  # fmt: skip
    return Group(table, scanned)


def render_statements(title: str, statements: list[stats.Statement]) -> Table:
    table = Table(title=title)
    for column in ("calls", "total ms", "mean ms", "rows", "statement"):
        table.add_column(column, justify="left" if column == "statement" else "right")
    for statement in statements:
        table.add_row(
            str(statement.calls), f"{statement.total_ms:.1f}", f"{statement.mean_ms:.2f}",
            str(statement.rows), statement.query[:200],
        )  # fmt: skip
    return table


@perf_cli.command("monitor")
def monitor_command(
    file: Annotated[
        Path | None, typer.Argument(help="With --report: write the JSON here (default stdout).")
    ] = None,
    live: Annotated[bool, typer.Option("--live", help="Refresh every 5 s until Ctrl-C.")] = False,
    report: Annotated[bool, typer.Option("--report", help="JSON for CI and trends.")] = False,
    index_stats: Annotated[
        bool, typer.Option("--index-stats", help="Index scans, sizes; unused and duplicates.")
    ] = False,
    slow_queries: Annotated[
        bool, typer.Option("--slow-queries", help="Top statements from pg_stat_statements.")
    ] = False,
    repeat: Annotated[int, typer.Option(min=1, max=100, help="Runs per query.")] = 7,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Statements listed.")] = 10,
    database: Annotated[
        str | None, typer.Option(help="Another database on askpro's server (e.g. a seeded one).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="libpq URL; default: askpro's configured database.")
    ] = None,
) -> None:
    """Time the product's critical queries on the live database (EXPLAIN ANALYZE)."""
    if sum((live, report, index_stats, slow_queries)) > 1:
        typer.echo(
            "askpro: choose one of --live, --report, --index-stats, --slow-queries", err=True
        )
        raise typer.Exit(2)
    if database is not None:
        database_url = _on_app_server(database)
    with _connect(database_url or _app_database_url()) as connection:
        if index_stats:
            indexes = stats.index_stats(connection)
            tables = stats.seq_scanned_tables(connection)
            console.print(render_index_stats(indexes, tables))
            return
        if slow_queries:
            if not stats.pg_stat_statements_ready(connection):
                typer.echo(stats.ENABLE_PG_STAT_STATEMENTS, err=True)
                raise typer.Exit(1)
            for order in ("total", "mean"):
                found = stats.slow_statements(connection, order=order, limit=limit)
                console.print(render_statements(f"Top statements by {order} time", found))
            return
        if live:
            _live(connection, repeat)
            return
        results = monitor.run_monitor(connection, repeat)
        if report:
            document = {
                "threshold_ms": monitor.THRESHOLD_MS,
                "queries": [result.as_json() for result in results],
                "ok": all(result.verdict == "ok" for result in results),
            }
            text = json.dumps(document, indent=2)
            if file is None:
                typer.echo(text)
            else:
                file.write_text(text + "\n")
                typer.echo(f"wrote {file}", err=True)
            return
        console.print(render_results(results))


def _live(connection: psycopg.Connection[Any], repeat: int) -> None:
    def frame() -> Group:
        return render_live(monitor.run_monitor(connection, repeat), stats.live_figures(connection))

    try:
        with Live(frame(), console=console, refresh_per_second=1) as screen:
            while True:
                time.sleep(LIVE_INTERVAL_SECONDS)
                screen.update(frame())
    except KeyboardInterrupt:
        return


def _target_url(database: str | None, database_url: str | None) -> str:
    """The database the user named; never the app's own (demo) database."""
    if (database is None) == (database_url is None):
        typer.echo("askpro: name the target: --database NAME or --database-url URL", err=True)
        raise typer.Exit(2)
    app_url = _app_database_url()
    if database is not None:
        database_url = _on_app_server(database)
        admin = _on_app_server("postgres")
        with psycopg.connect(admin, autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if exists is None:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
                typer.echo(f"created database {database}", err=True)
    assert database_url is not None
    if urlsplit(database_url).path == urlsplit(app_url).path and (
        urlsplit(database_url).netloc == urlsplit(app_url).netloc
    ):
        typer.echo("askpro: refusing to seed askpro's own database; name another one", err=True)
        raise typer.Exit(2)
    return database_url


@perf_cli.command("seed")
def seed_command(
    appointments: Annotated[int, typer.Option(min=10, help="Appointments to create.")] = 1_000_000,
    companies: Annotated[int, typer.Option(min=1, max=1000, help="Companies.")] = 10,
    webhook_events: Annotated[
        int | None, typer.Option(min=0, help="Webhook events (default: appointments / 10).")
    ] = None,
    database: Annotated[
        str | None, typer.Option(help="A database on askpro's server (created if missing).")
    ] = None,
    database_url: Annotated[str | None, typer.Option(help="Or a full libpq URL.")] = None,
    append: Annotated[bool, typer.Option(help="Add to a database that has data.")] = False,
) -> None:
    """Fill a database you name with realistic data (COPY), migrating it first."""
    from askpro import migrations

    url = _target_url(database, database_url)
    migrations.upgrade(url)
    plan = SeedPlan(appointments=appointments, companies=companies, webhook_events=webhook_events)
    started = time.perf_counter()
    columns = (
        TextColumn("{task.description:>18}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(),
    )  # fmt: skip
    try:
        with Progress(*columns, console=console) as progress:
            tasks = {
                table: progress.add_task(table, total=count) for table, count in plan.rows().items()
            }
            counts = seed_database(
                url,
                plan,
                lambda table, rows: progress.advance(tasks[table], rows),
                append=append,
                announce=lambda message: progress.console.print(f"{message} …"),
            )
    except SeedRefused as refused:
        typer.echo(f"askpro: {refused}", err=True)
        raise typer.Exit(2) from None
    elapsed = time.perf_counter() - started
    summary = ", ".join(f"{count} {table}" for table, count in counts.items())
    console.print(f"seeded {summary} in {elapsed:.1f} s")
