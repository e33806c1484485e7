"""Shared pieces of the /api/v1 routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.auth.dependencies import Principal, db_session, requires
from askpro.kit.pagination import Page, PageRequest, page_request

__all__ = ["Id", "Page", "Paging", "Principal", "Session", "page_of", "requires"]

Session = Annotated[AsyncSession, Depends(db_session)]
Paging = Annotated[PageRequest, Depends(page_request)]
Id = Annotated[int, Path(ge=1, le=2**63 - 1, description="The resource's id.")]


def page_of(out: Any, rows: list[Any], next_cursor: str | None) -> dict[str, Any]:
    """Rows and cursor in the shape of ``Page[out]``."""
    return {"items": [out.model_validate(row) for row in rows], "next_cursor": next_cursor}
