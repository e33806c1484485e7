"""Cursor pagination: stable order, no gaps or repeats while rows are added, capped limit."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures import factories
from tests.fixtures.auth import create_token


def flat(pages: list[list[int]]) -> list[int]:
    return [item for page in pages for item in page]


async def _all_pages(api: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[list[int]]:
    pages: list[list[int]] = []
    cursor: str | None = None
    while True:
        separator = "&" if "?" in url else "?"
        query = f"{separator}cursor={cursor}" if cursor else ""
        response = await api.get(url + query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_pages_cover_every_row_once_in_order(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await factories.create_company(session)
    names = ["Eve", "Bob", "Dan", "Amy", "Cat", "Bob", "Fay"]
    staff = [await factories.create_staff(session, company, name=name) for name in names]
    token = await create_token(session, company)
    await session.commit()

    by_id = await _all_pages(api, "/api/v1/staff?limit=3", token.headers)
    assert [len(page) for page in by_id] == [3, 3, 1]
    assert flat(by_id) == [member.id for member in staff]

    by_name = await _all_pages(api, "/api/v1/staff?limit=2&sort=name", token.headers)
    expected = [m.id for m in sorted(staff, key=lambda m: (m.name, m.id))]
    assert flat(by_name) == expected


async def test_rows_added_while_paging_are_neither_skipped_nor_repeated(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await factories.create_company(session)
    first = [await factories.create_branch(session, company, name=f"b{i}") for i in range(4)]
    token = await create_token(session, company)
    await session.commit()
    page = (await api.get("/api/v1/branches?limit=2", headers=token.headers)).json()
    later = await factories.create_branch(session, company, name="later")
    await session.commit()
    rest = await _all_pages(
        api, f"/api/v1/branches?limit=2&cursor={page['next_cursor']}", token.headers
    )
    seen = [item["id"] for item in page["items"]] + flat(rest)
    assert seen == [branch.id for branch in first] + [later.id]


async def test_default_limit_is_50(api: httpx.AsyncClient, session: AsyncSession) -> None:
    company = await factories.create_company(session)
    for index in range(55):
        await factories.create_branch(session, company, name=f"b{index}")
    token = await create_token(session, company)
    await session.commit()
    body = (await api.get("/api/v1/branches", headers=token.headers)).json()
    assert len(body["items"]) == 50
    assert body["next_cursor"] is not None


async def test_appointments_filter_by_range_staff_and_status(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await factories.create_company(session)
    anna = await factories.create_staff(session, company, name="Anna")
    ben = await factories.create_staff(session, company, name="Ben")
    cut = await factories.create_service(session, company, duration_minutes=30)
    monday = dt.datetime(2030, 1, 7, 9, tzinfo=dt.UTC)
    made = {}
    for day in range(5):
        for member in (anna, ben):
            start = monday + dt.timedelta(days=day)
            status = "cancelled" if day == 2 else "booked"
            made[(day, member.name)] = await factories.create_appointment(
                session, company, member, cut, start, status=status
            )
    token = await create_token(session, company)
    await session.commit()

    url = (
        "/api/v1/appointments?limit=2&starts_from=2030-01-08T00:00:00Z"
        f"&starts_before=2030-01-11T00:00:00%2B00:00&staff_id={anna.id}&status=booked"
    )
    pages = await _all_pages(api, url, token.headers)
    assert flat(pages) == [made[(1, "Anna")].id, made[(3, "Anna")].id]

    everything = await _all_pages(api, "/api/v1/appointments?limit=3", token.headers)
    expected = [made[(d, n)].id for d in range(5) for n in ("Anna", "Ben")]
    # Same start time → id decides, so the order is total.
    assert sorted(flat(everything)) == sorted(expected)
    assert flat(everything)[::2] == [made[(d, "Anna")].id for d in range(5)]
