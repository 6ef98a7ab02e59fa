"""Tables. Every change here comes with a migration under `migrations/versions/`."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Platform(StrEnum):
    EU = "eu"
    US = "us"
    AP = "ap"


class OrganizationType(StrEnum):
    """Who an imported sales order's customer is."""

    SHIPPING_NAME = "shipping_name"
    CHANNEL_NAME = "channel_name"


class ListingImportScope(StrEnum):
    ONLINE = "online"
    ALL = "all"


class Account(Base):
    """A Back Market merchant account the engine syncs with."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("platform IN ('eu', 'us', 'ap')", name="platform"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    platform: Mapped[str] = mapped_column(String(8))
    preprod: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set only to talk to something other than Back Market's own hosts: the sandbox.
    base_url: Mapped[str | None] = mapped_column(String(500))
    locale: Mapped[str] = mapped_column(String(10))
    # Where the token is, never the token itself: "env:NAME" or "enc:<ciphertext>".
    token_ref: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    settings: Mapped["AccountSettings"] = relationship(
        back_populates="account", uselist=False, cascade="all, delete-orphan"
    )


class AccountSettings(Base):
    """What an account's syncs do; read at the start of every run."""

    __tablename__ = "account_settings"
    __table_args__ = (
        CheckConstraint(
            "listing_import_scope IN ('online', 'all')", name="listing_import_scope"
        ),
        CheckConstraint(
            "organization_type IN ('shipping_name', 'channel_name')",
            name="organization_type",
        ),
        CheckConstraint("safety_buffer >= 0", name="safety_buffer"),
    )

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    order_import: Mapped[bool] = mapped_column(Boolean, default=True)
    auto_validate: Mapped[bool] = mapped_column(Boolean, default=False)
    listing_import: Mapped[bool] = mapped_column(Boolean, default=True)
    listing_import_scope: Mapped[str] = mapped_column(
        String(10), default=ListingImportScope.ALL.value
    )
    auto_import_new_listings: Mapped[bool] = mapped_column(Boolean, default=True)
    rma_import: Mapped[bool] = mapped_column(Boolean, default=True)
    organization_type: Mapped[str] = mapped_column(
        String(20), default=OrganizationType.CHANNEL_NAME.value
    )
    quantity_sync: Mapped[bool] = mapped_column(Boolean, default=False)
    backpricer: Mapped[bool] = mapped_column(Boolean, default=False)
    imei_sync: Mapped[bool] = mapped_column(Boolean, default=True)
    safety_buffer: Mapped[int] = mapped_column(Integer, default=0)
    overwrite_foreign_writes: Mapped[bool] = mapped_column(Boolean, default=False)
    order_import_interval_s: Mapped[int] = mapped_column(Integer, default=30)
    listing_import_interval_s: Mapped[int] = mapped_column(Integer, default=900)
    quantity_reconcile_interval_s: Mapped[int] = mapped_column(Integer, default=600)
    rma_import_interval_s: Mapped[int] = mapped_column(Integer, default=900)
    pricing_interval_s: Mapped[int] = mapped_column(Integer, default=3600)

    account: Mapped[Account] = relationship(back_populates="settings")


# --- Inventory side -----------------------------------------------------------------
#
# Names that operators type (warehouses, statuses, catalog values) are unique
# case-insensitively, through indexes on lower(...), because a CSV saying "main" means
# the warehouse "Main", never a second one.


class BackMarketPhase(StrEnum):
    """The meaningful stages of a Back Market order, as mapped to our order statuses."""

    NEW = "new"
    PAID = "paid"
    VALIDATED = "validated"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class MappingMode(StrEnum):
    """How a listing finds its inventory: its SKU, or variations chosen by hand."""

    SKU = "sku"
    VARIATIONS = "variations"


class SyncDirection(StrEnum):
    PUSH = "push"
    PULL = "pull"


class SyncResult(StrEnum):
    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


