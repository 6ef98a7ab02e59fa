"""Inventory: catalog, stock, sales orders, listings, and the sync bookkeeping.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a new installation starts with; operators add or rename freely afterwards.
INVENTORY_STATUSES = ("Available", "Reserved", "Testing", "Sold", "Returned")
SALES_ORDER_STATUSES = (
    ("Open", True),
    ("Validated", True),
    ("Shipped", False),
    ("Cancelled", False),
    ("Refunded", False),
)
WAREHOUSES = ("Main",)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index(op.f("ix_customers_name"), "customers", ["name"], unique=False)
    op.create_table(
        "inventory_statuses",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_statuses")),
    )
    op.create_index(
        "uq_inventory_statuses_name",
        "inventory_statuses",
        [sa.literal_column("lower(name)")],
        unique=True,
    )
    op.create_table(
        "products",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("manufacturer", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_index(
        "uq_products_manufacturer_model",
        "products",
        [sa.literal_column("lower(manufacturer)"), sa.literal_column("lower(model)")],
        unique=True,
    )
    op.create_table(
        "sales_order_statuses",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("counts_as_open", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_order_statuses")),
    )
    op.create_index(
        "uq_sales_order_statuses_name",
        "sales_order_statuses",
        [sa.literal_column("lower(name)")],
        unique=True,
    )
    op.create_table(
        "warehouses",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warehouses")),
    )
    op.create_index(
        "uq_warehouses_name",
        "warehouses",
        [sa.literal_column("lower(name)")],
        unique=True,
    )
    op.create_table(
        "account_counted_statuses",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("inventory_status_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_counted_statuses_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["inventory_status_id"],
            ["inventory_statuses.id"],
            name=op.f(
                "fk_account_counted_statuses_inventory_status_id_inventory_statuses"
            ),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id",
            "inventory_status_id",
            name=op.f("pk_account_counted_statuses"),
        ),
    )
    op.create_table(
        "account_counted_warehouses",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("warehouse_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_counted_warehouses_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_account_counted_warehouses_warehouse_id_warehouses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "warehouse_id", name=op.f("pk_account_counted_warehouses")
        ),
    )
    op.create_table(
        "account_status_map",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("sales_order_status_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "phase IN ('new', 'paid', 'validated', 'shipped', 'cancelled', 'refunded')",
            name=op.f("ck_account_status_map_phase"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_status_map_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sales_order_status_id"],
            ["sales_order_statuses.id"],
            name=op.f(
                "fk_account_status_map_sales_order_status_id_sales_order_statuses"
            ),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "phase", name=op.f("pk_account_status_map")
        ),
    )
    op.create_table(
        "listings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("backmarket_uuid", sa.Uuid(), nullable=False),
        sa.Column("legacy_listing_id", sa.BigInteger(), nullable=True),
        sa.Column("product_id", sa.String(length=64), nullable=True),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("grade", sa.String(length=20), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("min_price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("max_price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("publication_state", sa.Integer(), nullable=True),
        sa.Column("last_pushed_quantity", sa.Integer(), nullable=True),
        sa.Column("last_pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "gone_from_backmarket", sa.Boolean(), server_default="false", nullable=False
        ),
        sa.Column(
            "mapping_mode", sa.String(length=12), server_default="sku", nullable=False
        ),
        sa.Column("safety_buffer", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "mapping_mode IN ('sku', 'variations')",
            name=op.f("ck_listings_mapping_mode"),
        ),
        sa.CheckConstraint(
            "safety_buffer >= 0", name=op.f("ck_listings_safety_buffer")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_listings_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listings")),
        sa.UniqueConstraint(
            "account_id",
            "backmarket_uuid",
            name=op.f("uq_listings_account_id_backmarket_uuid"),
        ),
    )
    op.create_index(
        "ix_listings_account_sku",
        "listings",
        ["account_id", sa.literal_column("lower(sku)")],
        unique=False,
    )
    op.create_table(
        "product_variations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("grade", sa.String(length=40), server_default="", nullable=False),
        sa.Column("condition", sa.String(length=40), server_default="", nullable=False),
        sa.Column("storage", sa.String(length=40), server_default="", nullable=False),
        sa.Column("colour", sa.String(length=40), server_default="", nullable=False),
        sa.Column("network", sa.String(length=40), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_variations_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_variations")),
    )
    op.create_index(
        "uq_product_variations_attributes",
        "product_variations",
        [
            "product_id",
            sa.literal_column("lower(grade)"),
            sa.literal_column("lower(condition)"),
            sa.literal_column("lower(storage)"),
            sa.literal_column("lower(colour)"),
            sa.literal_column("lower(network)"),
        ],
        unique=True,
    )
    op.create_table(
        "sales_orders",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("external_order_id", sa.BigInteger(), nullable=True),
        sa.Column("status_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("backmarket_state", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_sales_orders_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_sales_orders_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["status_id"],
            ["sales_order_statuses.id"],
            name=op.f("fk_sales_orders_status_id_sales_order_statuses"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_orders")),
        sa.UniqueConstraint(
            "account_id",
            "external_order_id",
            name=op.f("uq_sales_orders_account_id_external_order_id"),
        ),
    )
    op.create_index(
        "ix_sales_orders_status_id", "sales_orders", ["status_id"], unique=False
    )
    op.create_table(
        "sync_checkpoints",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("value_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("value_text", sa.String(length=500), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_sync_checkpoints_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_checkpoints")),
        sa.UniqueConstraint(
            "account_id", "kind", name=op.f("uq_sync_checkpoints_account_id_kind")
        ),
    )
    op.create_table(
        "inventory_items",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("imei", sa.String(length=15), nullable=True),
        sa.Column("serial", sa.String(length=50), nullable=True),
        sa.Column("variation_id", sa.BigInteger(), nullable=False),
        sa.Column("status_id", sa.BigInteger(), nullable=False),
        sa.Column("warehouse_id", sa.BigInteger(), nullable=True),
        sa.Column("cost", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "imei ~ '^[0-9]{15}$'", name=op.f("ck_inventory_items_imei_digits")
        ),
        sa.ForeignKeyConstraint(
            ["status_id"],
            ["inventory_statuses.id"],
            name=op.f("fk_inventory_items_status_id_inventory_statuses"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["variation_id"],
            ["product_variations.id"],
            name=op.f("fk_inventory_items_variation_id_product_variations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_inventory_items_warehouse_id_warehouses"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_items")),
        sa.UniqueConstraint("imei", name=op.f("uq_inventory_items_imei")),
    )
    op.create_index(
        "ix_inventory_items_variation_status_warehouse",
        "inventory_items",
        ["variation_id", "status_id", "warehouse_id"],
        unique=False,
    )
    op.create_table(
        "listing_variations",
        sa.Column("listing_id", sa.BigInteger(), nullable=False),
        sa.Column("variation_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_listing_variations_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variation_id"],
            ["product_variations.id"],
            name=op.f("fk_listing_variations_variation_id_product_variations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "listing_id", "variation_id", name=op.f("pk_listing_variations")
        ),
    )
    op.create_index(
        op.f("ix_listing_variations_variation_id"),
        "listing_variations",
        ["variation_id"],
        unique=False,
    )
    op.create_table(
        "shipments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("sales_order_id", sa.BigInteger(), nullable=False),
        sa.Column("tracking_number", sa.String(length=100), nullable=False),
        sa.Column("carrier", sa.String(length=100), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["sales_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_shipments_sales_order_id_sales_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint(
            "sales_order_id",
            "tracking_number",
            name=op.f("uq_shipments_sales_order_id_tracking_number"),
        ),
    )
    op.create_table(
        "skus",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("variation_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_skus_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variation_id"],
            ["product_variations.id"],
            name=op.f("fk_skus_variation_id_product_variations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skus")),
    )
    op.create_index(
        op.f("ix_skus_variation_id"), "skus", ["variation_id"], unique=False
    )
    op.create_index(
        "uq_skus_account_code",
        "skus",
        ["account_id", sa.literal_column("lower(code)")],
        unique=True,
        postgresql_where=sa.text("account_id IS NOT NULL"),
    )
    op.create_index(
        "uq_skus_global_code",
        "skus",
        [sa.literal_column("lower(code)")],
        unique=True,
        postgresql_where=sa.text("account_id IS NULL"),
    )
    op.create_table(
        "sync_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("listing_id", sa.BigInteger(), nullable=True),
        sa.Column("sales_order_id", sa.BigInteger(), nullable=True),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("result", sa.String(length=8), nullable=False),
        sa.Column("error_class", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "direction IN ('push', 'pull')", name=op.f("ck_sync_log_direction")
        ),
        sa.CheckConstraint(
            "result IN ('ok', 'skipped', 'failed')", name=op.f("ck_sync_log_result")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_sync_log_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_sync_log_listing_id_listings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sales_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_sync_log_sales_order_id_sales_orders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_log")),
    )
    op.create_index(
        "ix_sync_log_account_at", "sync_log", ["account_id", "at"], unique=False
    )
    op.create_table(
        "order_items",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("sales_order_id", sa.BigInteger(), nullable=False),
        sa.Column("sku_id", sa.BigInteger(), nullable=True),
        sa.Column("variation_id", sa.BigInteger(), nullable=True),
        sa.Column("listing_id", sa.BigInteger(), nullable=True),
        sa.Column("unknown_sku", sa.String(length=100), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("external_orderline_id", sa.BigInteger(), nullable=True),
        sa.Column("external_state", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "quantity > 0", name=op.f("ck_order_items_quantity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_order_items_listing_id_listings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sales_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_order_items_sales_order_id_sales_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"],
            ["skus.id"],
            name=op.f("fk_order_items_sku_id_skus"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["variation_id"],
            ["product_variations.id"],
            name=op.f("fk_order_items_variation_id_product_variations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_items")),
        sa.UniqueConstraint(
            "external_orderline_id", name=op.f("uq_order_items_external_orderline_id")
        ),
    )
    op.create_index(
        op.f("ix_order_items_sales_order_id"),
        "order_items",
        ["sales_order_id"],
        unique=False,
    )
    op.create_index(
        "ix_order_items_variation_id", "order_items", ["variation_id"], unique=False
    )
    op.create_table(
        "commits",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("inventory_item_id", sa.BigInteger(), nullable=False),
        sa.Column("order_item_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["inventory_item_id"],
            ["inventory_items.id"],
            name=op.f("fk_commits_inventory_item_id_inventory_items"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_item_id"],
            ["order_items.id"],
            name=op.f("fk_commits_order_item_id_order_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commits")),
    )
    op.create_index(
        "ix_commits_open_order_item",
        "commits",
        ["order_item_id"],
        unique=False,
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_index(
        "uq_commits_open_inventory_item",
        "commits",
        ["inventory_item_id"],
        unique=True,
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_table(
        "rmas",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("care_folder_id", sa.BigInteger(), nullable=False),
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("sales_order_id", sa.BigInteger(), nullable=True),
        sa.Column("order_item_id", sa.BigInteger(), nullable=True),
        sa.Column("inventory_item_id", sa.BigInteger(), nullable=True),
        sa.Column("label_state", sa.String(length=20), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_rmas_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["inventory_item_id"],
            ["inventory_items.id"],
            name=op.f("fk_rmas_inventory_item_id_inventory_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_item_id"],
            ["order_items.id"],
            name=op.f("fk_rmas_order_item_id_order_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sales_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_rmas_sales_order_id_sales_orders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rmas")),
        sa.UniqueConstraint(
            "account_id", "claim_id", name=op.f("uq_rmas_account_id_claim_id")
        ),
    )

    _seed()


def _seed() -> None:
    statuses = sa.table("inventory_statuses", sa.column("name", sa.String))
    op.bulk_insert(statuses, [{"name": name} for name in INVENTORY_STATUSES])
    order_statuses = sa.table(
        "sales_order_statuses",
        sa.column("name", sa.String),
        sa.column("counts_as_open", sa.Boolean),
    )
    op.bulk_insert(
        order_statuses,
        [{"name": n, "counts_as_open": o} for n, o in SALES_ORDER_STATUSES],
    )
    warehouses = sa.table("warehouses", sa.column("name", sa.String))
    op.bulk_insert(warehouses, [{"name": name} for name in WAREHOUSES])


def downgrade() -> None:
    op.drop_table("rmas")
    op.drop_table("commits")
    op.drop_table("order_items")
    op.drop_table("sync_log")
    op.drop_table("skus")
    op.drop_table("shipments")
    op.drop_table("listing_variations")
    op.drop_table("inventory_items")
    op.drop_table("sync_checkpoints")
    op.drop_table("sales_orders")
    op.drop_table("product_variations")
    op.drop_table("listings")
    op.drop_table("account_status_map")
    op.drop_table("account_counted_warehouses")
    op.drop_table("account_counted_statuses")
    op.drop_table("warehouses")
    op.drop_table("sales_order_statuses")
    op.drop_table("products")
    op.drop_table("inventory_statuses")
    op.drop_table("customers")
