"""What Cal.com really sends and accepts: hosts with ``name: null`` or ``id: "unknown"``,
attendee languages from its enum only; against the stand-in and the OpenAPI request schema."""

from __future__ import annotations

import pytest

from askpro.integrations.calcom.client import CalcomClient
from askpro.integrations.calcom.dtos import CreateBookingAttendee, attendee_language
from askpro.integrations.calcom.standin import StandinEventType, StandinSchedule, StandinUser
from askpro.integrations.calcom.standin.server import RunningStandin
from askpro.integrations.calcom.sync.snapshot import from_api
from tests.integrations.calcom import openapi
from tests.integrations.calcom.helpers import booking_request, next_weekday_at

NAMELESS_USER = 99
NAMELESS_TYPE = 4001


@pytest.fixture
def nameless_host(calcom_standin: RunningStandin) -> int:
    """A Cal.com user without a name, owning one event type."""
    state = calcom_standin.state
    state.users[NAMELESS_USER] = StandinUser(
        NAMELESS_USER, None, "no-name", "no-name@example.com", StandinSchedule(NAMELESS_USER)
    )
    state.event_types[NAMELESS_TYPE] = StandinEventType(
        NAMELESS_TYPE, "Haircut", "haircut-no-name", 30, owner_id=NAMELESS_USER
    )
    return NAMELESS_TYPE


def _creates(standin: RunningStandin) -> int:
    return sum(1 for r in standin.state.requests if r.method == "POST" and r.path == "/v2/bookings")


async def test_a_host_named_null_is_a_valid_booking_and_is_not_booked_again(
    calcom_client: CalcomClient, calcom_standin: RunningStandin, nameless_host: int
) -> None:
    booking = await calcom_client.create_booking(
        booking_request(next_weekday_at(10), nameless_host)
    )
    assert booking.hosts[0].name is None
    assert booking.hosts[0].id == NAMELESS_USER
    assert _creates(calcom_standin) == 1  # no retry, no look-up: the answer was valid
    assert len(calcom_standin.state.bookings) == 1


async def test_a_deleted_host_reads_unknown_everywhere_and_still_parses(
    calcom_client: CalcomClient, calcom_standin: RunningStandin, nameless_host: int
) -> None:
    created = await calcom_client.create_booking(
        booking_request(next_weekday_at(11), nameless_host)
    )
    del calcom_standin.state.users[NAMELESS_USER]  # the user left Cal.com
    raw = calcom_standin.state.wire_booking(calcom_standin.state.bookings[created.uid])
    assert raw["hosts"][0] == dict.fromkeys(
        ("id", "name", "email", "username", "timeZone"), "unknown"
    )
    fetched = await calcom_client.get_booking(created.uid)
    assert (fetched.hosts[0].id, fetched.hosts[0].name, fetched.hosts[0].email) == (
        None,
        None,
        None,
    )
    listed = await calcom_client.list_bookings(booking_uid=created.uid)
    assert [b.uid for b in listed.bookings] == [created.uid]
    assert from_api(listed.bookings[0]).organizer_id is None  # maps to no staff member


@pytest.mark.parametrize(
    ("locale", "sent"),
    [
        ("de-DE", "de"),
        ("de", "de"),
        ("pt_BR", "pt-BR"),
        ("en-GB", "en"),
        ("xx-YY", None),
        (None, None),
    ],
)
async def test_attendee_language_is_one_cal_com_accepts_or_omitted(
    calcom_client: CalcomClient,
    calcom_standin: RunningStandin,
    locale: str | None,
    sent: str | None,
) -> None:
    assert attendee_language(locale) == sent
    request = booking_request(next_weekday_at(12)).model_copy(
        update={
            "attendee": CreateBookingAttendee(
                name="Lisa", time_zone="Europe/Berlin", email="l@example.com", language=locale
            )
        }
    )
    body = request.to_wire()
    schema = {"$ref": "#/components/schemas/CreateBookingInput_2024_08_13"}
    assert openapi.errors(schema, body) == []
    assert body["attendee"].get("language") == sent
    booking = await calcom_client.create_booking(request)
    assert booking.attendees[0].language == (sent or "en")


async def test_the_standin_refuses_a_language_outside_the_enum(
    calcom_standin: RunningStandin, calcom_client: CalcomClient
) -> None:
    """The raw locale would be refused, as Cal.com refuses it (so the mapping matters)."""
    import httpx

    body = booking_request(next_weekday_at(13)).to_wire()
    body["attendee"]["language"] = "de-DE"
    schema = {"$ref": "#/components/schemas/CreateBookingInput_2024_08_13"}
    assert openapi.errors(schema, body) != []
    async with httpx.AsyncClient(base_url=calcom_standin.base_url) as http:
        answer = await http.post(
            "/v2/bookings",
            json=body,
            headers={
                "Authorization": f"Bearer {calcom_standin.api_key}",
                "cal-api-version": "2024-08-13",
            },
        )
    assert answer.status_code == 400
