"""Cal.com sync: booking ledger (ordering guard) and reconciliation cursors.

Revision ID: 20261128_calcom
Revises: 20261128_indexes
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "20261128_calcom"
down_revision: Union[str, Sequence[str], None] = "20261128_indexes"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "calcom_bookings",
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.String(length=100), nullable=False),
        sa.Column("appointment_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("no_show", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("rescheduled_from_uid", sa.String(length=100), nullable=True),
        sa.Column("rescheduled_to_uid", sa.String(length=100), nullable=True),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_calcom_bookings_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_calcom_bookings_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calcom_bookings")),
    )
    op.create_index(
        op.f("ix_calcom_bookings_appointment_id"),
        "calcom_bookings",
        ["appointment_id"],
        unique=False,
    )
    op.create_index(
        "uq_calcom_bookings_company_id_uid", "calcom_bookings", ["company_id", "uid"], unique=True
    )
    op.create_table(
        "calcom_sync_cursors",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("last_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "last_run_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_calcom_sync_cursors")),
    )


def downgrade() -> None:
    op.drop_table("calcom_sync_cursors")
    op.drop_index("uq_calcom_bookings_company_id_uid", table_name="calcom_bookings")
    op.drop_index(op.f("ix_calcom_bookings_appointment_id"), table_name="calcom_bookings")
    op.drop_table("calcom_bookings")
