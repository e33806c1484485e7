"""Appointments and their history.

No two live (``held`` or ``booked``) appointments of one staff member may overlap,
buffers included: the exclusion constraint on ``[blocks_from, blocks_until)`` is the
guarantee, application checks only make the answer friendlier.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from askpro.kit.base import Base, IdMixin, TimestampMixin


class AppointmentStatus(StrEnum):
    HELD = "held"
    BOOKED = "booked"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


class SyncState(StrEnum):
    """Where the appointment stands with Cal.com (the outbox of ``askpro.booking``)."""

    NOT_REQUIRED = "not_required"
    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"


class AppointmentSource(StrEnum):
    PHONE = "phone"
    API = "api"
    CALCOM = "calcom"


class HistoryKind(StrEnum):
    """The ``kind`` of an ``appointment_events`` row: what happened to the appointment."""

    HELD = "held"
    BOOKED = "booked"
    BOOKED_FROM_HOLD = "booked_from_hold"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    STAFF_REASSIGNED = "staff_reassigned"
    CALCOM_CREATED = "calcom_created"
    CALCOM_LINKED = "calcom_linked"
    CALCOM_RESCHEDULED = "calcom_rescheduled"
    CALCOM_CANCELLED = "calcom_cancelled"
    SYNC_FAILED = "sync_failed"  # the push to Cal.com gave up (announced as an outbound event)
    # What Cal.com reported (webhooks, reconciliation), applied by booking's service.
    EXTERNAL_CREATED = "calcom.created"
    EXTERNAL_REQUESTED = "calcom.requested"
    EXTERNAL_RESCHEDULED = "calcom.rescheduled"
    EXTERNAL_CANCELLED = "calcom.cancelled"
    EXTERNAL_RECONCILED = "calcom.reconciled"
    EXTERNAL_MERGED = "calcom.merged"
    EXTERNAL_NO_SHOW = "calcom.no_show_updated"


APPOINTMENT_STATUSES = tuple(AppointmentStatus)
LIVE_STATUSES = (AppointmentStatus.HELD, AppointmentStatus.BOOKED)
SYNC_STATES = tuple(SyncState)
SOURCES = tuple(AppointmentSource)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(str(value)) for value in values)})"


class Appointment(IdMixin, TimestampMixin, Base):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint(_in("status", APPOINTMENT_STATUSES), name="status"),
        CheckConstraint(_in("calcom_sync_state", SYNC_STATES), name="calcom_sync_state"),
        CheckConstraint(_in("source", SOURCES), name="source"),
        CheckConstraint(
            "blocks_from <= starts_at AND starts_at < ends_at AND ends_at <= blocks_until",
            name="time_range",
        ),
        CheckConstraint("status <> 'held' OR hold_expires_at IS NOT NULL", name="hold_expiry"),
        ExcludeConstraint(
            ("staff_id", "="),
            (text("tstzrange(blocks_from, blocks_until, '[)')"), "&&"),
            name="ex_appointments_staff_no_overlap",
            using="gist",
            where=text("status IN ('held', 'booked')"),
        ),
        Index(
            "uq_appointments_company_id_calcom_booking_uid",
            "company_id",
            "calcom_booking_uid",
            unique=True,
        ),
        Index(
            "uq_appointments_company_id_idempotency_key",
            "company_id",
            "idempotency_key",
            unique=True,
        ),
        Index(None, "company_id", "starts_at"),
        # The dashboard's bookings today and per day, answered from the index alone.
        Index(None, "company_id", "created_at", postgresql_include=["status", "source"]),
        # The availability query: a staff member's live ranges around a slot.
        Index(
            "ix_appointments_live_staff_id_blocks_from",
            "staff_id",
            "blocks_from",
            postgresql_where=text("status IN ('held', 'booked')"),
        ),
        Index(None, "staff_id", "starts_at"),
        Index(None, "customer_id", "starts_at"),
        Index(None, "branch_id"),
        Index(None, "service_id"),
        Index(None, "call_id"),
        Index(
            "ix_appointments_calcom_sync_pending",
            "calcom_sync_state",
            postgresql_where=text("calcom_sync_state IN ('pending', 'failed')"),
        ),
        Index(
            "ix_appointments_hold_expires_at",
            "hold_expires_at",
            postgresql_where=text("status = 'held'"),
        ),
    )

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="SET NULL"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="RESTRICT"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    # starts_at/ends_at widened by the service's buffers: the range that must not overlap.
    blocks_from: Mapped[dt.datetime]
    blocks_until: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(20))
    hold_expires_at: Mapped[dt.datetime | None]
    calcom_booking_uid: Mapped[str | None] = mapped_column(String(100))
    calcom_sync_state: Mapped[str] = mapped_column(String(20), server_default="not_required")
    calcom_sync_error: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    cancellation_reason: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)


class AppointmentEvent(IdMixin, Base):
    """One change of an appointment: what changed, by whom, through which channel."""

    __tablename__ = "appointment_events"
    __table_args__ = (
        Index(None, "appointment_id", "created_at"),
        Index(None, "company_id", "created_at"),
    )

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
