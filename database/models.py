"""Tables. Every change here comes with a migration under `migrations/versions/`."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    func,
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

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    platform: Mapped[str] = mapped_column(String(8))
    preprod: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set only to talk to something other than Back Market's own hosts: the sandbox.
    base_url: Mapped[str | None] = mapped_column(String(500))
    locale: Mapped[str] = mapped_column(String(10))
    # Where the token is, never the token in the clear: "env:NAME" or "enc:<ciphertext>".
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
