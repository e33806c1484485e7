"""Booking: customer merge audit rows and stored agent tool-call answers.

Revision ID: 20261128_booking
Revises: 20261128_calcom (chained after the merged Cal.com migration; was 20261128_indexes)
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261128_booking"
down_revision: Union[str, Sequence[str], None] = "20261128_calcom"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "customer_merges",
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("survivor_id", sa.BigInteger(), nullable=False),
        sa.Column("loser_id", sa.BigInteger(), nullable=False),
        sa.Column("loser_snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "moved",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=200), nullable=False),
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
            name=op.f("fk_customer_merges_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["loser_id"],
            ["customers.id"],
            name=op.f("fk_customer_merges_loser_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["survivor_id"],
            ["customers.id"],
            name=op.f("fk_customer_merges_survivor_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_merges")),
    )
    op.create_index(
        op.f("ix_customer_merges_company_id_created_at"),
        "customer_merges",
        ["company_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_customer_merges_loser_id"), "customer_merges", ["loser_id"], unique=False
    )
    op.create_index(
        op.f("ix_customer_merges_survivor_id"), "customer_merges", ["survivor_id"], unique=False
    )
    op.create_table(
        "tool_call_answers",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=True),
        sa.Column("call_id", sa.String(length=100), nullable=True),
        sa.Column("tool", sa.String(length=50), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("answer", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("state IN ('working', 'done')", name=op.f("ck_tool_call_answers_state")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_tool_call_answers_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_call_answers")),
        sa.UniqueConstraint("key", name=op.f("uq_tool_call_answers_key")),
    )
    op.create_index(
        op.f("ix_tool_call_answers_call_id"), "tool_call_answers", ["call_id"], unique=False
    )
    op.create_index(
        op.f("ix_tool_call_answers_company_id_created_at"),
        "tool_call_answers",
        ["company_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_tool_call_answers_company_id_created_at"), table_name="tool_call_answers"
    )
    op.drop_index(op.f("ix_tool_call_answers_call_id"), table_name="tool_call_answers")
    op.drop_table("tool_call_answers")
    op.drop_index(op.f("ix_customer_merges_survivor_id"), table_name="customer_merges")
    op.drop_index(op.f("ix_customer_merges_loser_id"), table_name="customer_merges")
    op.drop_index(op.f("ix_customer_merges_company_id_created_at"), table_name="customer_merges")
    op.drop_table("customer_merges")
