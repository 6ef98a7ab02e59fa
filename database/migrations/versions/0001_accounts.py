"""Back Market accounts and their settings.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("platform", sa.String(8), nullable=False),
        sa.Column("preprod", sa.Boolean(), nullable=False),
        sa.Column("base_url", sa.String(500), nullable=True),
        sa.Column("locale", sa.String(10), nullable=False),
        sa.Column("token_ref", sa.String(2000), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.UniqueConstraint("name", name="uq_accounts_name"),
        sa.CheckConstraint(
            "platform IN ('eu', 'us', 'ap')", name="ck_accounts_platform"
        ),
    )
    op.create_table(
        "account_settings",
        sa.Column(
            "account_id",
            sa.BigInteger(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("order_import", sa.Boolean(), nullable=False),
        sa.Column("auto_validate", sa.Boolean(), nullable=False),
        sa.Column("listing_import", sa.Boolean(), nullable=False),
        sa.Column("listing_import_scope", sa.String(10), nullable=False),
        sa.Column("auto_import_new_listings", sa.Boolean(), nullable=False),
        sa.Column("rma_import", sa.Boolean(), nullable=False),
        sa.Column("organization_type", sa.String(20), nullable=False),
        sa.Column("quantity_sync", sa.Boolean(), nullable=False),
        sa.Column("backpricer", sa.Boolean(), nullable=False),
        sa.Column("imei_sync", sa.Boolean(), nullable=False),
        sa.Column("safety_buffer", sa.Integer(), nullable=False),
        sa.Column("overwrite_foreign_writes", sa.Boolean(), nullable=False),
        sa.Column("order_import_interval_s", sa.Integer(), nullable=False),
        sa.Column("listing_import_interval_s", sa.Integer(), nullable=False),
        sa.Column("quantity_reconcile_interval_s", sa.Integer(), nullable=False),
        sa.Column("rma_import_interval_s", sa.Integer(), nullable=False),
        sa.Column("pricing_interval_s", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "listing_import_scope IN ('online', 'all')",
            name="ck_account_settings_listing_import_scope",
        ),
        sa.CheckConstraint(
            "organization_type IN ('shipping_name', 'channel_name')",
            name="ck_account_settings_organization_type",
        ),
        sa.CheckConstraint(
            "safety_buffer >= 0", name="ck_account_settings_safety_buffer"
        ),
    )


def downgrade() -> None:
    op.drop_table("account_settings")
    op.drop_table("accounts")
