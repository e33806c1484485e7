"""One write path for the appointment book: only ``askpro.booking`` inserts or updates
``appointments`` and ``appointment_events`` (a lint over the source, by its syntax tree)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from askpro.models import Appointment, AppointmentEvent, Base

SOURCE = Path(__file__).resolve().parents[2] / "src" / "askpro"
# The write path itself, the table definitions and their migrations.
ALLOWED = ("booking", "models", "migrations")
MODELS = {"Appointment", "AppointmentEvent"}
RAW_SQL = re.compile(
    r"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+appointment(s|_events)\b", re.IGNORECASE
)


def _columns_only_appointments_have() -> set[str]:
    """Attribute names that, assigned anywhere, can only mean an appointment row."""
    others: set[str] = set()
    for mapper in Base.registry.mappers:
        if mapper.class_ not in (Appointment, AppointmentEvent):
            others |= set(mapper.columns.keys())
    return (set(Appointment.__table__.columns.keys()) | {"changes"}) - others


def _writes(tree: ast.AST, own_columns: set[str]) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name in MODELS:
                found.append(f"line {node.lineno}: {name}(...) creates a row")
            if name in ("insert", "update", "delete") and node.args:
                target = node.args[0]
                if isinstance(target, ast.Name) and target.id in MODELS:
                    found.append(f"line {node.lineno}: {name}({target.id})")
        targets: list[ast.expr] = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for element in target.elts if isinstance(target, ast.Tuple) else [target]:
                if not isinstance(element, ast.Attribute):
                    continue
                owner = element.value.id if isinstance(element.value, ast.Name) else ""
                if element.attr in own_columns or (
                    "appointment" in owner.lower() and element.attr in Appointment.__table__.columns
                ):
                    found.append(f"line {element.lineno}: assigns {owner}.{element.attr}")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and RAW_SQL.search(node.value)
        ):
            found.append(f"line {node.lineno}: raw SQL writes appointments")
    return found


def _violations() -> dict[str, list[str]]:
    own_columns = _columns_only_appointments_have()
    violations: dict[str, list[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        if relative.parts[0] in ALLOWED:
            continue
        writes = _writes(ast.parse(path.read_text()), own_columns)
        if writes:
            violations[str(relative)] = writes
    return violations


def test_only_the_booking_package_writes_appointments_and_their_history() -> None:
    assert _violations() == {}


def test_the_lint_catches_writes_outside_booking() -> None:
    """The check can fail: each kind of write it looks for is caught in a sample."""
    sample = """
row = Appointment(company_id=1)
await session.execute(update(Appointment).values(status="cancelled"))
appointment.status = "cancelled"
target.calcom_sync_state = "synced"
await session.execute(text("UPDATE appointments SET status = 'booked'"))
session.add(AppointmentEvent(kind="x"))
"""
    found = _writes(ast.parse(sample), _columns_only_appointments_have())
    assert len(found) == 6, found
