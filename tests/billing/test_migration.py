"""Migration 20261128_billing carries existing company balances into the ledger."""

from __future__ import annotations

import asyncio
import os

import psycopg
from psycopg import sql

from askpro import migrations
from tests.fixtures.database import server_url, with_database


def _fresh_database(name: str) -> str:
    server = server_url()
    with psycopg.connect(with_database(server, "postgres"), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(server, name)


def _drop(name: str) -> None:
    with psycopg.connect(with_database(server_url(), "postgres"), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


async def test_existing_balances_get_an_account_and_an_opening_entry() -> None:
    name = f"askpro_billing_migration_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    url = await asyncio.to_thread(_fresh_database, name)
    try:
        await asyncio.to_thread(migrations.upgrade, url, "20261128_indexes")
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(
                "INSERT INTO companies (name, balance_cents) VALUES ('Rich', 5000), "
                "('Indebted', -300), ('Fresh', 0)"
            )
        await asyncio.to_thread(migrations.upgrade, url)
        with psycopg.connect(url) as connection:
            rows = connection.execute(
                "SELECT c.name, c.balance_cents, a.balance_cents, a.out_of_credit, "
                "       (SELECT sum(amount_cents) FROM ledger_entries l WHERE l.company_id = c.id) "
                "FROM companies c LEFT JOIN billing_accounts a ON a.id = c.billing_account_id "
                "ORDER BY c.name"
            ).fetchall()
        assert rows == [
            ("Fresh", 0, None, None, None),
            ("Indebted", -300, -300, True, -300),
            ("Rich", 5000, 5000, False, 5000),
        ]
    finally:
        await asyncio.to_thread(_drop, name)
