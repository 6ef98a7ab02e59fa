"""What each order's workflow was last told, so an interrupted import tells it again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sales_orders", sa.Column("dispatched", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("sales_orders", "dispatched")
