"""The business pages: today, calls, appointments (day/week per staff), customers, charts.

Each page needs the scope its data needs; a company's rows are read with the session's
company only, so another company's id in the URL is a plain 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from askpro.auth.scopes import Scope
from askpro.billing import service as billing
from askpro.customers.service import phone_or_none
from askpro.integrations.calcom.health import check_account
from askpro.integrations.calcom.service import calcom_client_for
from askpro.kit.pagination import MAX_CURSOR_LENGTH, PageRequest
from askpro.kit.time import utc_now, zone
from askpro.ops.dashboard import charts, repository, sessions
from askpro.ops.dashboard.i18n import NONE, language, translator
from askpro.ops.dashboard.rendering import PREFIX, CurrentViewer, Session, page
from askpro.ops.dashboard.sessions import DashboardError, Viewer
from askpro.outbound import service as outbound

router = APIRouter()
PAGE_SIZE = 50
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Cursor = Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)]


def _day_bounds(day: dt.date, time_zone: str, days: int = 1) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` of ``days`` local days from ``day``, in UTC-aware datetimes."""
    tz = zone(time_zone)
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=days), dt.time(), tzinfo=tz)
    return start, end


def _today(viewer: Viewer) -> dt.date:
    return utc_now().astimezone(zone(viewer.time_zone)).date()


def _parse_day(raw: str | None, viewer: Viewer) -> dt.date:
    if not raw:
        return _today(viewer)
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise DashboardError(422, "Invalid filter", "date: YYYY-MM-DD") from None


@router.get("")
async def today(request: Request, session: Session, viewer: CurrentViewer) -> HTMLResponse:
    company_id = viewer.tenant()
    day = _today(viewer)
    start, end = _day_bounds(day, viewer.time_zone)
    figures: dict[str, Any] = {"day": day}
    if viewer.can(Scope.CALLS_READ):
        calls = await repository.call_figures(session, company_id, start, end)
        figures["calls"] = calls
        figures["minutes"] = round(calls.duration_ms / 60000, 1)
        figures["messages"] = await repository.messages_taken(session, company_id, start, end)
    if viewer.can(Scope.APPOINTMENTS_READ):
        figures["booked"] = await repository.phone_bookings(session, company_id, start, end)
        figures["pending_syncs"] = await repository.pending_syncs(session, company_id)
    if "calls" in figures and "booked" in figures:
        answered = figures["calls"].answered
        figures["conversion"] = (
            round(100 * figures["calls"].with_booking / answered) if answered else None
        )
    if viewer.can(Scope.BILLING_READ):
        figures["balance"] = await billing.get_balance(session, company_id)
    if viewer.can(Scope.WEBHOOKS_READ):
        figures["webhooks"] = await repository.failing_webhooks(session, company_id)
    if viewer.can(Scope.WEBHOOK_ENDPOINTS_READ):
        figures["stalled"] = await outbound.endpoints_not_delivering(session, company_id)
    return page(request, "today.html", viewer, figures=figures)


@router.get("/partials/calcom")
async def calcom_health(request: Request, session: Session, viewer: CurrentViewer) -> HTMLResponse:
    """Loaded by htmx after the page: asking Cal.com must not delay today's numbers."""
    company_id = viewer.tenant()
    viewer.require(Scope.APPOINTMENTS_READ)
    company = await repository.company(session, company_id)
    try:
        client = calcom_client_for(company, request.app.state.runtime.settings) if company else None
    except ValueError:  # a stored key that no longer decrypts (ASKPRO_SECRET_KEY changed)
        return page(request, "calcom_health.html", viewer, report=None, undecryptable=True)
    report = await check_account(client) if client is not None else None
    return page(request, "calcom_health.html", viewer, report=report, undecryptable=False)


@router.get("/calls")
async def list_calls(
    request: Request,
    session: Session,
    viewer: CurrentViewer,
    date: Annotated[str | None, Query(max_length=10)] = None,
    cursor: Cursor = None,
) -> HTMLResponse:
    viewer.require(Scope.CALLS_READ)
    start = end = None
    if date:
        start, end = _day_bounds(_parse_day(date, viewer), viewer.time_zone)
    rows, next_cursor = await repository.page_calls(
        session, viewer.tenant(), PageRequest(PAGE_SIZE, cursor), start=start, end=end
    )
    return page(request, "calls.html", viewer, calls=rows, date=date or "", next_cursor=next_cursor)


