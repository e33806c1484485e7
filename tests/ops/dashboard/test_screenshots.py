"""Screenshots of the main pages in headless Chromium (the images of docs/dashboard.md).

Each page must render with its content; with ASKPRO_WRITE_SCREENSHOTS=1 the PNGs are
written to docs/img/ (how the committed ones were made).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.kit.time import utc_now
from askpro.models import Call
from tests.fixtures.auth import create_token
from tests.fixtures.factories import (
    create_appointment,
    create_branch,
    create_company,
    create_customer,
    create_service,
    create_staff,
)
from tests.fixtures.webhooks import create_webhook_event, stripe_event
from tests.ops.dashboard.conftest import Tab

DOCS_IMAGES = Path(__file__).resolve().parents[3] / "docs" / "img"


async def _salon(session: AsyncSession) -> str:
    company = await create_company(session, name="Salon Lindenhof", locale="en")
    branch = await create_branch(session, company, name="Mitte")
    staff = [
        await create_staff(session, company, name=name, branch=branch)
        for name in ("Anna", "Jonas", "Mia")
    ]
    cut = await create_service(session, company, name="Haircut", duration_minutes=30, staff=staff)
    now = utc_now().replace(minute=0, second=0, microsecond=0)
    customers = [
        await create_customer(session, company, phone=f"+49301234567{n}", name=name)
        for n, name in enumerate(("Clara Weber", "Ben Fischer", "Ida Becker", "Hans Meyer"))
    ]
    for index in range(6):
        call = Call(
            call_id=f"call_shot_{index}",
            company_id=company.id,
            customer_id=customers[index % 4].id,
            from_number=customers[index % 4].phone,
            status="ended",
            started_at=now - dt.timedelta(minutes=20 * index),
            duration_ms=60_000 + 15_000 * index,
            summary="Caller booked a haircut.",
            transcript="Agent: Salon Lindenhof, hello!\nUser: I'd like a haircut tomorrow.",
        )
        session.add(call)
        await session.flush()
        if index % 2 == 0:
            await create_appointment(
                session, company, staff[index % 3], cut, now + dt.timedelta(days=1, hours=index),
                source="phone", call_id=call.id, customer_id=customers[index % 4].id,
            )  # fmt: skip
    statuses = ("processed",) * 7 + ("failed", "ignored", "dead")
    for hour in range(48):  # a day and a half of traffic for the chart
        for number in range(hour % 5 + 1):
            await create_webhook_event(
                session, company, status=statuses[(hour + number) % len(statuses)],
                received_at=now - dt.timedelta(hours=hour, minutes=number),
            )  # fmt: skip
    for day in range(1, 30):  # a month of calls for the other chart
        for number in range(day % 4 + 1):
            session.add(Call(
                call_id=f"call_shot_{day}_{number}", company_id=company.id, status="ended",
                started_at=now - dt.timedelta(days=day, minutes=number), duration_ms=90_000,
            ))  # fmt: skip
    await create_webhook_event(
        session, company, status="dead", event_type="customer.updated",
        body=json.dumps({"id": "evt_x", "note": "<script>alert(1)</script>"}).encode(),
    )  # fmt: skip
    await create_webhook_event(
        session, company, status="failed",
        body=stripe_event(event_id="evt_failed_shot", event_type="invoice.paid"),
    )  # fmt: skip
    issued = await create_token(session, company, name="front desk")
    await session.commit()
    return issued.plaintext


async def test_screenshots_of_the_main_pages(
    tab: Tab, session: AsyncSession, tmp_path: Path
) -> None:
    token = await _salon(session)
    page = tab.page
    await page.set_viewport_size({"width": 1280, "height": 860})
    shots: dict[str, str] = {}
    await page.goto(f"{tab.base_url}/dashboard/login")
    await page.screenshot(path=tmp_path / "dashboard-login.png")
    shots["dashboard-login.png"] = "Log in"
    await tab.login(token)
    await page.locator("#calcom").wait_for()
    pages = {
        "dashboard-today.png": ("/dashboard", "#calls-answered"),
        "dashboard-webhooks.png": ("/dashboard/webhooks?status=dead", "#bulk-replay"),
        "dashboard-webhook-event.png": (None, "#payload"),
        "dashboard-calls.png": ("/dashboard/calls", "tbody tr"),
        "dashboard-appointments-week.png": (
            f"/dashboard/appointments?view=week&date={(utc_now() + dt.timedelta(days=1)).date()}",
            "a.slot",
        ),
        "dashboard-charts.png": ("/dashboard/charts", "section.chart svg rect.series-0"),
    }
    for name, (path, selector) in pages.items():
        if path is None:  # the hostile event's detail, reached from the dead list
            await page.goto(f"{tab.base_url}/dashboard/webhooks?event_type=customer.updated")
            await page.locator("#results tbody a").first.click()
        else:
            await page.goto(f"{tab.base_url}{path}")
        await page.locator(selector).first.wait_for()
        await page.screenshot(path=tmp_path / name, full_page=True)
        shots[name] = selector
    for name in shots:
        image = (tmp_path / name).read_bytes()
        assert image.startswith(b"\x89PNG"), name
        assert len(image) > 10_000, name  # a rendered page, not a blank one
    if os.environ.get("ASKPRO_WRITE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        for name in shots:
            shutil.copyfile(tmp_path / name, DOCS_IMAGES / name)
