"""PostgreSQL: the embedded server, the async engine and the one transaction helper.

The embedded server (one per data directory, shared by processes) is in ``_embedded``;
which server to use and its URL forms in ``_urls``; the ``Database`` (engine, pool,
sessions, the pool's own driver connection) in ``_database``; units of work and their
retries (deadlocks, serialization failures, dead connections) in ``_transactions``.
Everything is imported from here: ``askpro.db.X``.
"""

from askpro.db._database import (
    IDLE,
    POOL_RECYCLE_SECONDS,
    UTC_ALIASES,
    Database,
    DriverConnection,
    engine_options,
)
from askpro.db._embedded import (
    EMBEDDED_SUBDIR,
    HANDLE_LIST,
    DatabaseMissing,
    EmbeddedPostgresError,
    embedded_database_exists,
    release_embedded_postgres,
    start_embedded_postgres,
)
from askpro.db._transactions import (
    MAX_ATTEMPTS,
    RETRYABLE_SQLSTATES,
    DeadConnection,
    is_dead_connection,
    is_retryable,
    retry_on_dead_connection,
    unit_of_work,
)
from askpro.db._urls import describe_url, resolve_database_url, sqlalchemy_url

__all__ = [
    "EMBEDDED_SUBDIR",
    "HANDLE_LIST",
    "IDLE",
    "MAX_ATTEMPTS",
    "POOL_RECYCLE_SECONDS",
    "RETRYABLE_SQLSTATES",
    "UTC_ALIASES",
    "Database",
    "DatabaseMissing",
    "DeadConnection",
    "DriverConnection",
    "EmbeddedPostgresError",
    "describe_url",
    "embedded_database_exists",
    "engine_options",
    "is_dead_connection",
    "is_retryable",
    "release_embedded_postgres",
    "resolve_database_url",
    "retry_on_dead_connection",
    "sqlalchemy_url",
    "start_embedded_postgres",
    "unit_of_work",
]
