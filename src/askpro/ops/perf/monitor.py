"""The product's critical queries, timed on the live database with EXPLAIN (ANALYZE, BUFFERS).

Each query runs ``repeat`` times with parameters picked from the data itself (a busy staff
member, a real customer's phone, …); the verdict is ``ok`` when the median server time
(planning + execution) is under the threshold and the plan reads the table through an index.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

THRESHOLD_MS = 1.0


@dataclass(frozen=True)
class CriticalQuery:
    name: str
    sql: str
    # Which sample values (see :func:`sample_parameters`) the query's placeholders take.
    parameters: tuple[str, ...]


CRITICAL_QUERIES = (
    CriticalQuery(
        "appointments by company and day",
        "SELECT id, staff_id, starts_at, status FROM appointments "
        "WHERE company_id = %s AND starts_at >= %s AND starts_at < %s ORDER BY starts_at",
        ("company_id", "day_start", "day_end"),
    ),
    CriticalQuery(
        "appointments by staff and range",
        "SELECT id, starts_at, ends_at, status FROM appointments "
        "WHERE staff_id = %s AND starts_at >= %s AND starts_at < %s ORDER BY starts_at",
        ("staff_id", "day_start", "week_end"),
    ),
    CriticalQuery(
        # The form booking.availability sends: live ranges of the staff overlapping the slot.
        "free-slot check",
        "SELECT staff_id, blocks_from, blocks_until FROM appointments "
        "WHERE staff_id IN (%s) AND status IN ('held', 'booked') "
        "AND blocks_from < %s AND blocks_until > %s "
        "AND (status = 'booked' OR hold_expires_at > now())",
        ("staff_id", "slot_end", "slot_start"),
    ),
    CriticalQuery(
        "customer by phone",
        "SELECT id, name FROM customers WHERE company_id = %s AND phone = %s",
        ("company_id", "phone"),
    ),
    CriticalQuery(
        "customer by email",
        "SELECT id, name FROM customers WHERE company_id = %s AND email = %s",
        ("company_id", "email"),
    ),
    CriticalQuery(
        "calls by company and day",
        "SELECT id, started_at, duration_ms FROM calls "
        "WHERE company_id = %s AND started_at >= %s AND started_at < %s ORDER BY started_at",
        ("company_id", "day_start", "day_end"),
    ),
    CriticalQuery(
        "calls by customer",
        "SELECT id, started_at FROM calls WHERE customer_id = %s ORDER BY started_at DESC LIMIT 50",
        ("customer_id",),
    ),
    CriticalQuery(
        "inbox by status and age",
        "SELECT id FROM webhook_events WHERE status = 'received' "
        "AND received_at < now() - interval '1 minute' ORDER BY received_at LIMIT 100",
        (),
    ),
    CriticalQuery(
        "ledger by account",
        "SELECT id, kind, amount_cents, created_at FROM ledger_entries "
        "WHERE billing_account_id = %s ORDER BY created_at DESC LIMIT 50",
        ("billing_account_id",),
    ),
    CriticalQuery(
        "tool-answer look-up",
        "SELECT state, answer FROM tool_call_answers WHERE key = %s",
        ("tool_answer_key",),
    ),
)


@dataclass
class QueryResult:
    name: str
    median_ms: float | None
    runs_ms: list[float]
    rows: int
    uses_index: bool
    indexes: list[str]
    node_types: list[str]
    shared_hit_blocks: int
    shared_read_blocks: int
    verdict: str
    threshold_ms: float = THRESHOLD_MS
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PlanSummary:
    nodes: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    seq_scans: list[str] = field(default_factory=list)


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _walk(child)


def summarise(plan: dict[str, Any]) -> PlanSummary:
    summary = PlanSummary()
    for node in _walk(plan):
        summary.nodes.append(node["Node Type"])
        if "Index Name" in node:
            summary.indexes.append(node["Index Name"])
        if node["Node Type"] == "Seq Scan":
            summary.seq_scans.append(node.get("Relation Name", "?"))
    return summary


def sample_parameters(connection: psycopg.Connection[Any]) -> dict[str, Any] | None:
    """Values from the data: the middle appointment's company, staff and day, a customer of
    that company with calls, a ledger account, a stored tool answer. ``None``: no data."""
    row = connection.execute(
        "SELECT company_id, staff_id, starts_at FROM appointments "
        "ORDER BY id OFFSET (SELECT count(*) / 2 FROM appointments) LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    company_id, staff_id, starts_at = row
    day_start = starts_at.replace(hour=0, minute=0, second=0, microsecond=0)
    # Availability is asked for the coming days: the staff member's next appointment.
    upcoming = connection.execute(
        "SELECT starts_at FROM appointments WHERE staff_id = %s AND starts_at > now() "
        "ORDER BY starts_at LIMIT 1 OFFSET 20",
        (staff_id,),
    ).fetchone()
    slot_start = upcoming[0] if upcoming else starts_at
    customer = connection.execute(
        "SELECT id, phone, email FROM customers WHERE company_id = %s "
        "AND phone IS NOT NULL ORDER BY id LIMIT 1",
        (company_id,),
    ).fetchone()
    account = connection.execute("SELECT billing_account_id FROM ledger_entries LIMIT 1").fetchone()
    answer = connection.execute("SELECT key FROM tool_call_answers LIMIT 1").fetchone()
    return {
        "company_id": company_id,
        "staff_id": staff_id,
        "day_start": day_start,
        "day_end": day_start + dt.timedelta(days=1),
        "week_end": day_start + dt.timedelta(days=7),
        "slot_start": slot_start,
        "slot_end": slot_start + dt.timedelta(minutes=30),
        "customer_id": customer[0] if customer else 0,
        "phone": customer[1] if customer else "",
        "email": customer[2] if customer else "",
        "billing_account_id": account[0] if account else 0,
        "tool_answer_key": answer[0] if answer else "",
    }


def explain(
    connection: psycopg.Connection[Any], query: CriticalQuery, values: dict[str, Any], repeat: int
) -> QueryResult:
    """Run the query ``repeat`` times under EXPLAIN ANALYZE; the median of the server time."""
    parameters = tuple(values[name] for name in query.parameters)
    runs: list[float] = []
    document: dict[str, Any] = {}
    for _ in range(repeat):
        row = connection.execute(
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query.sql}",
            parameters,
        ).fetchone()
        assert row is not None
        raw = row[0]
        document = (json.loads(raw) if isinstance(raw, str) else raw)[0]
        runs.append(document["Planning Time"] + document["Execution Time"])
    plan = document["Plan"]
    summary = summarise(plan)
    median = round(statistics.median(runs), 3)
    uses_index = bool(summary.indexes) and not summary.seq_scans
    verdict = "ok" if uses_index and median < THRESHOLD_MS else "slow"
    note = ""
    if not uses_index:
        note = f"sequential scan on {', '.join(summary.seq_scans) or '?'}"
    elif median >= THRESHOLD_MS:
        note = f"median {median} ms >= {THRESHOLD_MS} ms"
    return QueryResult(
        name=query.name,
        median_ms=median,
        runs_ms=[round(run, 3) for run in runs],
        rows=int(plan.get("Actual Rows", 0)),
        uses_index=uses_index,
        indexes=sorted(set(summary.indexes)),
        node_types=summary.nodes,
        shared_hit_blocks=int(plan.get("Shared Hit Blocks", 0)),
        shared_read_blocks=int(plan.get("Shared Read Blocks", 0)),
        verdict=verdict,
        note=note,
    )


def run_monitor(connection: psycopg.Connection[Any], repeat: int = 7) -> list[QueryResult]:
    """Every critical query's result; with no appointments, each says there is no data."""
    values = sample_parameters(connection)
    if values is None:
        return [
            QueryResult(query.name, None, [], 0, False, [], [], 0, 0, "no data", note="no rows")
            for query in CRITICAL_QUERIES
        ]
    return [explain(connection, query, values, repeat) for query in CRITICAL_QUERIES]
