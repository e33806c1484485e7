"""Dashboard: server-side sessions and the indexes its pages' queries need.

Revision ID: 20261201_dashboard_indexes
Revises: 20261201_outbound

- appointments (company_id, created_at) INCLUDE (status, source): today's bookings and
  bookings per day, from the index alone.
- webhook_events (company_id) WHERE status IN ('failed', 'dead'): the failed/dead count.
- appointments (staff_id, blocks_from) WHERE status IN ('held', 'booked'): the free-slot
  check of booking.availability (`perf monitor` found it reading every appointment of the
  staff member through (staff_id, starts_at)).
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_dashboard_indexes"
down_revision: Union[str, Sequence[str], None] = "20261201_outbound"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_dashboard_sessions_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_dashboard_sessions_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_sessions")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_dashboard_sessions_secret_hash")),
    )
    op.create_index(
        op.f("ix_dashboard_sessions_token_id"), "dashboard_sessions", ["token_id"], unique=False
    )
    op.create_index(
        op.f("ix_dashboard_sessions_company_id"), "dashboard_sessions", ["company_id"], unique=False
    )
    op.create_index(
        op.f("ix_dashboard_sessions_expires_at"), "dashboard_sessions", ["expires_at"], unique=False
    )
    op.create_index(
        "ix_appointments_company_id_created_at",
        "appointments",
        ["company_id", "created_at"],
        postgresql_include=["status", "source"],
    )
    op.create_index(
        "ix_appointments_live_staff_id_blocks_from",
        "appointments",
        ["staff_id", "blocks_from"],
        postgresql_where=sa.text("status IN ('held', 'booked')"),
    )
    op.create_index(
        "ix_webhook_events_company_id_failing",
        "webhook_events",
        ["company_id"],
        postgresql_where=sa.text("status IN ('failed', 'dead')"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_events_company_id_failing", table_name="webhook_events")
    op.drop_index("ix_appointments_live_staff_id_blocks_from", table_name="appointments")
    op.drop_index("ix_appointments_company_id_created_at", table_name="appointments")
    op.drop_index(op.f("ix_dashboard_sessions_expires_at"), table_name="dashboard_sessions")
    op.drop_index(op.f("ix_dashboard_sessions_company_id"), table_name="dashboard_sessions")
    op.drop_index(op.f("ix_dashboard_sessions_token_id"), table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