@router.get("/calls/{call_row_id}")
async def show_call(
    request: Request, session: Session, viewer: CurrentViewer, call_row_id: RowId
) -> HTMLResponse:
    viewer.require(Scope.CALLS_READ)
    company_id = viewer.tenant()
    call = await repository.call(session, company_id, call_row_id)
    if call is None:
        raise sessions.not_found()
    appointments = []
    if viewer.can(Scope.APPOINTMENTS_READ):
        changed = await repository.appointments_changed_in_call(session, company_id, call)
        appointments = await repository.appointments_of(
            session, company_id, call_id=call.id, also_ids=changed
        )
    charged = await repository.call_charge(session, call.call_id)
    return page(request, "call.html", viewer, call=call, appointments=appointments, charged=charged)


@router.get("/appointments")
async def calendar(
    request: Request,
    session: Session,
    viewer: CurrentViewer,
    date: Annotated[str | None, Query(max_length=10)] = None,
    view: Annotated[str, Query(pattern="^(day|week)$")] = "day",
    branch_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> HTMLResponse:
    """A column per staff member: one row per hour (day) or per day (week)."""
    viewer.require(Scope.APPOINTMENTS_READ)
    company_id = viewer.tenant()
    day = _parse_day(date, viewer)
    if view == "week":
        day -= dt.timedelta(days=day.weekday())
    days = 7 if view == "week" else 1
    start, end = _day_bounds(day, viewer.time_zone, days)
    branches = await repository.branches(session, company_id)
    if branch_id is not None and branch_id not in {branch.id for branch in branches}:
        raise sessions.not_found()
    if branch_id is None and branches:
        branch_id = branches[0].id
    staff = await repository.staff_of_branch(session, company_id, branch_id)
    rows = await repository.appointments_between(
        session, company_id, [member.id for member in staff], start, end
    )
    cells = _calendar_cells(rows, view, zone(viewer.time_zone), translator(language(viewer.locale)))
    if view == "week":
        lines = [(day + dt.timedelta(days=offset)).isoformat() for offset in range(7)]
    else:
        hours = {int(key[:2]) for key, _ in cells} | set(range(8, 19))
        lines = [f"{hour:02d}:00" for hour in sorted(hours)]
    step = dt.timedelta(days=days)
    return page(
        request,
        "appointments.html",
        viewer,
        day=day,
        view=view,
        branches=branches,
        branch_id=branch_id,
        staff=staff,
        lines=lines,
        cells=cells,
        previous=(day - step).isoformat(),
        following=(day + step).isoformat(),
    )


def _calendar_cells(
    rows: list[Any], view: str, tz: dt.tzinfo, t: Callable[[str], str]
) -> dict[tuple[str, int], Markup]:
    """(line, staff id) → the links of its appointments, built in one pass: a template
    loop escaping every field of ~500 appointments a week costs tens of milliseconds."""
    links: dict[tuple[str, int], list[str]] = {}
    sync = escape(t("Sync"))
    for row in rows:
        local = row["starts_at"].astimezone(tz)
        key = local.date().isoformat() if view == "week" else f"{local.hour:02d}:00"
        who = row["customer_name"] or row["customer_phone"] or NONE
        status, state = escape(row["status"]), escape(row["calcom_sync_state"])
        links.setdefault((key, row["staff_id"]), []).append(
            f'<a class="slot status-{status}" href="{PREFIX}/appointments/{int(row["id"])}" '
            f'title="{sync}: {state}">{local:%H:%M} {escape(row["service_name"])} · '
            f"{escape(who)} · {status} · {state}</a>"
        )
    # Every text above is escaped; the rest are our own markup and numbers.
    return {key: Markup("".join(parts)) for key, parts in links.items()}  # noqa: S704


@router.get("/appointments/{appointment_id}")
async def show_appointment(
    request: Request, session: Session, viewer: CurrentViewer, appointment_id: RowId
) -> HTMLResponse:
    viewer.require(Scope.APPOINTMENTS_READ)
    company_id = viewer.tenant()
    appointment = await repository.appointment(session, company_id, appointment_id)
    if appointment is None:
        raise sessions.not_found()
    history = await repository.appointment_history(session, company_id, appointment_id)
    return page(request, "appointment.html", viewer, appointment=appointment, history=history)


@router.get("/customers")
async def list_customers(
    request: Request,
    session: Session,
    viewer: CurrentViewer,
    q: Annotated[str, Query(max_length=100)] = "",
    cursor: Cursor = None,
) -> HTMLResponse:
    viewer.require(Scope.CUSTOMERS_READ)
    company_id = viewer.tenant()
    query = q.strip()
    company = await repository.company(session, company_id)
    phone = (
        phone_or_none(query, company.country if company else "DE")
        if any(ch.isdigit() for ch in query)
        else None
    )
    rows, next_cursor = await repository.page_customers(
        session, company_id, PageRequest(PAGE_SIZE, cursor), phone=phone, name=query or None
    )
    return page(request, "customers.html", viewer, customers=rows, q=query, next_cursor=next_cursor)


@router.get("/customers/{customer_id}")
async def show_customer(
    request: Request, session: Session, viewer: CurrentViewer, customer_id: RowId
) -> HTMLResponse:
    viewer.require(Scope.CUSTOMERS_READ)
    company_id = viewer.tenant()
    customer = await repository.customer(session, company_id, customer_id)
    if customer is None:
        raise sessions.not_found()
    calls: list[Any] = []
    if viewer.can(Scope.CALLS_READ):
        calls, _ = await repository.page_calls(
            session, company_id, PageRequest(PAGE_SIZE, None), customer_id=customer.id
        )
    appointments = (
        await repository.appointments_of(session, company_id, customer_id=customer.id)
        if viewer.can(Scope.APPOINTMENTS_READ)
        else []
    )
    return page(
        request, "customer.html", viewer, customer=customer, calls=calls, appointments=appointments
    )


@router.get("/charts")
async def show_charts(request: Request, session: Session, viewer: CurrentViewer) -> HTMLResponse:
    now = utc_now()
    tz = zone(viewer.time_zone)
    shown: list[charts.BarChart] = []
    if viewer.can(Scope.WEBHOOKS_READ):
        first_hour = (now - dt.timedelta(hours=47)).replace(minute=0, second=0, microsecond=0)
        per_hour = {
            hour: (events, failing)
            for hour, events, failing in await repository.webhooks_per_hour(
                session, viewer.company_id, first_hour
            )
        }
        hours = [first_hour + dt.timedelta(hours=offset) for offset in range(48)]
        shown.append(
            charts.bar_chart(
                "Webhook volume and failures per hour (48 h)",
                [hour.astimezone(tz).strftime("%d. %H:00") for hour in hours],
                ["events", "failed or dead"],
                [
                    [per_hour.get(hour, (0, 0))[0] for hour in hours],
                    [per_hour.get(hour, (0, 0))[1] for hour in hours],
                ],
            )
        )
    if viewer.company_id is not None and viewer.can(Scope.CALLS_READ):
        today = _today(viewer)
        days = [today - dt.timedelta(days=offset) for offset in range(29, -1, -1)]
        since, _ = _day_bounds(days[0], viewer.time_zone)
        calls = await repository.calls_per_day(session, viewer.company_id, since, viewer.time_zone)
        bookings = (
            await repository.bookings_per_day(session, viewer.company_id, since, viewer.time_zone)
            if viewer.can(Scope.APPOINTMENTS_READ)
            else {}
        )
        shown.append(
            charts.bar_chart(
                "Calls and bookings per day (30 days)",
                [day.strftime("%d.%m.") for day in days],
                ["Calls", "bookings"],
                [[calls.get(day, 0) for day in days], [bookings.get(day, 0) for day in days]],
            )
        )
    return page(
        request, "charts.html", viewer, charts=shown, ack_p95_ms=charts.webhook_ack_p95_ms()
    )
