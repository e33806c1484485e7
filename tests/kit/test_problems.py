"""Unexpected errors: a database that cannot be reached is a 503, anything else a 500."""

from __future__ import annotations

import json

import psycopg
import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError
from starlette.requests import Request

from askpro.kit.problems import handle_unexpected_error

REQUEST = Request({"type": "http", "method": "POST", "path": "/retell/functions/x", "headers": []})


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused")),
        psycopg.OperationalError("the database system is shutting down"),
    ],
)
async def test_an_unreachable_database_is_a_503_with_retry_after(error: Exception) -> None:
    response = await handle_unexpected_error(REQUEST, error)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert json.loads(response.body)["type"].endswith("/database-unavailable")


async def test_any_other_error_is_a_500() -> None:
    error = ProgrammingError("SELECT nope", {}, psycopg.ProgrammingError("syntax error"))
    response = await handle_unexpected_error(REQUEST, error)
    assert response.status_code == 500
