"""API tokens: ``askpro_<public_id>_<secret>``, stored as the SHA-256 of the secret."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from askpro.kit.base import Base, IdMixin


class ApiToken(IdMixin, Base):
    __tablename__ = "api_tokens"
    __table_args__ = (Index(None, "company_id", "created_at"),)

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    # NULL company: a platform operator's token.
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(50)), server_default=text("'{}'"))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
