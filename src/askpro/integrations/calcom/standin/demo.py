"""The demo salon's Cal.com account: its owner, its stylists and their event types (the
services of ``askpro.tenancy.demo``), individual and team round-robin."""

from __future__ import annotations

from askpro.integrations.calcom.standin.accounts import (
    OWNER_ID,
    WEEKDAYS,
    StandinEventType,
    StandinSchedule,
    StandinUser,
)

DEMO_TEAM_ID = 100

# The salon's stylists in Cal.com: (user id, name, first event type id). The demo company
# (askpro.tenancy.demo) maps Anna and Ben; the others are there for larger set-ups (bench).
STYLISTS = ((11, "Anna", 2001), (12, "Ben", 2011), (13, "Clara", 2021), (14, "David", 2031),
            (15, "Eva", 2041))  # fmt: skip


def demo_users() -> dict[int, StandinUser]:
    """The demo salon's account owner and its stylists; Ben does not work on Mondays."""
    users = {
        OWNER_ID: StandinUser(
            OWNER_ID, "Salon Demo", "salon-demo", "owner@salon-demo.example",
            StandinSchedule(OWNER_ID),
        )
    }  # fmt: skip
    for user_id, name, _first in STYLISTS:
        days = WEEKDAYS[1:6] if name == "Ben" else WEEKDAYS[:6]
        users[user_id] = StandinUser(
            user_id,
            name,
            f"{name.lower()}-salon-demo",
            f"{name.lower()}@salon-demo.example",
            StandinSchedule(user_id, availability=[(days, "09:00", "18:00")]),
        )
    return users


DEMO_SERVICES = (
    ("Haircut", "haircut", 30, 10),
    ("Colouring", "colouring", 90, 15),
    ("Beard trim", "beard-trim", 15, 5),
)


def demo_event_types() -> dict[int, StandinEventType]:
    """The demo salon's services (askpro.tenancy.demo) as Cal.com event types: the owner's
    (1001-1003), each stylist's (Anna 2001-2003, Ben 2011-2013, Clara 2021-2023, …) and team
    round-robin (3001-3003, hosts Anna and Ben)."""
    owners = [(1000, OWNER_ID, "")] + [
        (first - 1, user_id, f"-{name.lower()}") for user_id, name, first in STYLISTS
    ]
    types: dict[int, StandinEventType] = {}
    for index, (title, slug, length, after) in enumerate(DEMO_SERVICES, start=1):
        for base, owner, suffix in owners:
            types[base + index] = StandinEventType(
                base + index,
                title,
                slug + suffix,
                length,
                after_buffer_minutes=after,
                owner_id=owner,
            )
        types[3000 + index] = StandinEventType(
            3000 + index,
            title,
            slug + "-team",
            length,
            after_buffer_minutes=after,
            owner_id=None,
            team_id=DEMO_TEAM_ID,
            host_ids=(11, 12),
        )
    return types  # fmt: skip
