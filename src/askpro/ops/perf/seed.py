"""``askpro perf seed``: realistic volume for the performance monitor, loaded with COPY.

Companies with branches, staff and services; customers; calls; appointments over two years
(never overlapping per staff member, so the exclusion constraint holds); webhook events;
call-charge ledger entries; stored tool answers. Deterministic for a given ``seed``.
The data is for measuring, not for billing: balances are not reconciled with the ledger.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

DAYS = 730  # two years, ending a month from now
SLOTS_PER_DAY = 16  # 30-minute appointments from 08:00 to 16:00 UTC
SLOT = dt.timedelta(minutes=30)
STAFF_PER_BRANCH = 5
# Past appointments are done with; only the future ones are live (booked).
STATUSES_PAST = ("completed",) * 16 + ("cancelled", "cancelled", "cancelled", "no_show")
SOURCES = ("phone",) * 6 + ("api", "api", "calcom", "calcom")
FIRST_NAMES = ("Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hans", "Ida", "Jonas")
LAST_NAMES = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker")
WEBHOOK_TYPES = (
    ("retell", "call_ended"),
    ("retell", "call_analyzed"),
    ("calcom", "BOOKING_CREATED"),
    ("stripe", "invoice.paid"),
)
WEBHOOK_STATUSES = ("processed",) * 90 + ("ignored",) * 5 + ("failed",) * 3 + ("dead",) * 2

Progress = Callable[[str, int], None]  # (table, rows just written)


@dataclass(frozen=True)
class SeedPlan:
    appointments: int
    companies: int = 10
    webhook_events: int | None = None
    seed: int = 42

    @property
    def staff_total(self) -> int:
        """Enough staff that every appointment gets its own slot."""
        per_staff = DAYS * SLOTS_PER_DAY * 7 // 8  # leave an eighth of the slots free
        needed = max(1, math.ceil(self.appointments / per_staff))
        branches = math.ceil(needed / STAFF_PER_BRANCH)
        branches = max(branches, self.companies)
        return branches * STAFF_PER_BRANCH

    @property
    def customers(self) -> int:
        return max(10, self.appointments // 10)

    @property
    def calls(self) -> int:
        return max(10, self.appointments // 3)

    @property
    def events(self) -> int:
        return self.webhook_events if self.webhook_events is not None else self.appointments // 10

    @property
    def tool_answers(self) -> int:
        return max(10, self.appointments // 10)

    def rows(self) -> dict[str, int]:
        return {
            "customers": self.customers,
            "calls": self.calls,
            "ledger_entries": self.calls,
            "appointments": self.appointments,
            "webhook_events": self.events,
            "tool_call_answers": self.tool_answers,
        }


@dataclass
class Tenants:
    companies: list[int] = field(default_factory=list)
    account_of: dict[int, int] = field(default_factory=dict)
    # per staff member: (company, branch, staff, service)
    staff: list[tuple[int, int, int, int]] = field(default_factory=list)


def _insert_tenants(connection: psycopg.Connection[Any], plan: SeedPlan) -> Tenants:
    tenants = Tenants()
    branches_total = plan.staff_total // STAFF_PER_BRANCH
    for number in range(plan.companies):
        row = connection.execute(
            "INSERT INTO billing_accounts (name) VALUES (%s) RETURNING id",
            (f"Perf account {number + 1}",),
        ).fetchone()
        assert row is not None
        account_id = row[0]
        row = connection.execute(
            "INSERT INTO companies (name, billing_account_id, price_per_minute_cents) "
            "VALUES (%s, %s, 12) RETURNING id",
            (f"Perf company {number + 1}", account_id),
        ).fetchone()
        assert row is not None
        tenants.companies.append(row[0])
        tenants.account_of[row[0]] = account_id
    for index in range(branches_total):
        company_id = tenants.companies[index % plan.companies]
        row = connection.execute(
            "INSERT INTO branches (company_id, name) VALUES (%s, %s) RETURNING id",
            (company_id, f"Branch {index + 1}"),
        ).fetchone()
        assert row is not None
        branch_id = row[0]
        row = connection.execute(
            "INSERT INTO services (company_id, name, duration_minutes) "
            "VALUES (%s, %s, 30) RETURNING id",
            (company_id, f"Service {index + 1}"),
        ).fetchone()
        assert row is not None
        service_id = row[0]
        for member in range(STAFF_PER_BRANCH):
            row = connection.execute(
                "INSERT INTO staff (company_id, branch_id, name) VALUES (%s, %s, %s) RETURNING id",
                (company_id, branch_id, f"{FIRST_NAMES[member]} {index + 1}"),
            ).fetchone()
            assert row is not None
            tenants.staff.append((company_id, branch_id, row[0], service_id))
    return tenants


def _copy(
    connection: psycopg.Connection[Any],
    table: str,
    columns: Sequence[str],
    rows: Iterator[Sequence[Any]],
    progress: Progress,
    every: int = 10_000,
) -> None:
    written = 0
    with connection.cursor() as cursor:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                written += 1
                if written == every:
                    progress(table, written)
                    written = 0
    progress(table, written)


def _phone(company_index: int, number: int) -> str:
    return f"+4915{company_index:02d}{number:08d}"


def seed(
    connection: psycopg.Connection[Any],
    plan: SeedPlan,
    progress: Progress,
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """Write the plan's rows in one transaction (the caller commits); return the counts."""
    now = (now or dt.datetime.now(dt.UTC)).replace(minute=0, second=0, microsecond=0)
    randomness = random.Random(plan.seed)
    tenants = _insert_tenants(connection, plan)
    first_day = (now - dt.timedelta(days=DAYS - 30)).replace(hour=8)
    companies = tenants.companies
    first_customer = _next_id(connection, "customers")
    first_call = _next_id(connection, "calls")

    def customers() -> Iterator[Sequence[Any]]:
        for number in range(plan.customers):
            company_index = number % len(companies)
            name = f"{FIRST_NAMES[number % 10]} {LAST_NAMES[(number // 10) % 8]} {number}"
            email = f"kunde{number}@example.com"
            yield (
                first_customer + number, companies[company_index], name,
                _phone(company_index, number), email,
            )  # fmt: skip

    _copy(connection, "customers", ("id", "company_id", "name", "phone", "email"), customers(),
          progress)  # fmt: skip

    call_times: list[dt.datetime] = []

    def calls() -> Iterator[Sequence[Any]]:
        span = (now - first_day).total_seconds()
        for number in range(plan.calls):
            customer = number % plan.customers
            started = first_day + dt.timedelta(seconds=span * number / plan.calls)
            call_times.append(started)
            duration = randomness.randint(30, 600) * 1000
            yield (
                first_call + number, f"perf_call_{plan.seed}_{first_call + number}",
                companies[customer % len(companies)], first_customer + customer,
                _phone(customer % len(companies), customer), "inbound", "ended", started,
                started + dt.timedelta(milliseconds=duration), duration,
            )  # fmt: skip

    call_columns = ("id", "call_id", "company_id", "customer_id", "from_number", "direction",
                    "status", "started_at", "ended_at", "duration_ms")  # fmt: skip
    _copy(connection, "calls", call_columns, calls(), progress)

    def charges() -> Iterator[Sequence[Any]]:
        for number in range(plan.calls):
            company_id = companies[(number % plan.customers) % len(companies)]
            yield (
                tenants.account_of[company_id], company_id, "call_charge",
                -randomness.randint(10, 120), "eur", f"perf_call_{plan.seed}_{first_call + number}",
                "retell", call_times[number],
            )  # fmt: skip

    _copy(connection, "ledger_entries", ("billing_account_id", "company_id", "kind",
          "amount_cents", "currency", "external_reference", "actor", "created_at"), charges(),
          progress)  # fmt: skip

    def appointments() -> Iterator[Sequence[Any]]:
        staff = tenants.staff
        slots = DAYS * SLOTS_PER_DAY
        for number in range(plan.appointments):
            company_id, branch_id, staff_id, service_id = staff[number % len(staff)]
            # Spread each staff member's appointments over the two years, one slot each.
            per_staff = number // len(staff)
            slot = (per_staff * 8 // 7) % slots
            starts = (
                first_day + dt.timedelta(days=slot // SLOTS_PER_DAY) + SLOT * (slot % SLOTS_PER_DAY)
            )
            status = STATUSES_PAST[number % len(STATUSES_PAST)] if starts < now else "booked"
            customer = randomness.randrange(plan.customers)
            source = SOURCES[number % len(SOURCES)]
            call_id = first_call + number % plan.calls if source == "phone" else None
            created = starts - dt.timedelta(days=randomness.randint(1, 21))
            yield (
                company_id, branch_id, staff_id, service_id, first_customer + customer, call_id,
                starts, starts + SLOT, starts, starts + SLOT, status,
                "synced" if number % 50 else "pending", source, created, created,
            )  # fmt: skip

    _copy(connection, "appointments", ("company_id", "branch_id", "staff_id", "service_id",
          "customer_id", "call_id", "starts_at", "ends_at", "blocks_from", "blocks_until",
          "status", "calcom_sync_state", "source", "created_at", "updated_at"), appointments(),
          progress)  # fmt: skip

    def events() -> Iterator[Sequence[Any]]:
        span = dt.timedelta(days=30).total_seconds()
        for number in range(plan.events):
            provider, event_type = WEBHOOK_TYPES[number % len(WEBHOOK_TYPES)]
            status = WEBHOOK_STATUSES[number % len(WEBHOOK_STATUSES)]
            received = now - dt.timedelta(seconds=span * (plan.events - number) / plan.events)
            body = f'{{"event": "{event_type}", "n": {number}}}'.encode()
            yield (
                provider, event_type, f"perf-{plan.seed}-{number}",
                companies[number % len(companies)],
                status, 1 if status == "processed" else 8, "{}", body, received, received,
                "RuntimeError: perf seed" if status in ("failed", "dead") else None,
            )  # fmt: skip

    _copy(connection, "webhook_events", ("provider", "event_type", "dedup_key", "company_id",
          "status", "attempts", "headers", "body", "received_at", "processed_at", "last_error"),
          events(), progress)  # fmt: skip

    def answers() -> Iterator[Sequence[Any]]:
        for number in range(plan.tool_answers):
            yield (
                f"perf-{plan.seed}-{number:058d}"[-64:], companies[number % len(companies)],
                f"perf_call_{plan.seed}_{first_call + number % plan.calls}", "check_availability",
                "done", '{"result": "ok"}', call_times[number % plan.calls],
            )  # fmt: skip

    _copy(connection, "tool_call_answers", ("key", "company_id", "call_id", "tool", "state",
          "answer", "created_at"), answers(), progress)  # fmt: skip
    _advance_sequences(connection)
    return {"companies": len(companies), "staff": len(tenants.staff), **plan.rows()}


class SeedRefused(Exception):
    """The target already has appointments and adding to them was not asked for."""


# The big tables: into empty ones, building their plain indexes once after the COPY is
# several times faster than maintaining them row by row.
BULK_TABLES = ("appointments", "calls", "ledger_entries", "webhook_events", "customers")

PLAIN_INDEXES_SQL = """
SELECT c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema() AND t.relname = ANY(%s)
  AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
  AND NOT i.indisunique
ORDER BY c.relname
"""


def _drop_plain_indexes(connection: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """Drop the big tables' indexes that enforce nothing; return (name, definition) of each.
    Constraints (primary keys, unique, the exclusion constraint) stay and are checked."""
    indexes = [
        (row[0], row[1]) for row in connection.execute(PLAIN_INDEXES_SQL, (list(BULK_TABLES),))
    ]
    for name, _ in indexes:
        connection.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    return indexes


def seed_database(
    url: str,
    plan: SeedPlan,
    progress: Progress,
    *,
    append: bool = False,
    announce: Callable[[str], None] = lambda message: None,
) -> dict[str, int]:
    """Seed the (migrated) database at ``url`` in one transaction, then ``ANALYZE`` it.

    Into an empty database the big tables' plain indexes are dropped first and built again
    from their own definitions after the COPY, in the same transaction (a failure leaves
    every index as it was).
    """
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT EXISTS (SELECT 1 FROM appointments)").fetchone()
        if row and row[0] and not append:
            raise SeedRefused("the database has appointments; pass --append to add more")
        dropped = [] if append else _drop_plain_indexes(connection)
        counts = seed(connection, plan, progress)
        announce(f"building {len(dropped)} indexes")
        connection.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, definition in dropped:
            connection.execute(definition)  # pg_get_indexdef's own text
        connection.commit()
        connection.autocommit = True
        announce("ANALYZE")
        connection.execute("ANALYZE")
    return counts


def _next_id(connection: psycopg.Connection[Any], table: str) -> int:
    row = connection.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()  # noqa: S608 - table names are ours
    assert row is not None
    return int(row[0])


def _advance_sequences(connection: psycopg.Connection[Any]) -> None:
    """Rows copied with explicit ids: move the id sequences past them."""
    for table in ("customers", "calls"):
        connection.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
            f"(SELECT max(id) FROM {table}))"
        )
