"""What askpro knows about Cal.com bookings: one row per booking uid, and sync cursors.

``calcom_bookings`` is the ordering guard of the Cal.com sync: ``event_at`` is Cal.com's
time of the newest change applied for that uid (webhook ``createdAt`` or the booking's
``updatedAt``), so an older event never overwrites newer state; ``rescheduled_to_uid``
records that a uid was superseded by a reschedule, even if the events arrive out of order.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from askpro.kit.base import Base, IdMixin


class CalcomBooking(IdMixin, Base):
    __tablename__ = "calcom_bookings"
    __table_args__ = (
        Index("uq_calcom_bookings_company_id_uid", "company_id", "uid", unique=True),
        Index(None, "appointment_id"),
    )

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(String(100))
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL")
    )
    # Cal.com's status: accepted, pending, cancelled, rejected (lower case, as API v2).
    status: Mapped[str] = mapped_column(String(20))
    no_show: Mapped[bool] = mapped_column(server_default=text("false"))
    rescheduled_from_uid: Mapped[str | None] = mapped_column(String(100))
    rescheduled_to_uid: Mapped[str | None] = mapped_column(String(100))
    event_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))


class CalcomSyncCursor(Base):
    """Per Cal.com account (non-secret key hash): bookings updated up to here are reconciled."""

    __tablename__ = "calcom_sync_cursors"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_updated_at: Mapped[dt.datetime]
    last_run_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
