"""The demo company that ``askpro serve`` seeds so a newcomer has something to call."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing import service as billing_service
from askpro.models import Branch, Company, PhoneNumber, Service, Staff, StaffService
from askpro.tenancy import repository

DEMO_COMPANY_NAME = "Salon Demo"
DEMO_PHONE_NUMBER = "+4930555000100"
# Cal.com event type ids of the demo services, matching the built-in Cal.com stand-in.
DEMO_SERVICES = (
    ("Haircut", 30, 0, 10, 3500, 1001),
    ("Colouring", 90, 0, 15, 8900, 1002),
    ("Beard trim", 15, 0, 5, 1500, 1003),
)
# Each stylist is a Cal.com user with their own calendar: (name, user id, username, the
# first of their event types; the services follow in DEMO_SERVICES order).
DEMO_STAFF = (
    ("Anna", 11, "anna-salon-demo", 2001),
    ("Ben", 12, "ben-salon-demo", 2011),
)
# The stand-in's team of the salon (its members' schedules say who works when).
DEMO_CALCOM_TEAM_ID = 100
DEMO_CREDIT_CENTS = 5000

# Webhook signing secrets a demo server (`askpro serve` with --demo) accepts for a provider
# whose ASKPRO_ secret is unset, so `askpro simulate …` works without provider accounts.
# Public on purpose: a server with the real secrets configured never accepts them.
DEMO_RETELL_KEY = "askpro-demo-retell-key"
DEMO_CALCOM_WEBHOOK_SECRET = "askpro-demo-calcom-secret"  # noqa: S105 - public demo value
DEMO_STRIPE_WEBHOOK_SECRET = "whsec_askpro_demo_secret"  # noqa: S105 - public demo value
DEMO_WEBHOOK_SECRETS = {
    "retell_api_key": DEMO_RETELL_KEY,
    "calcom_webhook_secret": DEMO_CALCOM_WEBHOOK_SECRET,
    "stripe_webhook_secret": DEMO_STRIPE_WEBHOOK_SECRET,
}


@dataclass(frozen=True)
class DemoCompany:
    company_id: int
    created: bool


async def seed_demo_company(session: AsyncSession) -> DemoCompany:
    """Create the demo company once; later calls find it and change nothing."""
    existing = await repository.find_company_by_name(session, DEMO_COMPANY_NAME)
    if existing is not None:
        return DemoCompany(existing.id, created=False)
    company = await repository.add_company(
        session,
        Company(
            name=DEMO_COMPANY_NAME,
            country="DE",
            time_zone="Europe/Berlin",
            locale="de",
            price_per_minute_cents=12,
            calcom_team_id=DEMO_CALCOM_TEAM_ID,
        ),
    )
    # Starting credit goes through the ledger like any money, so balance == sum of entries.
    await billing_service.adjust(
        session,
        company.id,
        DEMO_CREDIT_CENTS,
        reason="demo starting credit",
        actor="demo seed",
        reference=f"demo-credit:{company.id}",
    )
    branch = Branch(company_id=company.id, name="Berlin Mitte", time_zone="Europe/Berlin")
    session.add(branch)
    await session.flush()
    session.add(PhoneNumber(number=DEMO_PHONE_NUMBER, company_id=company.id, branch_id=branch.id))
    staff = [
        Staff(
            company_id=company.id,
            branch_id=branch.id,
            name=name,
            calcom_user_id=user_id,
            calcom_username=username,
        )
        for name, user_id, username, _first in DEMO_STAFF
    ]
    services = [
        Service(
            company_id=company.id,
            name=name,
            duration_minutes=duration,
            buffer_before_minutes=before,
            buffer_after_minutes=after,
            price_cents=price,
            calcom_event_type_id=event_type_id,
        )
        for name, duration, before, after, price, event_type_id in DEMO_SERVICES
    ]
    session.add_all([*staff, *services])
    await session.flush()
    session.add_all(
        StaffService(
            staff_id=member.id,
            service_id=service.id,
            company_id=company.id,
            calcom_event_type_id=first + index,
        )
        for member, (_name, _user, _username, first) in zip(staff, DEMO_STAFF, strict=True)
        for index, service in enumerate(services)
    )
    await session.flush()
    return DemoCompany(company.id, created=True)
