"""Companies and what they are made of: branches, phone numbers, staff, services."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from askpro.kit.base import Base, IdMixin, TimestampMixin


class Company(IdMixin, TimestampMixin, Base):
    __tablename__ = "companies"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended')", name="status"),
        CheckConstraint("price_per_minute_cents >= 0", name="price_per_minute_cents"),
        Index(None, "billing_account_id"),
    )

    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2), server_default="DE")
    time_zone: Mapped[str] = mapped_column(String(64), server_default="Europe/Berlin")
    locale: Mapped[str] = mapped_column(String(10), server_default="de")
    price_per_minute_cents: Mapped[int] = mapped_column(Integer, server_default="0")
    # The company's own share of the billing ledger (see askpro.models.billing).
    balance_cents: Mapped[int] = mapped_column(server_default="0")
    # The account that pays for this company (itself or a reseller); set on first billing use.
    billing_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("billing_accounts.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), server_default="active")
    minimum_notice_minutes: Mapped[int] = mapped_column(Integer, server_default="15")
    booking_horizon_days: Mapped[int] = mapped_column(Integer, server_default="60")
    # Provider credentials, Fernet-encrypted with ASKPRO_SECRET_KEY (askpro.kit.crypto).
    calcom_api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    calcom_webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    retell_api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    # The Cal.com team whose members are the staff: its schedules tell who works when.
    calcom_team_id: Mapped[int | None] = mapped_column()


class Branch(IdMixin, TimestampMixin, Base):
    __tablename__ = "branches"
    __table_args__ = (Index(None, "company_id", "name"),)

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(Text)


class PhoneNumber(IdMixin, TimestampMixin, Base):
    __tablename__ = "phone_numbers"
    __table_args__ = (
        Index(None, "company_id"),
        Index(None, "branch_id"),
    )

    number: Mapped[str] = mapped_column(String(20), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="SET NULL"))
    retell_agent_id: Mapped[str | None] = mapped_column(String(100))


class Staff(IdMixin, TimestampMixin, Base):
    __tablename__ = "staff"
    __table_args__ = (
        Index(None, "company_id", "name"),
        Index(None, "branch_id"),
    )

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    # The staff member's Cal.com identity: the user id maps hosts/organizers to staff.
    calcom_user_id: Mapped[int | None] = mapped_column()
    calcom_username: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class Service(IdMixin, TimestampMixin, Base):
    __tablename__ = "services"
    __table_args__ = (
        Index(None, "company_id", "name"),
        CheckConstraint("duration_minutes > 0", name="duration_minutes"),
        CheckConstraint("buffer_before_minutes >= 0 AND buffer_after_minutes >= 0", name="buffers"),
    )

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, server_default="0")
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, server_default="0")
    price_cents: Mapped[int] = mapped_column(server_default="0")
    calcom_event_type_id: Mapped[int | None] = mapped_column()
    minimum_notice_minutes: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class StaffService(Base):
    """Which staff member can perform which service, and in which Cal.com event type.

    ``calcom_event_type_id`` is the member's own event type for the service (their calendar);
    unset, the service's event type applies (one shared calendar, or a team round-robin).
    """

    __tablename__ = "staff_services"
    __table_args__ = (
        Index(None, "service_id"),
        Index(None, "company_id"),
    )

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    calcom_event_type_id: Mapped[int | None] = mapped_column()
