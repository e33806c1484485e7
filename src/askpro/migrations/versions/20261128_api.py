"""The audit log of the admin API.

Revision ID: 20261128_api
Revises: 20261128_indexes
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "20261128_api"
down_revision: Union[str, Sequence[str], None] = "20261128_indexes"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "audit_logs",
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=True),
        sa.Column("company_id", sa.BigInteger(), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=True),
        sa.Column("resource_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_logs")),
    )
    op.create_index(
        op.f("ix_audit_logs_company_id_id"), "audit_logs", ["company_id", "id"], unique=False
    )
    op.create_index(
        op.f("ix_audit_logs_token_id_id"), "audit_logs", ["token_id", "id"], unique=False
    )
    op.create_index(
        op.f("ix_audit_logs_correlation_id"), "audit_logs", ["correlation_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_logs_correlation_id"), table_name="audit_logs")
    op.drop_index(op.f("ix_audit_logs_token_id_id"), table_name="audit_logs")
    op.drop_index(op.f("ix_audit_logs_company_id_id"), table_name="audit_logs")
    op.drop_table("audit_logs")
