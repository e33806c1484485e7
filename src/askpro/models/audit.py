"""The audit log: every write request and every failed authentication, one row each.

No foreign keys on purpose: the audit trail outlives the tokens and companies it names,
and batched inserts should not pay for reference checks.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from askpro.kit.base import Base, IdMixin

AUDIT_KINDS = ("write", "auth_failure", "replay")


class AuditLog(IdMixin, Base):
    __tablename__ = "audit_logs"
    __table_args__ = (
        Index(None, "company_id", "id"),
        Index(None, "token_id", "id"),
        Index(None, "correlation_id"),
    )

    occurred_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    kind: Mapped[str] = mapped_column(String(20))
    token_id: Mapped[int | None]
    company_id: Mapped[int | None]
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    route: Mapped[str | None] = mapped_column(String(200))
    resource_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[int] = mapped_column(SmallInteger)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