def _now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Warehouse(Base):
    __tablename__ = "warehouses"
    __table_args__ = (
        Index("uq_warehouses_name", func.lower(text("name")), unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class InventoryStatus(Base):
    __tablename__ = "inventory_statuses"
    __table_args__ = (
        Index("uq_inventory_statuses_name", func.lower(text("name")), unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class SalesOrderStatus(Base):
    __tablename__ = "sales_order_statuses"
    __table_args__ = (
        Index("uq_sales_order_statuses_name", func.lower(text("name")), unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Units on orders in these statuses are "outstanding": sold but not yet committed.
    counts_as_open: Mapped[bool] = mapped_column(Boolean)


class AccountCountedStatus(Base):
    """An inventory status whose items count as available for an account's listings."""

    __tablename__ = "account_counted_statuses"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    inventory_status_id: Mapped[int] = mapped_column(
        ForeignKey("inventory_statuses.id", ondelete="CASCADE"), primary_key=True
    )


class AccountCountedWarehouse(Base):
    """A warehouse whose items count as available for an account's listings."""

    __tablename__ = "account_counted_warehouses"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    warehouse_id: Mapped[int] = mapped_column(
        ForeignKey("warehouses.id", ondelete="CASCADE"), primary_key=True
    )


class AccountStatusMap(Base):
    """Which of our sales order statuses a Back Market order phase puts an order in."""

    __tablename__ = "account_status_map"
    __table_args__ = (
        CheckConstraint(
            "phase IN ('new', 'paid', 'validated', 'shipped', 'cancelled', 'refunded')",
            name="phase",
        ),
    )

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    phase: Mapped[str] = mapped_column(String(20), primary_key=True)
    sales_order_status_id: Mapped[int] = mapped_column(
        ForeignKey("sales_order_statuses.id", ondelete="RESTRICT")
    )


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        Index(
            "uq_products_manufacturer_model",
            func.lower(text("manufacturer")),
            func.lower(text("model")),
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    manufacturer: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(200))

    variations: Mapped[list["ProductVariation"]] = relationship(
        back_populates="product"
    )


class ProductVariation(Base):
    """One sellable kind of device: a product in a grade, condition, storage, colour."""

    __tablename__ = "product_variations"
    __table_args__ = (
        Index(
            "uq_product_variations_attributes",
            "product_id",
            func.lower(text("grade")),
            func.lower(text("condition")),
            func.lower(text("storage")),
            func.lower(text("colour")),
            func.lower(text("network")),
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT")
    )
    # Empty string, not NULL, for "not applicable", so the unique index sees it.
    grade: Mapped[str] = mapped_column(String(40), server_default="")
    condition: Mapped[str] = mapped_column(String(40), server_default="")
    storage: Mapped[str] = mapped_column(String(40), server_default="")
    colour: Mapped[str] = mapped_column(String(40), server_default="")
    network: Mapped[str] = mapped_column(String(40), server_default="")

    product: Mapped[Product] = relationship(back_populates="variations")
    skus: Mapped[list["Sku"]] = relationship(back_populates="variation")


class Sku(Base):
    """A SKU code naming one variation; a variation may have several.

    `account_id` NULL means the code holds for every account. A code is unique
    case-insensitively among the global codes and within each account; an account's
    own code shadows a global code spelled the same, so an account can rename what
    a code means without touching the others.
    """

    __tablename__ = "skus"
    __table_args__ = (
        Index(
            "uq_skus_global_code",
            func.lower(text("code")),
            unique=True,
            postgresql_where=text("account_id IS NULL"),
        ),
        Index(
            "uq_skus_account_code",
            "account_id",
            func.lower(text("code")),
            unique=True,
            postgresql_where=text("account_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(100))
    variation_id: Mapped[int] = mapped_column(
        ForeignKey("product_variations.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE")
    )

    variation: Mapped[ProductVariation] = relationship(back_populates="skus")


class InventoryItem(Base):
    """One physical device in stock."""

    __tablename__ = "inventory_items"
    __table_args__ = (
        CheckConstraint("imei ~ '^[0-9]{15}$'", name="imei_digits"),
        # The quantity query groups counted items by variation.
        Index(
            "ix_inventory_items_variation_status_warehouse",
            "variation_id",
            "status_id",
            "warehouse_id",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    imei: Mapped[str | None] = mapped_column(String(15), unique=True)
    # A device without an IMEI is known by its serial alone, so one serial is one
    # device.
    serial: Mapped[str | None] = mapped_column(String(50), unique=True)
    variation_id: Mapped[int] = mapped_column(
        ForeignKey("product_variations.id", ondelete="RESTRICT")
    )
    status_id: Mapped[int] = mapped_column(
        ForeignKey("inventory_statuses.id", ondelete="RESTRICT")
    )
    # An item without a warehouse never counts as available.
    warehouse_id: Mapped[int | None] = mapped_column(
        ForeignKey("warehouses.id", ondelete="RESTRICT")
    )
    cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    received_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = _now_column()


class SalesOrder(Base):
    __tablename__ = "sales_orders"
    __table_args__ = (
        UniqueConstraint("account_id", "external_order_id"),
        Index("ix_sales_orders_status_id", "status_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The sales channel's name exactly as shipping tools expect it, e.g. "Backmarket".
    channel: Mapped[str] = mapped_column(String(100))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="RESTRICT")
    )
    external_order_id: Mapped[int | None] = mapped_column(BigInteger)
    status_id: Mapped[int] = mapped_column(
        ForeignKey("sales_order_statuses.id", ondelete="RESTRICT")
    )
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    backmarket_state: Mapped[int | None] = mapped_column(Integer)
    # Back Market's view of the order as its workflow last received it from the
    # import; an import that stored a newer view but died before telling the
    # workflow finds the two apart and tells it.
    dispatched: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()

    items: Mapped[list["OrderItem"]] = relationship(back_populates="sales_order")


class OrderItem(Base):
    """A line of a sales order.

    It names what was sold by SKU or variation; when Back Market sent a SKU we do not
    know, `unknown_sku` keeps it until someone fixes the item by hand, and `listing_id`
    (the listing it was sold through) still lets the sale count against that listing.
    """

    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_order_items_variation_id", "variation_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sales_order_id: Mapped[int] = mapped_column(
        ForeignKey("sales_orders.id", ondelete="CASCADE"), index=True
    )
    sku_id: Mapped[int | None] = mapped_column(
        ForeignKey("skus.id", ondelete="SET NULL")
    )
    variation_id: Mapped[int | None] = mapped_column(
        ForeignKey("product_variations.id", ondelete="RESTRICT")
    )
    listing_id: Mapped[int | None] = mapped_column(
        ForeignKey("listings.id", ondelete="SET NULL")
    )
    unknown_sku: Mapped[str | None] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    external_orderline_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    external_state: Mapped[int | None] = mapped_column(Integer)

    sales_order: Mapped[SalesOrder] = relationship(back_populates="items")


class Commit(Base):
    """An inventory item set aside for an order item; released when undone."""

    __tablename__ = "commits"
    __table_args__ = (
        # A device fulfils at most one order item at a time.
        Index(
            "uq_commits_open_inventory_item",
            "inventory_item_id",
            unique=True,
            postgresql_where=text("released_at IS NULL"),
        ),
        Index(
            "ix_commits_open_order_item",
            "order_item_id",
            postgresql_where=text("released_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    inventory_item_id: Mapped[int] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="RESTRICT")
    )
    order_item_id: Mapped[int] = mapped_column(
        ForeignKey("order_items.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = _now_column()
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("sales_order_id", "tracking_number"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sales_order_id: Mapped[int] = mapped_column(
        ForeignKey("sales_orders.id", ondelete="CASCADE")
    )
    tracking_number: Mapped[str] = mapped_column(String(100))
    carrier: Mapped[str | None] = mapped_column(String(100))
    url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = _now_column()
    # Set once Back Market has it; a shipment added before validation waits unsent.
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Rma(Base):
    """A return: a care-folder claim with a customer-to-merchant return label."""

    __tablename__ = "rmas"
    __table_args__ = (UniqueConstraint("account_id", "claim_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="RESTRICT")
    )
    care_folder_id: Mapped[int] = mapped_column(BigInteger)
    claim_id: Mapped[int] = mapped_column(BigInteger)
    sales_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_orders.id", ondelete="SET NULL")
    )
    order_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_items.id", ondelete="SET NULL")
    )
    inventory_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="SET NULL")
    )
    label_state: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()
    # Back Market's ids and states of the claim, kept as last read.
    orderline_id: Mapped[int | None] = mapped_column(BigInteger)
    claim_state: Mapped[int | None] = mapped_column(Integer)
    resolution_choice: Mapped[str | None] = mapped_column(String(30))


class Listing(Base):
    """A Back Market listing as last imported, and what we last pushed to it.

    SKUs are unique per merchant on Back Market, but not here: an import sees a
    listing replaced by a new one with the same SKU before it sees the old one gone.
    """

    __tablename__ = "listings"
    __table_args__ = (
        UniqueConstraint("account_id", "backmarket_uuid"),
        CheckConstraint("mapping_mode IN ('sku', 'variations')", name="mapping_mode"),
        CheckConstraint("safety_buffer >= 0", name="safety_buffer"),
        Index("ix_listings_account_sku", "account_id", func.lower(text("sku"))),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE")
    )
    backmarket_uuid: Mapped[uuid.UUID] = mapped_column(Uuid)
    legacy_listing_id: Mapped[int | None] = mapped_column(BigInteger)
    product_id: Mapped[str | None] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(500))
    grade: Mapped[str | None] = mapped_column(String(20))
    quantity: Mapped[int | None] = mapped_column(Integer)
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    min_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    max_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    publication_state: Mapped[int | None] = mapped_column(Integer)
    last_pushed_quantity: Mapped[int | None] = mapped_column(Integer)
    last_pushed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A quantity sent to Back Market whose answer has not come back (yet): a write
    # may apply though its answer is lost, and must not then look like another
    # system's.
    push_intent_quantity: Mapped[int | None] = mapped_column(Integer)
    push_intent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    gone_from_backmarket: Mapped[bool] = mapped_column(Boolean, server_default="false")
    mapping_mode: Mapped[str] = mapped_column(
        String(12), server_default=MappingMode.SKU.value
    )
    # NULL: the account's safety buffer applies.
    safety_buffer: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()
    # When `quantity` was last read from (or written to) Back Market.
    quantity_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when Back Market held a quantity that neither our last push nor its own
    # orders explain: another system writes this listing.
    foreign_write_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    foreign_write_quantity: Mapped[int | None] = mapped_column(Integer)
    foreign_write_note: Mapped[str | None] = mapped_column(String(300))
    comment: Mapped[str | None] = mapped_column(String(500))
    # BackBox standing, as last read; NULL until the first read.
    price_to_win: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    winner_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    winning: Mapped[bool | None] = mapped_column(Boolean)
    backbox_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    backbox_note: Mapped[str | None] = mapped_column(String(200))


class ListingVariation(Base):
    """A variation chosen by hand for a listing in "variations" mapping mode."""

    __tablename__ = "listing_variations"

    listing_id: Mapped[int] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True
    )
    variation_id: Mapped[int] = mapped_column(
        ForeignKey("product_variations.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )


class SyncCheckpoint(Base):
    """How far a recurring pull got, e.g. the last order modification date seen."""

    __tablename__ = "sync_checkpoints"
    __table_args__ = (UniqueConstraint("account_id", "kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(40))
    value_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    value_text: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = _now_column()


class SyncLogEntry(Base):
    """One thing a sync pushed or pulled, and how it went; never a payload."""

    __tablename__ = "sync_log"
    __table_args__ = (
        CheckConstraint("direction IN ('push', 'pull')", name="direction"),
        CheckConstraint("result IN ('ok', 'skipped', 'failed')", name="result"),
        Index("ix_sync_log_account_at", "account_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = _now_column()
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(4))
    listing_id: Mapped[int | None] = mapped_column(
        ForeignKey("listings.id", ondelete="SET NULL")
    )
    sales_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_orders.id", ondelete="SET NULL")
    )
    # Back Market's id of the thing, e.g. an order id or a listing uuid.
    external_ref: Mapped[str | None] = mapped_column(String(100))
    result: Mapped[str] = mapped_column(String(8))
    error_class: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str | None] = mapped_column(String(500))
