"""The inbound-call answer installed into the webhook hub."""

from __future__ import annotations

import time

from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing import service as billing_service
from askpro.db import Database
from askpro.integrations.retell import routes  # noqa: F401 - installs the responder
from askpro.integrations.retell.inbound import build_inbound_answer, should_take_message
from askpro.models import Company, PhoneNumber
from askpro.runtime import Runtime
from askpro.webhooks.registry import inbound_responder
from tests.fixtures.booking import Salon
from tests.fixtures.factories import create_customer


def _payload(salon: Salon, caller: str = "+4917600000001") -> dict:
    return {
        "event": "call_inbound",
        "call_inbound": {"agent_id": "agent_1", "from_number": caller, "to_number": salon.number},
    }


async def test_responder_is_installed_in_the_hub() -> None:
    assert inbound_responder() is build_inbound_answer


async def test_known_caller_gets_name_services_and_ids(
    database: Database, runtime: Runtime, salon: Salon
) -> None:
    async with database.sessions() as session:
        customer = await create_customer(
            session, salon.company, phone="+4917600000001", name="Lisa"
        )
        await session.execute(
            update(PhoneNumber)
            .where(PhoneNumber.number == salon.number)
            .values(retell_agent_id="agent_salon")
        )
        await session.commit()
        started = time.perf_counter()
        answer = await build_inbound_answer(session, _payload(salon, "0176 00000001"))
        elapsed = time.perf_counter() - started
    inbound = answer["call_inbound"]
    variables = inbound["dynamic_variables"]
    assert variables["company_name"] == "Salon Test"
    assert variables["branch_name"] == "Mitte"
    assert variables["customer_name"] == "Lisa"
    assert variables["customer_known"] == "true"
    assert variables["services"] == "Colouring (60 min), Haircut (30 min)"
    assert variables["booking_mode"] == "book"
    assert variables["time_zone"] == "Europe/Berlin"
    assert len(variables["current_date"]) == 10
    assert len(variables["current_time"]) == 5
    assert all(isinstance(value, str) for value in variables.values())
    assert inbound["metadata"] == {
        "company_id": str(salon.company.id),
        "branch_id": str(salon.branch.id),
        "customer_id": str(customer.id),
    }
    assert inbound["override_agent_id"] == "agent_salon"
    assert elapsed < 1.0


async def test_unknown_caller_and_unknown_number(
    database: Database, runtime: Runtime, salon: Salon
) -> None:
    async with database.sessions() as session:
        answer = await build_inbound_answer(session, _payload(salon, "+4917699999999"))
        assert answer["call_inbound"]["dynamic_variables"]["customer_known"] == "false"
        assert "override_agent_id" not in answer["call_inbound"]
        nobody = await build_inbound_answer(
            session,
            {
                "event": "call_inbound",
                "call_inbound": {"from_number": "+1", "to_number": "+4930111"},
            },
        )
        assert nobody == {"call_inbound": {}}
        assert await build_inbound_answer(session, {"nonsense": True}) == {"call_inbound": {}}


async def test_suspended_or_out_of_credit_company_takes_messages(
    database: Database, runtime: Runtime, salon: Salon
) -> None:
    """Billing's out-of-credit flag decides: spent credit → take a message; a top-up clears it."""

    async def adjust_balance(amount_cents: int) -> None:
        async def work(session: AsyncSession) -> None:
            await billing_service.adjust(
                session, salon.company.id, amount_cents, reason="test", actor="test"
            )

        await database.unit_of_work(work)

    async def mode() -> str:
        async with database.sessions() as session:
            answer = await build_inbound_answer(session, _payload(salon))
        return str(answer["call_inbound"]["dynamic_variables"]["booking_mode"])

    await adjust_balance(500)
    assert await mode() != "take_message"
    await adjust_balance(-800)  # credit used up: balance -300, no subscription
    assert await mode() == "take_message"
    await adjust_balance(1000)  # a top-up clears it
    assert await mode() != "take_message"
    async with database.sessions() as session:
        company = await session.get(Company, salon.company.id)
        assert company is not None
        company.status = "suspended"
        await session.commit()
        assert await should_take_message(session, company)  # suspended always takes messages


async def test_a_second_call_to_the_number_reads_only_the_caller_and_the_credit(
    database: Database, runtime: Runtime, salon: Salon
) -> None:
    """The number's company, branch and services come from the per-process catalogue for
    a few seconds: the next call's answer sends two statements (customer, credit), not three."""
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    async with database.sessions() as session:
        first = await build_inbound_answer(session, _payload(salon))
        event.listen(database.engine.sync_engine, "before_cursor_execute", count)
        try:
            second = await build_inbound_answer(session, _payload(salon))
        finally:
            event.remove(database.engine.sync_engine, "before_cursor_execute", count)
    assert second["call_inbound"]["metadata"] == first["call_inbound"]["metadata"]
    assert len(statements) == 2
    assert not any("phone_numbers" in statement for statement in statements)
