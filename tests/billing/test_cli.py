"""``askpro billing balance | adjust | reconcile`` as subprocesses against the test database."""

from __future__ import annotations

import pytest

from askpro.billing.cli import parse_amount
from askpro.billing.errors import BillingError
from askpro.db import Database
from tests.fixtures.billing import account_of, askpro, create_billed_company, ledger_rows


async def test_adjust_then_balance_by_id_and_by_name(database: Database, database_url: str) -> None:
    company_id, _ = await create_billed_company(database, name="Salon CLI")
    credited = askpro(
        database_url, "billing", "adjust", str(company_id), "12.50", "--reason", "goodwill"
    )
    assert credited.returncode == 0, credited.stderr
    assert "account balance now 12.50" in credited.stdout
    debited = askpro(
        database_url,
        "billing",
        "adjust",
        "Salon CLI",
        "-2.25",
        "--reason",
        "correction",
        "--reference",
        "ticket-42",
    )
    assert debited.returncode == 0, debited.stderr
    again = askpro(
        database_url,
        "billing",
        "adjust",
        "Salon CLI",
        "-2.25",
        "--reason",
        "correction",
        "--reference",
        "ticket-42",
    )
    assert again.returncode == 0, again.stderr
    assert "already applied" in again.stdout

    entries = await ledger_rows(database)
    assert [(e.kind, e.amount_cents, e.description) for e in entries] == [
        ("adjustment", 1250, "goodwill"),
        ("adjustment", -225, "correction"),
    ]
    assert all(entry.actor.startswith("cli:") for entry in entries)  # audited: who
    assert (await account_of(database, company_id)).balance_cents == 1025

    shown = askpro(database_url, "billing", "balance", "Salon CLI")
    assert shown.returncode == 0, shown.stderr
    assert f"company #{company_id}: 10.25 EUR" in shown.stdout
    assert "in credit" in shown.stdout


async def test_adjust_rejects_bad_input_with_one_clear_line(
    database: Database, database_url: str
) -> None:
    company_id, _ = await create_billed_company(database)
    cases = [
        (["adjust", str(company_id), "12.345", "--reason", "x"], "more than two decimals"),
        (["adjust", str(company_id), "ten", "--reason", "x"], "not an amount"),
        (["adjust", str(company_id), "5", "--reason", "  "], "needs a reason"),
        (["adjust", "No Such Company", "5", "--reason", "x"], "no company"),
        (["balance", "999999"], "no company"),
    ]
    for arguments, message in cases:
        result = askpro(database_url, "billing", *arguments)
        assert result.returncode == 2, (arguments, result.stdout, result.stderr)
        assert message in result.stderr
        assert "Traceback" not in result.stderr
    assert await ledger_rows(database) == []


def test_billing_commands_explain_themselves() -> None:
    for command in (
        ["billing", "--help"],
        ["billing", "adjust", "--help"],
        ["billing", "reconcile", "--help"],
    ):
        result = askpro("postgresql://unused/unused", *command)
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout


def test_parse_amount() -> None:
    assert parse_amount("12.50") == 1250
    assert parse_amount("-3") == -300
    assert parse_amount("0,99") == 99
    for bad in ("Infinity", "NaN", "1.001", "abc", ""):
        with pytest.raises(BillingError):
            parse_amount(bad)
