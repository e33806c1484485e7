"""20261201_staff_calendars: existing rows keep working and the typo'd history kind is fixed."""

from __future__ import annotations

import asyncio
import uuid

import psycopg

from askpro import migrations
from tests.fixtures.database import drop_test_database, server_url, with_database

SEED = """
INSERT INTO companies (id, name) VALUES (1, 'Salon');
INSERT INTO staff (id, company_id, name) VALUES (1, 1, 'Anna');
INSERT INTO services (id, company_id, name, duration_minutes, calcom_event_type_id)
  VALUES (1, 1, 'Haircut', 30, 1001);
INSERT INTO staff_services (staff_id, service_id, company_id) VALUES (1, 1, 1);
INSERT INTO appointments (id, company_id, staff_id, service_id, starts_at, ends_at,
                          blocks_from, blocks_until, status, source)
  VALUES (1, 1, 1, 1, now(), now() + interval '30 minutes', now(),
          now() + interval '30 minutes', 'cancelled', 'phone');
INSERT INTO appointment_events (company_id, appointment_id, kind, actor, channel)
  VALUES (1, 1, 'calcom_canceld', 'calcom-sync', 'system'),
         (1, 1, 'calcom_created', 'calcom-sync', 'system');
"""


def _upgrade_with_old_rows(url: str) -> list[tuple[object, ...]]:
    migrations.upgrade(url, "20261128_booking")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(SEED)
    migrations.upgrade(url, "head")
    with psycopg.connect(url) as connection:
        kinds = connection.execute("SELECT kind FROM appointment_events ORDER BY id").fetchall()
        mapping = connection.execute("SELECT calcom_event_type_id FROM staff_services").fetchall()
    return [*kinds, *mapping]


async def test_upgrade_renames_calcom_canceld_and_leaves_mapping_unset() -> None:
    server = server_url()
    name = f"askpro_test_migration_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        rows = await asyncio.to_thread(_upgrade_with_old_rows, with_database(server, name))
    finally:
        drop_test_database(server, name)
    # Existing staff-service rows keep the fallback: the service's event type (NULL here).
    assert rows == [("calcom_cancelled",), ("calcom_created",), (None,)]
