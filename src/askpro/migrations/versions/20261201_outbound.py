"""Outbound events: webhook endpoints, the outbox, deliveries, attempts; caller messages.

Revision ID: 20261201_outbound
Revises: 20261201_lock_wakeup
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261201_outbound"
down_revision: Union[str, Sequence[str], None] = "20261201_lock_wakeup"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


# Every appointment history row of an announced kind writes its outbound event in the same
# statement (no extra round trip on the booking path, and no code path can forget it). The
# payload is askpro.outbound.schemas.AppointmentPayload, version 1 (tests hold them equal).
APPOINTMENT_OUTBOX_FUNCTION = """
CREATE FUNCTION askpro_appointment_event_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    announced text := CASE NEW.kind
        WHEN 'booked' THEN 'appointment.booked'
        WHEN 'booked_from_hold' THEN 'appointment.booked'
        WHEN 'calcom.created' THEN 'appointment.booked'
        WHEN 'rescheduled' THEN 'appointment.rescheduled'
        WHEN 'calcom.rescheduled' THEN 'appointment.rescheduled'
        WHEN 'cancelled' THEN 'appointment.cancelled'
        WHEN 'calcom.cancelled' THEN 'appointment.cancelled'
        WHEN 'sync_failed' THEN 'appointment.sync_failed'
    END;
BEGIN
    IF announced IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO outbound_events (company_id, message_id, type, version, ordering_key, payload)
    SELECT a.company_id,
           'msg_' || replace(gen_random_uuid()::text, '-', ''),
           announced,
           1,
           'appointment:' || a.id,
           jsonb_build_object(
               'appointment_id', a.id,
               'status', a.status,
               'start', to_char(a.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               'end', to_char(a.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               'staff_id', a.staff_id,
               'service_id', a.service_id,
               'customer_id', a.customer_id,
               'branch_id', a.branch_id,
               'source', a.source,
               'calcom_sync_state', a.calcom_sync_state,
               'cancellation_reason', a.cancellation_reason,
               'actor_channel', NEW.channel,
               'changes', NEW.changes
           )
    FROM appointments a
    WHERE a.id = NEW.appointment_id;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "outbound_events",
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("ordering_key", sa.String(length=100), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("fanned_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_outbound_events_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_events")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbound_events_message_id")),
    )
    op.create_index(
        op.f("ix_outbound_events_company_id_id"),
        "outbound_events",
        ["company_id", "id"],
        unique=False,
    )
    op.create_index(
        "ix_outbound_events_unfanned",
        "outbound_events",
        ["id"],
        unique=False,
        postgresql_where=sa.text("fanned_out_at IS NULL"),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("event_types", postgresql.ARRAY(sa.String(length=60)), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("follow_redirects", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("previous_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=40), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_webhook_endpoints_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(
        op.f("ix_webhook_endpoints_company_id_id"),
        "webhook_endpoints",
        ["company_id", "id"],
        unique=False,
    )
    op.create_table(
        "outbound_deliveries",
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("endpoint_id", sa.BigInteger(), nullable=False),
        sa.Column("ordering_key", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'cancelled')",
            name=op.f("ck_outbound_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_outbound_deliveries_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_outbound_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbound_events.id"],
            name=op.f("fk_outbound_deliveries_event_id_outbound_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_deliveries")),
    )
    op.create_index(
        op.f("ix_outbound_deliveries_company_id_id"),
        "outbound_deliveries",
        ["company_id", "id"],
        unique=False,
    )
    op.create_index(
        "ix_outbound_deliveries_due",
        "outbound_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        op.f("ix_outbound_deliveries_endpoint_id_ordering_key_event_id"),
        "outbound_deliveries",
        ["endpoint_id", "ordering_key", "event_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_outbound_deliveries_event_id_endpoint_id"),
        "outbound_deliveries",
        ["event_id", "endpoint_id"],
        unique=True,
    )
    op.create_table(
        "caller_messages",
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=True),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("caller_name", sa.String(length=200), nullable=True),
        sa.Column("caller_number", sa.String(length=20), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("urgency", sa.String(length=10), server_default="normal", nullable=False),
        sa.Column("callback_window", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('message', 'callback')", name=op.f("ck_caller_messages_kind")),
        sa.CheckConstraint("status IN ('open', 'done')", name=op.f("ck_caller_messages_status")),
        sa.CheckConstraint(
            "urgency IN ('low', 'normal', 'high')", name=op.f("ck_caller_messages_urgency")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_caller_messages_call_id_calls"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_caller_messages_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_caller_messages_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caller_messages")),
    )
    op.create_index(
        op.f("ix_caller_messages_call_id"), "caller_messages", ["call_id"], unique=False
    )
    op.create_index(
        op.f("ix_caller_messages_company_id_id"),
        "caller_messages",
        ["company_id", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_caller_messages_customer_id"), "caller_messages", ["customer_id"], unique=False
    )
    op.create_table(
        "outbound_delivery_attempts",
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("response_snippet", sa.String(length=1000), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_outbound_delivery_attempts_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["outbound_deliveries.id"],
            name=op.f("fk_outbound_delivery_attempts_delivery_id_outbound_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_delivery_attempts")),
    )
    op.create_index(
        op.f("ix_outbound_delivery_attempts_company_id"),
        "outbound_delivery_attempts",
        ["company_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_outbound_delivery_attempts_delivery_id_id"),
        "outbound_delivery_attempts",
        ["delivery_id", "id"],
        unique=False,
    )

    op.execute(APPOINTMENT_OUTBOX_FUNCTION)
    op.execute(
        "CREATE TRIGGER appointment_events_outbox AFTER INSERT ON appointment_events "
        "FOR EACH ROW EXECUTE FUNCTION askpro_appointment_event_outbox()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS appointment_events_outbox ON appointment_events")
    op.execute("DROP FUNCTION IF EXISTS askpro_appointment_event_outbox()")
    """Downgrade schema."""
    op.drop_index(
        op.f("ix_outbound_delivery_attempts_delivery_id_id"),
        table_name="outbound_delivery_attempts",
    )
    op.drop_index(
        op.f("ix_outbound_delivery_attempts_company_id"), table_name="outbound_delivery_attempts"
    )
    op.drop_table("outbound_delivery_attempts")
    op.drop_index(op.f("ix_caller_messages_customer_id"), table_name="caller_messages")
    op.drop_index(op.f("ix_caller_messages_company_id_id"), table_name="caller_messages")
    op.drop_index(op.f("ix_caller_messages_call_id"), table_name="caller_messages")
    op.drop_table("caller_messages")
    op.drop_index(
        op.f("ix_outbound_deliveries_event_id_endpoint_id"), table_name="outbound_deliveries"
    )
    op.drop_index(
        op.f("ix_outbound_deliveries_endpoint_id_ordering_key_event_id"),
        table_name="outbound_deliveries",
    )
    op.drop_index(
        "ix_outbound_deliveries_due",
        table_name="outbound_deliveries",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index(op.f("ix_outbound_deliveries_company_id_id"), table_name="outbound_deliveries")
    op.drop_table("outbound_deliveries")
    op.drop_index(op.f("ix_webhook_endpoints_company_id_id"), table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
    op.drop_index(
        "ix_outbound_events_unfanned",
        table_name="outbound_events",
        postgresql_where=sa.text("fanned_out_at IS NULL"),
    )
    op.drop_index(op.f("ix_outbound_events_company_id_id"), table_name="outbound_events")
    op.drop_table("outbound_events")
