"""Join the billing and admin-API branches (both start at 20261128_indexes).

Only needed while feat-billing carries feat-api; the lead can drop this file when the
migrations are re-chained into one line on main.

Revision ID: 20261128_merge_billing_api
Revises: 20261128_billing, 20261128_api
"""

from typing import Sequence, Union

revision: str = "20261128_merge_billing_api"
down_revision: Union[str, Sequence[str], None] = ("20261128_billing", "20261128_api")
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
