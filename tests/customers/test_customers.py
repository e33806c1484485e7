"""Customers: E.164 identity, race-safe find-or-create, merges with audit and resolution."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from sqlalchemy import func, select

from askpro.calls.service import upsert_from_event
from askpro.customers import service as customers
from askpro.db import Database
from askpro.models import Appointment, Call, Company, Customer, CustomerMerge
from tests.fixtures.booking import DAY, Salon, local
from tests.fixtures.factories import create_appointment, create_customer


async def _company(database: Database, salon: Salon) -> Company:
    async with database.sessions() as session:
        company = await session.get(Company, salon.company.id)
        assert company is not None
        return company


async def test_fifty_concurrent_find_or_create_make_one_customer(
    wide_database: Database, salon: Salon
) -> None:
    company = await _company(wide_database, salon)
    spellings = ["+49 176 1234567", "0176 1234567", "0049-176-1234567", "+491761234567"]

    async def one(index: int) -> int:
        async def work(session) -> int:
            customer = await customers.find_or_create(
                session, company, spellings[index % 4], name="Max" if index == 7 else None
            )
            return customer.id

        return await wide_database.unit_of_work(work)

    ids = await asyncio.gather(*(one(index) for index in range(50)))
    assert len(set(ids)) == 1
    async with wide_database.sessions() as session:
        row = (await session.execute(select(Customer))).scalar_one()
        assert row.phone == "+491761234567"
        assert row.name == "Max"


async def test_anonymous_callers_never_get_a_phone_keyed_row(
    database: Database, salon: Salon
) -> None:
    company = await _company(database, salon)
    async with database.sessions() as session:
        first = await customers.find_or_create(session, company, "anonymous", name="A")
        second = await customers.find_or_create(session, company, None, email=" X@Example.COM ")
        third = await customers.find_or_create(session, company, "not a number")
        await session.commit()
        assert len({first.id, second.id, third.id}) == 3
        assert first.phone is second.phone is third.phone is None
        assert second.email == "x@example.com"


async def test_merge_moves_history_writes_audit_and_resolves_late_events(
    database: Database, salon: Salon
) -> None:
    company = await _company(database, salon)
    async with database.sessions() as session:
        survivor = await create_customer(session, company, phone="+4917600000010", name="Lisa")
        loser = await create_customer(
            session, company, phone="+4917600000011", email="lisa@example.com"
        )
        for index, owner in enumerate((survivor, loser, loser)):
            await create_appointment(
                session,
                company,
                salon.anna,
                salon.colouring,
                local(DAY, 9 + index * 2),
                customer_id=owner.id,
            )
        session.add(Call(call_id="old-call", company_id=company.id, customer_id=loser.id))
        await session.commit()

    async def merge(session) -> Customer:
        return await customers.merge_duplicates(
            session, company, survivor.id, [loser.id], actor="staff:anna"
        )

    merged = await database.unit_of_work(merge)
    assert merged.email == "lisa@example.com"  # empty field filled from the loser
    async with database.sessions() as session:
        owners = (await session.execute(select(Appointment.customer_id))).scalars().all()
        assert set(owners) == {survivor.id}
        call = (await session.execute(select(Call))).scalar_one()
        assert call.customer_id == survivor.id
        audit = (await session.execute(select(CustomerMerge))).scalar_one()
        assert (audit.survivor_id, audit.loser_id, audit.actor) == (
            survivor.id,
            loser.id,
            "staff:anna",
        )
        assert audit.loser_snapshot["email"] == "lisa@example.com"
        assert audit.moved == {"appointments": 2, "calls": 1, "earlier_merges": 0}
        loser_row = await session.get(Customer, loser.id)
        assert loser_row.merged_into_id == survivor.id
        # A late Retell event naming the loser's number lands on the survivor.
        late = {
            "call_id": "late-call",
            "direction": "inbound",
            "from_number": "+4917600000011",
            "to_number": salon.number,
            "call_status": "ended",
            "start_timestamp": int(dt.datetime.now(dt.UTC).timestamp() * 1000),
        }
        row = await upsert_from_event(session, "call_ended", json.loads(json.dumps(late)))
        await session.commit()
        assert row.customer_id == survivor.id
        found = await customers.find_or_create(session, company, "0176 00000011")
        assert found.id == survivor.id
        count = await session.execute(select(func.count()).select_from(Customer))
        assert count.scalar_one() == 2


async def test_merge_refuses_nonsense(database: Database, salon: Salon) -> None:
    company = await _company(database, salon)
    async with database.sessions() as session:
        only = await create_customer(session, company, phone="+4917600000020")
        await session.commit()
        for losers in ([only.id], [], [999999]):
            try:
                await customers.merge_duplicates(session, company, only.id, losers)
            except customers.MergeError:
                await session.rollback()
                continue
            raise AssertionError(f"merge of {losers} should fail")
