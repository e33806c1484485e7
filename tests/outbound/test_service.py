"""The endpoints that are not delivering: which are listed, why, since when, what waits."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.outbound import service
from askpro.outbound.schemas import StalledEndpoint, StallReason
from tests.fixtures.factories import create_company
from tests.fixtures.outbound import create_delivery, create_endpoint

AT = dt.datetime(2031, 3, 4, 9, 30, tzinfo=dt.UTC)


async def test_lists_switched_off_and_failing_endpoints_with_their_pending_deliveries(
    session: AsyncSession,
) -> None:
    company = await create_company(session)
    other = await create_company(session)
    retrying, _ = await create_endpoint(
        session, company, url="https://retry.example.com/h", failing_since=AT
    )
    gone, _ = await create_endpoint(
        session, company, url="https://gone.example.com/h", enabled=False,
        disabled_reason="gone", disabled_at=AT + dt.timedelta(hours=1), failing_since=AT,
    )  # fmt: skip
    failing, _ = await create_endpoint(
        session, company, url="https://failing.example.com/h", enabled=False,
        disabled_reason="failing", disabled_at=AT + dt.timedelta(days=3), failing_since=AT,
    )  # fmt: skip
    healthy, _ = await create_endpoint(session, company, url="https://fine.example.com/h")
    await create_endpoint(
        session, company, url="https://paused.example.com/h", enabled=False,
        disabled_reason="by_company", disabled_at=AT, failing_since=AT,
    )  # fmt: skip
    foreign, _ = await create_endpoint(
        session, other, url="https://foreign.example.com/h", enabled=False,
        disabled_reason="gone", disabled_at=AT,
    )  # fmt: skip
    for endpoint, statuses in (
        (gone, ["pending", "pending", "failed", "delivered"]),
        (retrying, ["pending"]),
        (healthy, ["pending"]),
        (foreign, ["pending", "pending", "pending"]),
    ):
        for status in statuses:
            await create_delivery(session, endpoint, status=status)

    listed = await service.endpoints_not_delivering(session, company.id)

    assert [(row.endpoint_id, row.url, row.reason, row.since, row.waiting) for row in listed] == [
        (gone.id, "https://gone.example.com/h", StallReason.GONE, AT + dt.timedelta(hours=1), 2),
        (failing.id, "https://failing.example.com/h", StallReason.FAILING, AT + dt.timedelta(days=3), 0),
        (retrying.id, "https://retry.example.com/h", StallReason.RETRYING, AT, 1),
    ]  # fmt: skip
    assert all(isinstance(row, StalledEndpoint) for row in listed)
    theirs = await service.endpoints_not_delivering(session, other.id)
    assert [(row.endpoint_id, row.waiting) for row in theirs] == [(foreign.id, 3)]
    assert await service.endpoints_not_delivering(session, other.id + 1000) == []
