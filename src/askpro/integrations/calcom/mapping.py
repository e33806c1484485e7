"""``askpro calcom map``: find each staff member's Cal.com event types and link them.

A staff member is a Cal.com user (``calcom_username``, set through the REST API); their own
event types (``GET /v2/event-types?username=…``) whose title or slug names a service they
perform become their calendar for it. With the company's Cal.com team set, the team's
round-robin event types (``GET /v2/teams/{id}/event-types``) whose title names a service
become the service's event type, and their hosts must be mapped staff (reported otherwise).
Cal.com is read outside any transaction; the links are written in one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from askpro.integrations.calcom.client import CalcomClient
from askpro.integrations.calcom.dtos import EventType


@dataclass(frozen=True)
class StaffEntry:
    staff_id: int
    name: str
    username: str | None
    user_id: int | None
    # service id → the member's current own event type for it (None: the service's)
    services: dict[int, int | None]


@dataclass(frozen=True)
class ServiceEntry:
    service_id: int
    name: str
    event_type_id: int | None


@dataclass(frozen=True)
class Link:
    """One change: a member's own event type for a service (``staff_id`` set) or a
    service's event type (a team round-robin type); ``previous`` is what it was."""

    service_id: int
    event_type_id: int
    previous: int | None
    staff_id: int | None = None
    user_id: int | None = None  # the member's Cal.com user id, learnt from the event type
    note: str = ""


def _words(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")


def _names_service(event_type: EventType, service: ServiceEntry) -> bool:
    wanted = _words(service.name)
    return _words(event_type.title) == wanted or _words(event_type.slug).startswith(wanted)


async def plan(
    client: CalcomClient,
    staff: list[StaffEntry],
    services: list[ServiceEntry],
    team_id: int | None,
    on_step: Callable[[str], None] | None = None,
) -> tuple[list[Link], list[str]]:
    """The links to write, and warnings (staff without a username, unmapped hosts…)."""
    links: list[Link] = []
    warnings: list[str] = []
    by_id = {service.service_id: service for service in services}
    for member in staff:
        if on_step is not None:
            on_step(f"event types of {member.name}")
        if not member.username:
            warnings.append(f"{member.name}: no calcom_username; set it with PATCH /staff/{{id}}")
            continue
        for event_type in await client.get_event_types(username=member.username):
            for service_id, current in member.services.items():
                if _names_service(event_type, by_id[service_id]) and current != event_type.id:
                    links.append(
                        Link(
                            service_id, event_type.id, current, member.staff_id, event_type.owner_id
                        )
                    )
    if team_id is not None:
        if on_step is not None:
            on_step(f"event types of team {team_id}")
        mapped = {member.user_id for member in staff if member.user_id is not None}
        mapped |= {link.user_id for link in links if link.user_id is not None}
        for event_type in await client.get_team_event_types(team_id):
            if event_type.scheduling_type != "roundRobin":
                continue
            for service in services:
                if not _names_service(event_type, service):
                    continue
                unmapped = [host.user_id for host in event_type.hosts if host.user_id not in mapped]
                if unmapped:
                    warnings.append(
                        f"team event type {event_type.id} ({event_type.title}): hosts "
                        f"{unmapped} are no staff member's calcom_user_id"
                    )
                if service.event_type_id != event_type.id:
                    links.append(
                        Link(service.service_id, event_type.id, service.event_type_id, note="team")
                    )
    return links, warnings
