"""Booking-side bookkeeping: customer merge audit rows and stored tool-call answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from askpro.kit.base import Base, IdMixin


class CustomerMerge(IdMixin, Base):
    """One merge of a duplicate customer into a survivor, with the loser as it was."""

    __tablename__ = "customer_merges"
    __table_args__ = (
        Index(None, "company_id", "created_at"),
        Index(None, "survivor_id"),
        Index(None, "loser_id"),
    )

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    survivor_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    loser_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    loser_snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    moved: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))


class ToolCallAnswer(IdMixin, Base):
    """The answer given to one agent tool call, so a retried call gets the same answer.

    ``key`` hashes (call id, tool name, normalised arguments). A row in ``working`` state
    marks a call whose first delivery is still being answered; repeats wait for ``done``.
    """

    __tablename__ = "tool_call_answers"
    __table_args__ = (
        CheckConstraint("state IN ('working', 'done')", name="state"),
        Index(None, "company_id", "created_at"),
        Index(None, "call_id"),
    )

    key: Mapped[str] = mapped_column(String(64), unique=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    call_id: Mapped[str | None] = mapped_column(String(100))
    tool: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(20))
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    completed_at: Mapped[dt.datetime | None]
