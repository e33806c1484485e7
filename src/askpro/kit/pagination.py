"""Cursor (keyset) pagination with a stable order.

A cursor is the sort key of the last item of a page, base64url-encoded JSON; the next page
is ``WHERE (key...) > (cursor...)`` in the same order, so pages never skip or repeat rows
while rows are added. Every sort ends on the primary key, which makes the order total.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import psycopg
from fastapi import Query
from psycopg.rows import tuple_row
from pydantic import BaseModel, Field
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    bindparam,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from askpro.kit.problems import Problem

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_LENGTH = 512

ItemT = TypeVar("ItemT")
RowT = TypeVar("RowT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` to get the next one."""

    items: list[ItemT]
    next_cursor: str | None = Field(
        default=None, description="Opaque; absent on the last page.", examples=[None]
    )


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None


async def page_request(
    limit: Annotated[
        int,
        Query(ge=1, le=MAX_LIMIT, description=f"Page size (max {MAX_LIMIT})."),
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_LENGTH,
            description="The `next_cursor` of the previous page.",
        ),
    ] = None,
) -> PageRequest:
    """FastAPI dependency: ``limit`` (1..200, default 50) and ``cursor`` query parameters.

    ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in its
    thread pool, a hop that costs more than the whole function on every list request.
    """
    return PageRequest(limit=limit, cursor=cursor)


def invalid_cursor(reason: str) -> Problem:
    return Problem(
        400,
        "invalid-cursor",
        "Invalid cursor",
        f"cursor: {reason}",
        errors=[{"field": "query.cursor", "location": "query", "message": reason}],
    )


@dataclass(frozen=True)
class SortKey:
    """One column of the sort; all keys of one sort share a direction."""

    column: InstrumentedAttribute[Any]

    @property
    def python_type(self) -> type:
        python_type: type = self.column.type.python_type
        return python_type

    def value_of(self, row: object) -> Any:
        if isinstance(row, Mapping):
            return row[self.column.key]
        return getattr(row, self.column.key)


def _encode_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _decode_value(raw: object, python_type: type) -> object:
    if python_type is dt.datetime:
        if not isinstance(raw, str):
            raise ValueError("bad timestamp")
        moment = dt.datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            raise ValueError("naive timestamp")
        return moment
    if python_type is int:
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise ValueError("bad integer")
        return raw
    if python_type is str:
        if not isinstance(raw, str):
            raise ValueError("bad string")
        return raw
    raise ValueError(f"unsupported key type {python_type.__name__}")


