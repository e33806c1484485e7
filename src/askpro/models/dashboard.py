"""Dashboard sessions: a browser's login, kept on the server, found by its cookie's hash.

The cookie carries a random secret; only its SHA-256 is stored, like API tokens. A session
ends at ``expires_at``, at logout (the row is deleted) or when its token is revoked or
expires (checked on every request).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from askpro.kit.base import Base, IdMixin


class DashboardSession(IdMixin, Base):
    __tablename__ = "dashboard_sessions"
    __table_args__ = (
        Index(None, "token_id"),
        Index(None, "company_id"),
        Index(None, "expires_at"),
    )

    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"))
    # The company the session acts on: the token's, or the one a platform token chose.
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[dt.datetime]
