"""The demo seed: created once, and its starting credit is money like any other."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing import service as billing_service
from askpro.db import Database
from askpro.tenancy.demo import DEMO_CREDIT_CENTS, DemoCompany, seed_demo_company


async def test_demo_credit_is_a_ledger_entry_and_seeding_twice_changes_nothing(
    database: Database,
) -> None:
    first: DemoCompany = await database.unit_of_work(seed_demo_company)
    second: DemoCompany = await database.unit_of_work(seed_demo_company)
    assert first.created
    assert not second.created
    assert second.company_id == first.company_id

    async def read(session: AsyncSession) -> tuple[int, int, bool]:
        balance = await billing_service.get_balance(session, first.company_id)
        out_of_credit = await billing_service.is_out_of_credit(session, first.company_id)
        return balance.account_balance_cents, balance.company_balance_cents, out_of_credit

    assert await database.unit_of_work(read) == (DEMO_CREDIT_CENTS, DEMO_CREDIT_CENTS, False)

    async def differences(session: AsyncSession) -> int:
        return len((await billing_service.reconcile(session)).differences)

    assert await database.unit_of_work(differences) == 0
