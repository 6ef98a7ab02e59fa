"""A listing remembers the quantity being written until Back Market answers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("listings", sa.Column("push_intent_quantity", sa.Integer()))
    op.add_column("listings", sa.Column("push_intent_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("listings", "push_intent_at")
    op.drop_column("listings", "push_intent_quantity")
