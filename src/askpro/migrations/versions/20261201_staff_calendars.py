"""Staff-level Cal.com mapping, and the history kind ``calcom_canceld`` spelled right.

- ``staff.calcom_username``: the member's Cal.com username (``calcom_user_id`` exists).
- ``staff_services.calcom_event_type_id``: the member's own event type for the service;
  NULL (every existing row) keeps today's behaviour: the service's event type.
- ``companies.calcom_team_id``: the Cal.com team whose members' schedules say who works.
- Backfill: history rows written as ``calcom_canceld`` become ``calcom_cancelled``.

Revision ID: 20261201_staff_calendars
Revises: 20261128_booking
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_staff_calendars"
down_revision: Union[str, Sequence[str], None] = "20261128_booking"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("staff", sa.Column("calcom_username", sa.String(length=100), nullable=True))
    op.add_column(
        "staff_services", sa.Column("calcom_event_type_id", sa.BigInteger(), nullable=True)
    )
    op.add_column("companies", sa.Column("calcom_team_id", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE appointment_events SET kind = 'calcom_cancelled' WHERE kind = 'calcom_canceld'"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE appointment_events SET kind = 'calcom_canceld' WHERE kind = 'calcom_cancelled'"
    )
    op.drop_column("companies", "calcom_team_id")
    op.drop_column("staff_services", "calcom_event_type_id")
    op.drop_column("staff", "calcom_username")
