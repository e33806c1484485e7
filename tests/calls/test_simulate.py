"""`askpro simulate call` plays a whole call and books a real appointment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from askpro.app import create_app
from askpro.calls.simulate import Simulation, SimulationFailed
from askpro.models import Appointment, AppointmentEvent, Customer, WebhookEvent
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


def test_simulate_call_without_a_server_says_so_in_one_line_and_fails(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASKPRO_")}
    environment["ASKPRO_DATA_DIR"] = str(tmp_path)
    for extra in ([], ["--calls", "3", "--concurrency", "2"]):
        finished = subprocess.run(
            [
                sys.executable,
                "-m",
                "askpro",
                "simulate",
                "call",
                "--base-url",
                "http://127.0.0.1:9",
                *extra,
            ],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert finished.returncode == 1
        assert "Traceback" not in finished.stderr
        assert finished.stderr.strip().splitlines() == [
            "simulation failed: no askpro server answers at http://127.0.0.1:9 "
            "(start one with `askpro serve`)"
        ]


async def test_a_call_that_fails_midway_still_ends_the_call_it_started(
    runtime: Runtime, salon: Salon
) -> None:
    simulation = Simulation(
        base_url="http://askpro.test",
        key=RETELL_KEY,
        to_number=salon.number,
        from_number="+4915112345678",
        caller_name="Erika Mustermann",
        service="Underwater basket weaving",  # not offered: the conversation fails
        say=lambda _line: None,
        transport=httpx.ASGITransport(app=create_app(runtime=runtime)),
    )
    with pytest.raises(SimulationFailed):
        await simulation.run()
    async with runtime.database.sessions() as session:
        received = (
            (
                await session.execute(
                    select(WebhookEvent.event_type).where(WebhookEvent.provider == "retell")
                )
            )
            .scalars()
            .all()
        )
    assert sorted(received) == ["call_analyzed", "call_ended", "call_inbound", "call_started"]
