"""Request and response bodies of the HTTP API.

Requests forbid unknown fields, so a typo in a field name is a 422 naming it rather
than a value silently ignored.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    field_validator,
    model_validator,
)

from api.summary import OrderSummary
from domain.imei import parse_imei, parse_serial
from domain.inventory import (
    DEFAULT_STATUS,
    DEFAULT_WAREHOUSE,
    MAX_COST,
    checked_cost,
    checked_received_date,
)
from domain.orders import AddShipmentInput, CommitInventoryInput, OrderState
from domain.text import TextInput


class CommitRequest(CommitInventoryInput):
    """A device, by IMEI or serial number, for one orderline of the order."""

    model_config = ConfigDict(extra="forbid")

    # Strict, so JSON `true` is not orderline 1 nor "7" orderline 7; an id is
    # positive and fits Postgres's bigint, so a bad one is a 422 rather than a
    # refusal from the order's workflow.
    orderline_id: StrictInt = Field(gt=0, le=2**63 - 1)


class ShipmentRequest(AddShipmentInput):
    """A tracking number for the order, e.g. from a shipping tool."""

    model_config = ConfigDict(extra="forbid")


class StockRequest(TextInput):
    """One device to put in stock: by SKU, or by the variation's attributes."""

    model_config = ConfigDict(extra="forbid")

    imei: str | None = None
    serial: str | None = Field(default=None, max_length=50)
    sku: str | None = Field(default=None, max_length=100)
    manufacturer: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=200)
    grade: str = Field(default="", max_length=40)
    condition: str = Field(default="", max_length=40)
    storage: str = Field(default="", max_length=40)
    colour: str = Field(default="", max_length=40)
    network: str = Field(default="", max_length=40)
    status: str = Field(default=DEFAULT_STATUS, min_length=1, max_length=100)
    warehouse: str = Field(default=DEFAULT_WAREHOUSE, min_length=1, max_length=100)
    cost: Annotated[Decimal, AfterValidator(checked_cost)] | None = Field(
        default=None, description=f"from 0 to {MAX_COST}, at most 2 decimal places"
    )
    received_date: Annotated[date, AfterValidator(checked_received_date)] | None = None
    account: str | None = Field(
        default=None, description="Resolve the SKU as this account's own code."
    )

    @field_validator("imei")
    @classmethod
    def _valid_imei(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return parse_imei(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("serial")
    @classmethod
    def _valid_serial(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return parse_serial(value)

    @field_validator("sku", "manufacturer", "model")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else value.strip()

    @model_validator(mode="after")
    def _identified_and_described(self) -> "StockRequest":
        if self.imei is None and self.serial is None:
            raise ValueError("give imei or serial")
        if self.sku is None and (self.manufacturer is None or self.model is None):
            raise ValueError("give sku, or manufacturer and model")
        return self


class StockItem(BaseModel):
    """A device as stored."""

    id: int
    imei: str | None
    serial: str | None
    variation_id: int
    manufacturer: str
    model: str
    grade: str
    condition: str
    storage: str
    colour: str
    network: str
    status: str
    warehouse: str | None
    cost: Decimal | None
    received_date: date | None
    created_at: datetime


class StockCreated(StockItem):
    # Whether the quantity sync was told; when not, the periodic reconcile still
    # picks the device up.
    quantity_sync_notified: bool


class OrderView(BaseModel):
    """An order as we store it and as its workflow sees it; either may be missing."""

    account: str
    order_id: int
    workflow_id: str
    sales_order: OrderSummary | None
    workflow: OrderState | None
