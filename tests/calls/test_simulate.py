"""`askpro simulate call` plays a whole call and books a real appointment."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from askpro.app import create_app
from askpro.calls.simulate import Simulation
from askpro.models import Appointment, AppointmentEvent, Customer
from askpro.runtime import Runtime
from tests.fixtures.booking import Salon
from tests.fixtures.retell import RETELL_KEY


async def test_simulated_call_books_and_prints_the_conversation(
    runtime: Runtime, salon: Salon
) -> None:
    lines: list[str] = []
    simulation = Simulation(
        base_url="http://askpro.test",
        key=RETELL_KEY,
        to_number=salon.number,
        from_number="+4915112345678",
        caller_name="Erika Mustermann",
        service="Haircut",
        say=lines.append,
        transport=httpx.ASGITransport(app=create_app(runtime=runtime)),
    )
    booked = await simulation.run()
    assert booked["outcome"] == "booked"
    printed = "\n".join(lines)
    for tool in ("check_availability", "book_appointment", "find_appointments"):
        assert f"→ {tool}" in printed
    assert "← booked" in printed
    assert "Gebucht: Haircut" in printed
    async with runtime.database.sessions() as session:
        appointment = (await session.execute(select(Appointment))).scalar_one()
        assert appointment.status == "booked"
        customer = await session.get(Customer, appointment.customer_id)
        assert customer.name == "Erika Mustermann"
        assert customer.phone == "+4915112345678"
        kinds = (await session.execute(select(AppointmentEvent.kind))).scalars().all()
        assert sorted(kinds) == ["booked_from_hold", "held"]