def encode_cursor(values: Sequence[object]) -> str:
    payload = json.dumps([_encode_value(value) for value in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, keys: Sequence[SortKey]) -> list[object]:
    """The key values in ``cursor``, or a 400 problem naming the ``cursor`` field."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError("wrong shape")
        return [_decode_value(value, key.python_type) for value, key in zip(raw, keys, strict=True)]
    except (ValueError, UnicodeError, binascii.Error, TypeError):
        raise invalid_cursor("not a cursor this list returned") from None


def _windowed(
    statement: Select[Any],
    keys: Sequence[SortKey],
    after: Sequence[object] | None,
    limit: int | BindParameter[int],
    descending: bool,
) -> Select[Any]:
    """``statement`` after the key values ``after``, in key order, at most ``limit`` rows.

    ``after`` and ``limit`` are values or bound parameters (:class:`KeysetQuery`).
    """
    columns = [key.column for key in keys]
    if after is not None:
        boundary = tuple_(*columns)
        statement = statement.where(
            boundary < tuple_(*after) if descending else boundary > tuple_(*after)
        )
    ordering = [column.desc() if descending else column.asc() for column in columns]
    return statement.order_by(*ordering).limit(limit)


def _window(
    statement: Select[Any], keys: Sequence[SortKey], page: PageRequest, descending: bool
) -> Select[Any]:
    """``statement`` after the cursor, in key order, one row more than the page."""
    after = decode_cursor(page.cursor, keys) if page.cursor is not None else None
    return _windowed(statement, keys, after, page.limit + 1, descending)


def _page(
    rows: list[RowT], keys: Sequence[SortKey], page: PageRequest
) -> tuple[list[RowT], str | None]:
    return _cut(rows, page, lambda last: [key.value_of(last) for key in keys])


def _cut(
    rows: list[RowT], page: PageRequest, key_values: Callable[[RowT], Sequence[object]]
) -> tuple[list[RowT], str | None]:
    """The page's rows and the cursor after its last one (``None``: no rows beyond it)."""
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_cursor(key_values(rows[-1]))


async def paginate(
    session: AsyncSession,
    statement: Select[RowT],
    keys: Sequence[SortKey],
    page: PageRequest,
    *,
    descending: bool = False,
) -> tuple[list[RowT], str | None]:
    """Run ``statement`` ordered by ``keys`` from ``page.cursor``; return rows and next cursor.

    The last key must be unique (the primary key) so the order is total.
    """
    windowed = _window(statement, keys, page, descending)
    rows: list[RowT] = list((await session.scalars(windowed)).all())
    return _page(rows, keys, page)


async def paginate_mappings(
    session: AsyncSession,
    statement: Select[Any],
    keys: Sequence[SortKey],
    page: PageRequest,
    *,
    descending: bool = False,
) -> tuple[list[Mapping[str, Any]], str | None]:
    """Like :func:`paginate` for a Core select of columns: rows as plain dicts, no ORM
    objects (cheaper on hot read paths, and ready to serialise as they are)."""
    # On the session's connection, not through Session.execute: a select of columns needs
    # none of the ORM's execution machinery (a tenth of a list request's CPU).
    connection = await session.connection()
    result = await connection.execute(_window(statement, keys, page, descending))
    rows: list[Mapping[str, Any]] = [row._asdict() for row in result]
    return _page(rows, keys, page)


LIMIT_PARAMETER = "page_limit"
# The SQL of askpro's one database driver; nothing in these selects depends on the server.
_DIALECT = postgresql_psycopg.dialect()  # type: ignore[no-untyped-call]


class KeysetQuery:
    """A keyset-paginated select of columns, compiled to SQL once per filter shape and run
    on the driver's connection: per request no statement is built or compiled, and no
    SQLAlchemy result processing runs (for the hottest lists; the same query as
    :func:`paginate_mappings` would run, built from the same :func:`_windowed`).

    ``filters`` maps a name to a criterion on a bound parameter of that name; a request
    passes the values of the filters it uses, in any combination. Criteria keep the order
    of ``filters`` (put the tenant first). Rows come back as tuples in ``columns`` order.
    """

    def __init__(
        self,
        columns: Sequence[InstrumentedAttribute[Any] | ColumnElement[Any]],
        keys: Sequence[SortKey],
        filters: Mapping[str, ColumnElement[bool]],
        *,
        descending: bool = False,
    ) -> None:
        self.columns = list(columns)
        self.names: tuple[str, ...] = tuple(str(column.key) for column in self.columns)
        self.keys = list(keys)
        self.filters = dict(filters)
        self.descending = descending
        # Where each sort key sits in a row: the next cursor is read from the last row.
        self._positions = [self.names.index(key.column.key) for key in self.keys]
        self._after = [
            bindparam(f"after_{index}", type_=key.column.type) for index, key in enumerate(keys)
        ]
        self._sql: dict[tuple[frozenset[str], bool], str] = {}

    def statement(self, used: Iterable[str], *, after: bool) -> Select[Any]:
        """The select for the filters ``used`` (and a cursor when ``after``), unbound."""
        chosen = set(used)
        unknown = chosen - self.filters.keys()
        if unknown:
            raise ValueError(f"unknown filters: {sorted(unknown)}")
        criteria = [criterion for name, criterion in self.filters.items() if name in chosen]
        statement = select(*self.columns).where(*criteria)
        boundary = self._after if after else None
        return _windowed(
            statement,
            self.keys,
            boundary,
            bindparam(LIMIT_PARAMETER, type_=Integer),
            self.descending,
        )

    def sql(self, used: frozenset[str], *, after: bool) -> str:
        """The statement's SQL text in psycopg's parameter style, compiled once per shape."""
        shape = (used, after)
        text = self._sql.get(shape)
        if text is None:
            text = str(self.statement(used, after=after).compile(dialect=_DIALECT))
            self._sql[shape] = text
        return text

    async def fetch(
        self,
        connection: psycopg.AsyncConnection[Any],
        page: PageRequest,
        values: Mapping[str, object],
    ) -> tuple[list[tuple[Any, ...]], str | None]:
        """One page: rows (tuples) and the next cursor; ``values`` by filter name."""
        parameters = dict(values)
        after = page.cursor is not None
        if page.cursor is not None:
            decoded = decode_cursor(page.cursor, self.keys)
            parameters.update(
                (parameter.key, value)
                for parameter, value in zip(self._after, decoded, strict=True)
            )
        parameters[LIMIT_PARAMETER] = page.limit + 1
        text = self.sql(frozenset(values), after=after)
        async with connection.cursor(row_factory=tuple_row) as cursor:
            await cursor.execute(text, parameters)
            rows = await cursor.fetchall()
        positions = self._positions
        return _cut(rows, page, lambda last: [last[index] for index in positions])
