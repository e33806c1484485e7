"""``askpro billing``: balance, adjust, reconcile."""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing.errors import BillingError
from askpro.cliutil import JsonFlag, console, fail, load_or_exit, print_json, run_in_transaction

T = TypeVar("T")

billing_cli = typer.Typer(
    help="Credit balances, operator adjustments and the ledger reconciliation.",
    no_args_is_help=True,
)
CompanyArgument = Annotated[str, typer.Argument(help="Company id, or its exact name.")]


def parse_amount(raw: str) -> int:
    """``"12.50"`` → 1250, ``"-3"`` → -300 (currency units, at most two decimals)."""
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        raise BillingError(f"not an amount: {raw!r} (write e.g. 12.50 or -3)") from None
    if not value.is_finite():
        raise BillingError(f"not an amount: {raw!r} (write e.g. 12.50 or -3)")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise BillingError(f"{raw!r} has more than two decimals")
    return int(cents)


async def _company_id(session: AsyncSession, reference: str) -> int:
    from askpro.billing import repository

    company = await repository.find_company(session, reference)
    if company is None:
        raise BillingError(f"no company {reference!r}")
    return company.id


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    settings = load_or_exit()
    try:
        return run_in_transaction(settings, work)
    except BillingError as error:
        raise fail(str(error)) from None


@billing_cli.command("balance")
def balance(company: CompanyArgument, as_json: JsonFlag = False) -> None:
    """Show the company's balance, its paying account's balance and the credit state."""
    from askpro.billing.schemas import BalanceOut
    from askpro.billing.service import get_balance

    async def work(session: AsyncSession) -> BalanceOut:
        return await get_balance(session, await _company_id(session, company))

    result = _run(work)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    currency = result.currency.upper()
    console.print(
        f"company #{result.company_id}: {result.company_balance_cents / 100:.2f} {currency}"
    )
    if result.billing_account_id is None:
        console.print("no billing account yet (no billing activity)")
        return
    console.print(
        f"paying account #{result.billing_account_id} ({result.account_name}): "
        f"{result.account_balance_cents / 100:.2f} {currency}"
    )
    console.print("out of credit" if result.out_of_credit else "in credit")
    if result.payment_failed_at is not None:
        console.print(f"last payment failed at {result.payment_failed_at.isoformat()}")


@billing_cli.command(
    "adjust", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True}
)
def adjust_command(
    company: CompanyArgument,
    amount: Annotated[
        str, typer.Argument(help="Amount in currency units: 12.50 credits, -3 debits.")
    ],
    reason: Annotated[str, typer.Option(help="Why (kept on the ledger entry).")],
    reference: Annotated[
        str | None,
        typer.Option(help="Idempotency key: the same reference adjusts only once."),
    ] = None,
) -> None:
    """Add an operator ``adjustment`` entry (audited with your user name and the reason)."""
    from askpro.billing import ledger
    from askpro.billing.service import adjust

    try:
        cents = parse_amount(amount)
    except BillingError as error:
        raise fail(str(error)) from None
    actor = f"cli:{getpass.getuser()}"

    async def work(session: AsyncSession) -> ledger.Posting:
        return await adjust(
            session,
            await _company_id(session, company),
            cents,
            reason=reason,
            actor=actor,
            reference=reference,
        )

    posting = _run(work)
    if not posting.created:
        console.print(f"reference {reference} was already applied: nothing changed")
        return
    assert posting.balance_cents is not None
    console.print(
        f"adjusted by {cents / 100:.2f}; account balance now {posting.balance_cents / 100:.2f}"
    )


@billing_cli.command("reconcile")
def reconcile_command(as_json: JsonFlag = False) -> None:
    """Recompute every balance from the ledger; exit 1 if any stored balance differs."""
    from askpro.billing.service import reconcile

    report = _run(reconcile)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        console.print(
            f"checked {report.accounts_checked} accounts and "
            f"{report.companies_checked} companies: {len(report.differences)} differences"
        )
        for difference in report.differences:
            console.print(
                f"  {difference['table']} #{difference['id']} ({difference['name']}): "
                f"stored {difference['stored_cents']} cents, ledger {difference['ledger_cents']}"
            )
    if report.differences:
        raise typer.Exit(1)
