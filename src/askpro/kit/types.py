"""Annotated types shared by the features' input schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_BIGINT = 2**63 - 1

# A row id as clients may send it: positive and within PostgreSQL's bigint.
DatabaseId = Annotated[int, Field(ge=1, le=MAX_BIGINT)]
