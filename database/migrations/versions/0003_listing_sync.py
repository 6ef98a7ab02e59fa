"""Listing sync bookkeeping: foreign writes, BackBox standing, RMA links.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
MONEY = sa.Numeric(12, 2)


def upgrade() -> None:
    op.add_column("listings", sa.Column("quantity_seen_at", TZ, nullable=True))
    op.add_column("listings", sa.Column("foreign_write_at", TZ, nullable=True))
    op.add_column("listings", sa.Column("foreign_write_quantity", sa.Integer()))
    op.add_column("listings", sa.Column("foreign_write_note", sa.String(300)))
    op.add_column("listings", sa.Column("comment", sa.String(500)))
    op.add_column("listings", sa.Column("price_to_win", MONEY, nullable=True))
    op.add_column("listings", sa.Column("winner_price", MONEY, nullable=True))
    op.add_column("listings", sa.Column("winning", sa.Boolean(), nullable=True))
    op.add_column("listings", sa.Column("backbox_checked_at", TZ, nullable=True))
    op.add_column("listings", sa.Column("backbox_note", sa.String(200)))
    op.add_column("rmas", sa.Column("orderline_id", sa.BigInteger(), nullable=True))
    op.add_column("rmas", sa.Column("claim_state", sa.Integer(), nullable=True))
    op.add_column("rmas", sa.Column("resolution_choice", sa.String(30)))


def downgrade() -> None:
    for column in ("resolution_choice", "claim_state", "orderline_id"):
        op.drop_column("rmas", column)
    for column in (
        "backbox_note",
        "backbox_checked_at",
        "winning",
        "winner_price",
        "price_to_win",
        "comment",
        "foreign_write_note",
        "foreign_write_quantity",
        "foreign_write_at",
        "quantity_seen_at",
    ):
        op.drop_column("listings", column)
