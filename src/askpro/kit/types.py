"""Annotated types shared by the features' input schemas."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, Field

MAX_BIGINT = 2**63 - 1

# A row id as clients may send it: positive and within PostgreSQL's bigint.
DatabaseId = Annotated[int, Field(ge=1, le=MAX_BIGINT)]

_ISO_8601 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_8601(value: object) -> object:
    # pydantic alone also reads 0 or "0.5" as a Unix time; the document promises RFC 3339.
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _ISO_8601.match(value):
        raise ValueError("not an ISO 8601 date-time with offset")
    return value


# A date-time as clients may send it (query or body): ISO 8601 with an offset, nothing else.
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_8601)]
