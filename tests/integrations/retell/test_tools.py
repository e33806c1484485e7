"""The agent's tools over HTTP: signed requests, typed outcomes, truthful messages."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing import service as billing_service
from askpro.db import Database
from askpro.models import Appointment, Call, Customer
from askpro.webhooks.signatures import sign_retell
from tests.fixtures.booking import DAY, Salon
from tests.fixtures.retell import CALLER, post_tool


def _day() -> str:
    return DAY.isoformat()


async def test_check_availability_for_a_day_offers_three_times_in_german(
    client: httpx.AsyncClient, salon: Salon
) -> None:
    response = await post_tool(
        client,
        "check_availability",
        {"service": "haircut", "date": _day(), "part_of_day": "afternoon"},
        call_id="call-a",
        to_number=salon.number,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "available"
    assert len(body["options"]) == 3
    assert all("+01:00" in option["start"] for option in body["options"])  # Berlin, winter
    assert all(12 <= int(option["start"][11:13]) < 17 for option in body["options"])
    assert body["message"].startswith("Frei wäre ")
    assert "Uhr" in body["message"]


async def test_exact_time_is_held_then_booked_by_the_same_call(
    client: httpx.AsyncClient, salon: Salon, database: Database
) -> None:
    args = {"service": "Haircut", "date": _day(), "time": "10:00"}
    held = (
        await post_tool(
            client, "check_availability", args, call_id="call-h", to_number=salon.number
        )
    ).json()
    assert held["outcome"] == "available", held
    async with database.sessions() as session:
        rows = (await session.execute(select(Appointment))).scalars().all()
        assert [row.status for row in rows] == ["held"]
    # Another caller cannot take the held time.
    other = (
        await post_tool(
            client,
            "book_appointment",
            {**args, "staff": None},
            call_id="call-x",
            to_number=salon.number,
            from_number="+4915100000001",
        )
    ).json()
    # Two staff members: the other caller gets the second one, then nobody is left.
    third = (
        await post_tool(
            client,
            "book_appointment",
            args,
            call_id="call-y",
            to_number=salon.number,
            from_number="+4915100000002",
        )
    ).json()
    assert other["outcome"] == "booked"
    assert third["outcome"] == "slot_taken"
    assert 1 <= len(third["options"]) <= 3
    booked = (
        await post_tool(
            client,
            "book_appointment",
            {**args, "customer_name": "Lisa Müller"},
            call_id="call-h",
            to_number=salon.number,
        )
    ).json()
    assert booked["outcome"] == "booked", booked
    assert booked["message"].startswith("Gebucht: Haircut bei ")
    async with database.sessions() as session:
        statuses = sorted((await session.execute(select(Appointment.status))).scalars().all())
        assert statuses == ["booked", "booked"]
        customer = (
            await session.execute(select(Customer).where(Customer.phone == CALLER))
        ).scalar_one()
        assert customer.name == "Lisa Müller"
        call = (await session.execute(select(Call).where(Call.call_id == "call-h"))).scalar_one()
        assert call.customer_id == customer.id
        mine = (
            await session.execute(select(Appointment).where(Appointment.call_id == call.id))
        ).scalar_one()
        assert mine.customer_id == customer.id


async def test_same_tool_call_five_times_concurrently_one_appointment_same_answers(
    client: httpx.AsyncClient, salon: Salon, database: Database
) -> None:
    args = {"service": "Colouring", "date": _day(), "time": "11:00"}
    responses = await asyncio.gather(
        *(
            post_tool(
                client, "book_appointment", args, call_id="call-retry", to_number=salon.number
            )
            for _ in range(5)
        )
    )
    bodies = [response.content for response in responses]
    assert len(set(bodies)) == 1, bodies
    assert json.loads(bodies[0])["outcome"] == "booked"
    async with database.sessions() as session:
        count = await session.execute(select(func.count()).select_from(Appointment))
        assert count.scalar_one() == 1


async def test_missing_arguments_are_named_not_a_500(
    client: httpx.AsyncClient, salon: Salon
) -> None:
    body = (
        await post_tool(
            client, "book_appointment", {"service": "Haircut"}, call_id="c", to_number=salon.number
        )
    ).json()
    assert body["outcome"] == "invalid_request"
    assert body["missing"] == ["date", "time"]
    assert body["message"] == "Mir fehlen noch Angaben: das Datum und die Uhrzeit."
    unknown = (
        await post_tool(
            client,
            "book_appointment",
            {"service": "Massage", "date": _day(), "time": "10:00"},
            call_id="c",
            to_number=salon.number,
        )
    ).json()
    assert unknown["outcome"] == "invalid_request"
    assert "Haircut" in unknown["message"]
    garbage = (
        await post_tool(
            client,
            "book_appointment",
            {"service": "Haircut", "date": "tomorrow", "time": "25:99"},
            call_id="c",
            to_number=salon.number,
        )
    ).json()
    assert garbage["outcome"] == "invalid_request"
    assert garbage["missing"] == ["date", "time"]


async def test_bad_signature_is_refused(client: httpx.AsyncClient, salon: Salon) -> None:
    body = json.dumps({"name": "find_appointments", "call": {}, "args": {}}).encode()
    response = await client.post(
        "/retell/functions/find_appointments",
        content=body,
        headers={"x-retell-signature": sign_retell(body, "wrong-key")},
    )
    assert response.status_code == 401
    missing = await client.post("/retell/functions/find_appointments", content=body)
    assert missing.status_code == 401


async def test_too_soon_and_outside_hours_are_told_with_alternatives(
    client: httpx.AsyncClient, salon: Salon
) -> None:
    sunday = DAY.fromordinal(DAY.toordinal() + 4).isoformat()
    closed = (
        await post_tool(
            client,
            "book_appointment",
            {"service": "Haircut", "date": sunday, "time": "10:00"},
            call_id="c1",
            to_number=salon.number,
        )
    ).json()
    assert closed["outcome"] == "outside_hours"
    assert closed["message"].startswith("Zu dieser Zeit haben wir leider nicht geöffnet.")
    assert 1 <= len(closed["options"]) <= 3
    evening = (
        await post_tool(
            client,
            "book_appointment",
            {"service": "Haircut", "date": _day(), "time": "21:00"},
            call_id="c1",
            to_number=salon.number,
        )
    ).json()
    assert evening["outcome"] == "outside_hours"
    past = (
        await post_tool(
            client,
            "book_appointment",
            {"service": "Haircut", "date": "2020-01-01", "time": "10:00"},
            call_id="c1",
            to_number=salon.number,
        )
    ).json()
    assert past["outcome"] == "too_soon"


async def test_english_company_hears_english(
    client: httpx.AsyncClient, salon: Salon, database: Database
) -> None:
    async with database.sessions() as session:
        company = await session.get(type(salon.company), salon.company.id)
        company.locale = "en"
        await session.commit()
    body = (
        await post_tool(
            client,
            "book_appointment",
            {"service": "Haircut", "date": _day(), "time": "09:00"},
            call_id="c-en",
            to_number=salon.number,
        )
    ).json()
    assert body["outcome"] == "booked"
    assert body["message"].startswith("Booked: Haircut with ")
    assert " at 09:00" in body["message"]


async def test_find_reschedule_cancel_by_the_callers_number(
    client: httpx.AsyncClient, salon: Salon, database: Database
) -> None:
    booked = (
        await post_tool(
            client,
            "book_appointment",
            {"service": "Haircut", "date": _day(), "time": "15:00"},
            call_id="first-call",
            to_number=salon.number,
        )
    ).json()
    appointment_id = booked["appointment"]["id"]
    found = (
        await post_tool(
            client, "find_appointments", {}, call_id="second-call", to_number=salon.number
        )
    ).json()
    assert [item["id"] for item in found["appointments"]] == [appointment_id]
    moved = (
        await post_tool(
            client,
            "reschedule_appointment",
            {"new_date": _day(), "new_time": "16:00"},
            call_id="second-call",
            to_number=salon.number,
        )
    ).json()
    assert moved["outcome"] == "rescheduled", moved
    assert moved["appointment"]["start"][11:16] == "16:00"
    # Somebody else's number cannot touch it.
    stranger = (
        await post_tool(
            client,
            "cancel_appointment",
            {"appointment_id": appointment_id},
            call_id="stranger",
            to_number=salon.number,
            from_number="+4915199999999",
        )
    ).json()
    assert stranger["outcome"] == "not_found"
    cancelled = (
        await post_tool(
            client, "cancel_appointment", {}, call_id="second-call", to_number=salon.number
        )
    ).json()
    assert cancelled["outcome"] == "cancelled"
    again = (
        await post_tool(
            client,
            "cancel_appointment",
            {"appointment_id": appointment_id},
            call_id="third-call",
            to_number=salon.number,
        )
    ).json()
    assert again["outcome"] == "cancelled"
    async with database.sessions() as session:
        row = await session.get(Appointment, appointment_id)
        assert row.status == "cancelled"


async def test_suspended_company_takes_messages(
    client: httpx.AsyncClient, salon: Salon, database: Database
) -> None:
    async with database.sessions() as session:
        company = await session.get(type(salon.company), salon.company.id)
        company.status = "suspended"
        await session.commit()
    body = (
        await post_tool(
            client,
            "book_appointment",
            {"service": "Haircut", "date": _day(), "time": "10:00"},
            call_id="c-s",
            to_number=salon.number,
        )
    ).json()
    assert body["reason"] == "take_message"


async def test_out_of_credit_company_takes_messages_but_still_answers_availability(
    client: httpx.AsyncClient, salon: Salon, database: Database
) -> None:
    async def spend_all_credit(session: AsyncSession) -> None:
        await billing_service.adjust(session, salon.company.id, -100, reason="test", actor="test")

    await database.unit_of_work(spend_all_credit)
    args = {"service": "Haircut", "date": _day(), "time": "10:00"}
    booking = await post_tool(
        client, "book_appointment", args, call_id="c-o", to_number=salon.number
    )
    assert booking.json()["reason"] == "take_message"
    listing = await post_tool(
        client,
        "check_availability",
        {"service": "Haircut", "date": _day()},
        call_id="c-o",
        to_number=salon.number,
    )
    assert listing.json()["outcome"] == "available"


async def test_withheld_number_books_without_a_phone_keyed_customer(
    client: httpx.AsyncClient, salon: Salon, database: Database
) -> None:
    booked = (
        await post_tool(
            client,
            "book_appointment",
            {"service": "Haircut", "date": _day(), "time": "12:00", "customer_name": "Anon"},
            call_id="anon-call",
            to_number=salon.number,
            from_number="anonymous",
        )
    ).json()
    assert booked["outcome"] == "booked"
    found = (
        await post_tool(
            client,
            "find_appointments",
            {},
            call_id="anon-call-2",
            to_number=salon.number,
            from_number="anonymous",
        )
    ).json()
    assert found["outcome"] == "invalid_request"
    async with database.sessions() as session:
        customers = (await session.execute(select(Customer))).scalars().all()
        assert [(c.name, c.phone) for c in customers] == [("Anon", None)]


async def test_a_claim_whose_owner_died_is_taken_over(
    client: httpx.AsyncClient, salon: Salon, database: Database
) -> None:
    from sqlalchemy import text

    from askpro.integrations.retell import answers

    args = {"service": "Haircut", "date": _day(), "time": "13:00"}
    key = answers.answer_key("dead-owner", "book_appointment", {**args, "staff": None,
        "customer_name": None, "email": None, "notes": None})  # fmt: skip
    async with database.sessions() as session:
        await session.execute(
            text(
                "INSERT INTO tool_call_answers (key, call_id, tool, state, created_at) "
                "VALUES (:key, 'dead-owner', 'book_appointment', 'working', now() - interval '2 minutes')"
            ),
            {"key": key},
        )
        await session.commit()
    body = (
        await post_tool(
            client, "book_appointment", args, call_id="dead-owner", to_number=salon.number
        )
    ).json()
    assert body["outcome"] == "booked"


@pytest.mark.parametrize(
    ("name", "args", "field"),
    [
        ("check_availability", {"service": "Haircut", "date": "9999-12-31"}, "date"),
        ("check_availability", {"service": "Haircut", "date": "0001-01-01"}, "date"),
        ("book_appointment", {"service": "Haircut", "date": "9999-12-31", "time": "10:00"}, "date"),
        (
            "book_appointment",
            {
                "service": "Haircut",
                "date": "2026-12-01",
                "time": "10:00",
                "customer_name": "A\x00B",
            },
            "customer_name",
        ),
        ("cancel_appointment", {"appointment_id": 99999999999999999999}, "appointment_id"),
        (
            "reschedule_appointment",
            {"appointment_id": 1, "new_date": "1-01-01", "new_time": "10:00"},
            "new_date",
        ),
    ],
)
async def test_out_of_range_and_unstorable_args_are_invalid_requests_not_errors(
    client: httpx.AsyncClient, salon: Salon, name: str, args: dict[str, object], field: str
) -> None:
    response = await post_tool(client, name, args, call_id="c-range", to_number=salon.number)
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "invalid_request"
    assert field in body["missing"]
