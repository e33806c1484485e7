"""Alembic environment: sync psycopg engine, one advisory lock around the upgrade."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine, pool, text

from askpro import models
from askpro.config import load_settings
from askpro.db import resolve_database_url, sqlalchemy_url

MIGRATION_LOCK_ID = 4_241_337  # arbitrary, fixed: one migrator at a time per database

config = context.config
target_metadata = models.Base.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return str(url)
    return resolve_database_url(load_settings())


def include_name(name: str | None, type_: str, _parent: Any) -> bool:
    # The queue's tables belong to procrastinate's own schema script, not to our models.
    return not (type_ == "table" and name is not None and name.startswith("procrastinate_"))


def run_migrations_online() -> None:
    engine = create_engine(sqlalchemy_url(_database_url()), poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                include_name=include_name,
                compare_type=True,
                transaction_per_migration=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `askpro migrate`")
run_migrations_online()
