"""Hot queries use indexes (checked with EXPLAIN on realistic row counts); FKs are indexed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from askpro.db import Database

SEED = """
INSERT INTO companies (name) SELECT 'company ' || i FROM generate_series(1, 50) i;
INSERT INTO branches (company_id, name) SELECT id, 'main' FROM companies;
INSERT INTO staff (company_id, branch_id, name) SELECT c.id, b.id, 'staff ' || s
  FROM companies c JOIN branches b ON b.company_id = c.id, generate_series(1, 4) s;
INSERT INTO services (company_id, name, duration_minutes) SELECT id, 'cut', 30 FROM companies;
INSERT INTO customers (company_id, name, phone, email)
  SELECT 1 + (i % 50), 'customer ' || i, '+49301' || lpad(i::text, 7, '0'), 'c' || i || '@example.com'
  FROM generate_series(1, 20000) i;
INSERT INTO calls (call_id, company_id, customer_id, started_at)
  SELECT 'call_' || i, 1 + (i % 50), 1 + (i % 20000), now() - (i || ' minutes')::interval
  FROM generate_series(1, 20000) i;
INSERT INTO appointments (company_id, staff_id, service_id, customer_id, starts_at, ends_at,
                          blocks_from, blocks_until, status, source)
  SELECT st.company_id, st.id, sv.id, 1 + ((st.id * 1000 + g) % 20000),
         t, t + interval '30 minutes', t, t + interval '30 minutes', 'booked', 'api'
  FROM staff st JOIN services sv ON sv.company_id = st.company_id,
       generate_series(1, 100) g, LATERAL (SELECT now() + (g || ' hours')::interval AS t) x;
INSERT INTO webhook_events (provider, event_type, dedup_key, status, received_at)
  SELECT (ARRAY['stripe','retell','calcom'])[1 + i % 3], 'type_' || (i % 20), 'key_' || i,
         CASE WHEN i % 100 = 0 THEN 'failed' ELSE 'processed' END, now() - (i || ' seconds')::interval
  FROM generate_series(1, 20000) i;
ANALYZE;
"""

HOT_QUERIES = {
    "appointments by company and start": (
        "appointments",
        "SELECT * FROM appointments WHERE company_id = 7 AND starts_at >= now() AND starts_at < now() + interval '1 day' ORDER BY starts_at",
    ),
    "appointments by staff and start": (
        "appointments",
        "SELECT * FROM appointments WHERE staff_id = 9 AND starts_at >= now() AND starts_at < now() + interval '1 day'",
    ),
    "appointments by customer": (
        "appointments",
        "SELECT * FROM appointments WHERE customer_id = 123 ORDER BY starts_at DESC",
    ),
    "calls by company and start": (
        "calls",
        "SELECT * FROM calls WHERE company_id = 3 ORDER BY started_at DESC LIMIT 50",
    ),
    "calls by customer": ("calls", "SELECT * FROM calls WHERE customer_id = 77"),
    "customers by company and phone": (
        "customers",
        "SELECT * FROM customers WHERE company_id = 5 AND phone = '+493010000005'",
    ),
    "customers by company and email": (
        "customers",
        "SELECT * FROM customers WHERE company_id = 5 AND email = 'c5@example.com'",
    ),
    "webhook events by status and received time": (
        "webhook_events",
        "SELECT * FROM webhook_events WHERE status = 'failed' AND received_at < now() ORDER BY received_at LIMIT 100",
    ),
    "webhook events by provider and type": (
        "webhook_events",
        "SELECT * FROM webhook_events WHERE provider = 'stripe' AND event_type = 'type_3' ORDER BY received_at DESC LIMIT 50",
    ),
}


def _scans(plan: dict[str, object]) -> list[tuple[str, str]]:
    found = []
    if "Relation Name" in plan:
        found.append((str(plan["Node Type"]), str(plan["Relation Name"])))
    for child in plan.get("Plans", []):  # type: ignore[attr-defined]
        found.extend(_scans(child))
    return found


@pytest.fixture
async def seeded(database: Database) -> Database:
    async with database.sessions() as session:
        await session.execute(text(SEED))
        await session.commit()
    return database


async def test_hot_queries_use_an_index(seeded: Database) -> None:
    failures = []
    async with seeded.sessions() as session:
        for label, (table, query) in HOT_QUERIES.items():
            raw = (await session.execute(text(f"EXPLAIN (FORMAT JSON) {query}"))).scalar_one()
            plan = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
            scans = [node for node, relation in _scans(plan) if relation == table]
            if not scans or any(node == "Seq Scan" for node in scans):
                failures.append(f"{label}: {scans}")
    assert failures == []


async def test_every_foreign_key_is_indexed(database: Database) -> None:
    query = text(
        """
        SELECT c.conrelid::regclass::text AS table_name, c.conname
        FROM pg_constraint c
        WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
          AND c.conrelid::regclass::text NOT LIKE 'procrastinate%'
          AND NOT EXISTS (
            SELECT 1 FROM pg_index i
            WHERE i.indrelid = c.conrelid
              AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] @> c.conkey::int2[]
          )
        """
    )
    async with database.sessions() as session:
        unindexed = (await session.execute(query)).all()
    assert unindexed == []
