"""``askpro perf seed``: planned rows by COPY, valid for every constraint; never the app's
own database."""

from __future__ import annotations

import psycopg

from askpro import migrations
from askpro.db import Database
from tests.fixtures.database import with_database
from tests.ops.perf.conftest import SMALL_PLAN, askpro


def test_the_seed_writes_the_planned_rows_and_the_sequences_move_past_them(
    seeded: dict[str, int], database_url: str
) -> None:
    assert seeded["appointments"] == SMALL_PLAN.appointments
    # The indexes dropped for the COPY are all back, as the models and migrations define them.
    migrations.check(database_url)
    with psycopg.connect(database_url) as connection:
        for table, planned in SMALL_PLAN.rows().items():
            row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert row is not None
            assert row[0] == planned, table
        # Rows copied with explicit ids: a normal insert afterwards still gets a fresh id.
        company = connection.execute("SELECT min(id) FROM companies").fetchone()
        assert company is not None
        connection.execute(
            "INSERT INTO customers (company_id, name) VALUES (%s, 'after the seed')", (company[0],)
        )
        phone_bookings = connection.execute(
            "SELECT count(*) FROM appointments WHERE source = 'phone' AND call_id IS NULL"
        ).fetchone()
        assert phone_bookings == (0,)


def test_the_seed_refuses_askpros_own_database(database: Database, database_url: str) -> None:
    result = askpro(
        "perf", "seed", "--appointments", "100", "--database-url", database_url,
        ASKPRO_DATABASE_URL=database_url,
    )  # fmt: skip
    assert result.returncode == 2
    assert "refusing to seed askpro's own database" in result.stderr
    unnamed = askpro("perf", "seed", "--appointments", "100", ASKPRO_DATABASE_URL=database_url)
    assert unnamed.returncode == 2
    assert "--database NAME or --database-url URL" in unnamed.stderr


def test_the_seed_refuses_a_database_with_appointments_without_append(
    seeded: dict[str, int], database_url: str
) -> None:
    result = askpro(
        "perf", "seed", "--appointments", "100", "--database-url", database_url,
        ASKPRO_DATABASE_URL=with_database(database_url, "postgres"),
    )  # fmt: skip
    assert result.returncode == 2
    assert "--append" in result.stderr
