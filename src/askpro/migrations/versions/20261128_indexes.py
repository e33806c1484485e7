"""Performance indexes for the hot queries, company_id leading; every foreign key indexed.

Revision ID: 20261128_indexes
Revises: 20261128_schema
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "20261128_indexes"
down_revision: Union[str, Sequence[str], None] = "20261128_schema"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_api_tokens_company_id_created_at"),
        "api_tokens",
        ["company_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_branches_company_id_name"), "branches", ["company_id", "name"], unique=False
    )
    op.create_index(
        op.f("ix_customers_company_id_email"), "customers", ["company_id", "email"], unique=False
    )
    op.create_index(
        op.f("ix_customers_company_id_name"), "customers", ["company_id", "name"], unique=False
    )
    op.create_index(
        op.f("ix_customers_merged_into_id"), "customers", ["merged_into_id"], unique=False
    )
    op.create_index(
        op.f("ix_services_company_id_name"), "services", ["company_id", "name"], unique=False
    )
    op.create_index(
        op.f("ix_webhook_events_company_id_received_at"),
        "webhook_events",
        ["company_id", "received_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_webhook_events_entity_key"), "webhook_events", ["entity_key"], unique=False
    )
    op.create_index(
        op.f("ix_webhook_events_provider_event_type_received_at"),
        "webhook_events",
        ["provider", "event_type", "received_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_webhook_events_status_received_at"),
        "webhook_events",
        ["status", "received_at"],
        unique=False,
    )
    op.create_index(op.f("ix_calls_branch_id"), "calls", ["branch_id"], unique=False)
    op.create_index(
        op.f("ix_calls_company_id_started_at"), "calls", ["company_id", "started_at"], unique=False
    )
    op.create_index(
        op.f("ix_calls_customer_id_started_at"),
        "calls",
        ["customer_id", "started_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_phone_numbers_branch_id"), "phone_numbers", ["branch_id"], unique=False
    )
    op.create_index(
        op.f("ix_phone_numbers_company_id"), "phone_numbers", ["company_id"], unique=False
    )
    op.create_index(op.f("ix_staff_branch_id"), "staff", ["branch_id"], unique=False)
    op.create_index(op.f("ix_staff_company_id_name"), "staff", ["company_id", "name"], unique=False)
    op.create_index(op.f("ix_appointments_branch_id"), "appointments", ["branch_id"], unique=False)
    op.create_index(
        "ix_appointments_calcom_sync_pending",
        "appointments",
        ["calcom_sync_state"],
        unique=False,
        postgresql_where=sa.text("calcom_sync_state IN ('pending', 'failed')"),
    )
    op.create_index(op.f("ix_appointments_call_id"), "appointments", ["call_id"], unique=False)
    op.create_index(
        op.f("ix_appointments_company_id_starts_at"),
        "appointments",
        ["company_id", "starts_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_appointments_customer_id_starts_at"),
        "appointments",
        ["customer_id", "starts_at"],
        unique=False,
    )
    op.create_index(
        "ix_appointments_hold_expires_at",
        "appointments",
        ["hold_expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'held'"),
    )
    op.create_index(
        op.f("ix_appointments_service_id"), "appointments", ["service_id"], unique=False
    )
    op.create_index(
        op.f("ix_appointments_staff_id_starts_at"),
        "appointments",
        ["staff_id", "starts_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_staff_services_company_id"), "staff_services", ["company_id"], unique=False
    )
    op.create_index(
        op.f("ix_staff_services_service_id"), "staff_services", ["service_id"], unique=False
    )
    op.create_index(
        op.f("ix_appointment_events_appointment_id_created_at"),
        "appointment_events",
        ["appointment_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_appointment_events_company_id_created_at"),
        "appointment_events",
        ["company_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_appointment_events_company_id_created_at"), table_name="appointment_events"
    )
    op.drop_index(
        op.f("ix_appointment_events_appointment_id_created_at"), table_name="appointment_events"
    )
    op.drop_index(op.f("ix_staff_services_service_id"), table_name="staff_services")
    op.drop_index(op.f("ix_staff_services_company_id"), table_name="staff_services")
    op.drop_index(op.f("ix_appointments_staff_id_starts_at"), table_name="appointments")
    op.drop_index(op.f("ix_appointments_service_id"), table_name="appointments")
    op.drop_index(
        "ix_appointments_hold_expires_at",
        table_name="appointments",
        postgresql_where=sa.text("status = 'held'"),
    )
    op.drop_index(op.f("ix_appointments_customer_id_starts_at"), table_name="appointments")
    op.drop_index(op.f("ix_appointments_company_id_starts_at"), table_name="appointments")
    op.drop_index(op.f("ix_appointments_call_id"), table_name="appointments")
    op.drop_index(
        "ix_appointments_calcom_sync_pending",
        table_name="appointments",
        postgresql_where=sa.text("calcom_sync_state IN ('pending', 'failed')"),
    )
    op.drop_index(op.f("ix_appointments_branch_id"), table_name="appointments")
    op.drop_index(op.f("ix_staff_company_id_name"), table_name="staff")
    op.drop_index(op.f("ix_staff_branch_id"), table_name="staff")
    op.drop_index(op.f("ix_phone_numbers_company_id"), table_name="phone_numbers")
    op.drop_index(op.f("ix_phone_numbers_branch_id"), table_name="phone_numbers")
    op.drop_index(op.f("ix_calls_customer_id_started_at"), table_name="calls")
    op.drop_index(op.f("ix_calls_company_id_started_at"), table_name="calls")
    op.drop_index(op.f("ix_calls_branch_id"), table_name="calls")
    op.drop_index(op.f("ix_webhook_events_status_received_at"), table_name="webhook_events")
    op.drop_index(
        op.f("ix_webhook_events_provider_event_type_received_at"), table_name="webhook_events"
    )
    op.drop_index(op.f("ix_webhook_events_entity_key"), table_name="webhook_events")
    op.drop_index(op.f("ix_webhook_events_company_id_received_at"), table_name="webhook_events")
    op.drop_index(op.f("ix_services_company_id_name"), table_name="services")
    op.drop_index(op.f("ix_customers_merged_into_id"), table_name="customers")
    op.drop_index(op.f("ix_customers_company_id_name"), table_name="customers")
    op.drop_index(op.f("ix_customers_company_id_email"), table_name="customers")
    op.drop_index(op.f("ix_branches_company_id_name"), table_name="branches")
    op.drop_index(op.f("ix_api_tokens_company_id_created_at"), table_name="api_tokens")
