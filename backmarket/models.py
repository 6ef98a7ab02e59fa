"""What Back Market sends and accepts, as tolerant pydantic models.

Back Market adds fields, states and grades without notice, so models ignore unknown
fields and keep enum-like values as plain ints and strings; the enums below only name
the values we know (`known(OrderState, order.state)` is None for a new one). Money is
`Decimal`, timestamps are aware datetimes (a zone-less one is taken as UTC), and an
empty date is None.

Addresses, customer names and messages are personal data: they are left out of every
`repr` and `str`, so logging a model never prints them.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum, IntEnum, StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_serializer,
)

E = TypeVar("E", bound=Enum)
T = TypeVar("T")


def known(enum: type[E], value: object) -> E | None:
    """The member for `value`, or None for a value Back Market added since."""
    try:
        return enum(value)
    except ValueError:
        return None


# --- value parsing --------------------------------------------------------------------


def _parse_money(value: object) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # Through repr so 160.99 stays 160.99 rather than its binary expansion.
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError("not a decimal amount") from None
        if not amount.is_finite():
            raise ValueError("not a finite amount")
        return amount
    raise ValueError("not an amount")


_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


def _parse_timestamp(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            # Out of range raises OverflowError or OSError, which pydantic would let
            # escape instead of reporting the field.
            raise ValueError("not a timestamp in range") from None
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        # fromisoformat takes at most microseconds; some services send nanoseconds.
        text = _LONG_FRACTION.sub(r"\1", text)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("not an RFC 3339 timestamp") from None
    else:
        raise ValueError("not a timestamp")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _to_text(value: object) -> object:
    # Ids and postal codes sometimes come as numbers; keep them as text.
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


def _empty_to_none(value: object) -> object:
    if value in ("", [], {}):
        return None
    return value


Money = Annotated[Decimal | None, BeforeValidator(_parse_money)]
Timestamp = Annotated[datetime | None, BeforeValidator(_parse_timestamp)]
Text = Annotated[str | None, BeforeValidator(_to_text)]
StrId = Annotated[str, BeforeValidator(_to_text)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# --- enums: names for the values we know ----------------------------------------------


class PublicationState(IntEnum):
    MISSING_PRICE_OR_COMMENT = 0
    PENDING_VALIDATION = 1
    ONLINE = 2
    OFFLINE = 3
    DEACTIVATED = 4


class Grade(StrEnum):
    PREMIUM = "PREMIUM"
    EXCELLENT = "EXCELLENT"
    VERY_GOOD = "VERY_GOOD"
    GOOD = "GOOD"
    FAIR = "FAIR"
    STALLONE = "STALLONE"


class LegacyGrade(IntEnum):
    """The listing's legacy `state` grade."""

    PREMIUM = 9
    EXCELLENT = 0
    VERY_GOOD = 1
    GOOD = 2
    FAIR = 3
    STALLONE = 4


class OrderState(IntEnum):
    NEW = 0
    NOT_PAID = 10
    TO_ACCEPT = 1
    TO_SHIP = 3
    PAYMENT_FAILED = 8
    SHIPPED = 9


class OrderlineState(IntEnum):
    NEW = 0
    ON_HOLD = 9
    AWAITING_PAYMENT = 8
    TO_ACCEPT = 1
    ACCEPTED = 2
    SHIPPED = 3
    CANCELLED = 4
    REFUNDED_BEFORE_SHIPPING = 5
    REFUNDED_AFTER_SHIPPING = 6
    PAYMENT_REFUSED = 7


class Condition(IntEnum):
    """An orderline's `condition`."""

    PREMIUM = 9
    EXCELLENT = 10
    GOOD = 11
    FAIR = 12


class ReturnReason(IntEnum):
    STOCK_MISTAKE = 0
    WITHDRAWAL = 1
    CUSTOMER_ABSENT = 11
    PARCEL_NOT_ARRIVED = 12
    PARCEL_LOST = 13
    FAULTY_ON_OPENING = 21
    FAILED_AT_FIRST_USE = 22
    FAILED_IN_WARRANTY = 23
    NOT_AS_DESCRIBED = 24
    OTHER = 25


class CareState(IntEnum):
    """State of a care folder or of one of its claims."""

    OPEN = 0
    CLOSED = 9


class ResolutionChoice(StrEnum):
    REMOTE_ASSISTANCE = "REMOTE_ASSISTANCE"
    REPAIR = "REPAIR"
    REPLACE = "REPLACE"
    REPAIR_REPLACE = "REPAIR_REPLACE"
    REFUND = "REFUND"


class ReturnLabelState(StrEnum):
    ALIVE = "ALIVE"
    USED = "USED"
    EXPIRED = "EXPIRED"


class ReturnLabelKind(StrEnum):
    UNSET = "UNSET"
    CUSTOMER_TO_MERCHANT = "CUSTOMER_TO_MERCHANT"
    MERCHANT_TO_CUSTOMER = "MERCHANT_TO_CUSTOMER"


class TaskStatus(IntEnum):
    TO_DO = 0
    RUNNING = 2
    FAILED = 8
    DONE = 9


# --- paging ---------------------------------------------------------------------------


class Page(_Model, Generic[T]):
    """One page of a list endpoint."""

    count: int | None = None
    next: str | None = None
    previous: str | None = None
    results: list[T] = Field(default_factory=list)


# --- listings -------------------------------------------------------------------------


class Listing(_Model):
    id: StrId
    listing_id: int | None = None
    product_id: Text = None
    backmarket_id: int | None = None
    title: Text = None
    sku: StrId
    quantity: int
    price: Money = None
    currency: Text = None
    min_price: Money = None
    max_price: Money = None
    publication_state: int | None = None
    state: int | None = None
    grade: Text = None
    warranty_delay: int | None = None
    comment: Text = Field(default=None, repr=False)
    new_battery: bool | None = None
    shippings: list[dict[str, Any]] = Field(default_factory=list, repr=False)


class ListingUpdate(BaseModel):
    """A partial listing update: only the fields set are sent."""

    # Our own input, so a misspelt field is a bug to surface, not to ignore.
    model_config = ConfigDict(extra="forbid")

    quantity: int | None = Field(default=None, ge=0)
    price: Decimal | None = Field(default=None, gt=0)
    currency: str | None = None
    min_price: Decimal | None = Field(default=None, ge=0)
    comment: str | None = Field(default=None, max_length=500)
    warranty_delay: int | None = Field(default=None, ge=12)
    shipper_1: str | None = None
    shipper_display_1: str | None = None
    shipping_delay_1: Decimal | None = Field(default=None, ge=0)
    shipping_price_1: Decimal | None = Field(default=None, ge=0)
    shipper_2: str | None = None
    shipper_display_2: str | None = None
    shipping_delay_2: Decimal | None = Field(default=None, ge=0)
    shipping_price_2: Decimal | None = Field(default=None, ge=0)
    shipper_3: str | None = None
    shipper_display_3: str | None = None
    shipping_delay_3: Decimal | None = Field(default=None, ge=0)
    shipping_price_3: Decimal | None = Field(default=None, ge=0)

    @field_serializer(
        "price",
        "min_price",
        "shipping_price_1",
        "shipping_price_2",
        "shipping_price_3",
        "shipping_delay_1",
        "shipping_delay_2",
        "shipping_delay_3",
    )
    def _decimal_as_string(self, value: Decimal | None) -> str | None:
        # Back Market takes amounts as strings; "f" avoids exponents like "1E+2".
        return None if value is None else format(value, "f")

    def to_body(self) -> dict[str, Any]:
        """The JSON body: the fields set by the caller, amounts as strings."""
        return self.model_dump(exclude_unset=True)


# --- orders ---------------------------------------------------------------------------


class Address(_Model):
    """A postal address; everything but the country is personal data."""

    company: Text = Field(default=None, repr=False)
    first_name: Text = Field(default=None, repr=False)
    last_name: Text = Field(default=None, repr=False)
    gender: Text = Field(default=None, repr=False)
    street: Text = Field(default=None, repr=False)
    street2: Text = Field(default=None, repr=False)
    postal_code: Text = Field(default=None, repr=False)
    city: Text = Field(default=None, repr=False)
    country: Text = None
    phone: Text = Field(default=None, repr=False)
    email: Text = Field(default=None, repr=False)
    customer_id_number: Text = Field(default=None, repr=False)


OptionalAddress = Annotated[Address | None, BeforeValidator(_empty_to_none)]


class Orderline(_Model):
    id: int
    date_creation: Timestamp = None
    state: int
    listing: Text = None
    listing_id: int | None = None
    product: Text = None
    product_id: Text = None
    brand: Text = None
    quantity: int = 1
    price: Money = None
    shipping_price: Money = None
    shipping_delay: Money = None
    currency: Text = None
    orderline_fee: Money = None
    sales_taxes: Money = None
    backcare: bool | None = None
    backcare_price: Money = None
    imei: Text = None
    serial_number: Text = None
    condition: int | None = None
    return_reason: int | None = None
    return_message: Text = Field(default=None, repr=False)

    @property
    def sku(self) -> str | None:
        """The merchant SKU, which Back Market calls the orderline's `listing`."""
        return self.listing


class Order(_Model):
    order_id: int
    state: int
    date_creation: Timestamp = None
    date_modification: Timestamp = None
    date_payment: Timestamp = None
    date_shipping: Timestamp = None
    expected_dispatch_date: Timestamp = None
    shipping_address: OptionalAddress = None
    billing_address: OptionalAddress = None
    delivery_note: Text = Field(default=None, repr=False)
    tracking_number: Text = None
    tracking_url: Text = None
    shipper: Text = None
    shipper_display: Text = None
    is_backship: bool | None = None
    price: Money = None
    shipping_price: Money = None
    currency: Text = None
    country_code: Text = None
    sales_taxes: Money = None
    payment_method: Text = None
    installment_payment: Any = None
    orderlines: list[Orderline] = Field(default_factory=list)

    def line_for_sku(self, sku: str) -> Orderline | None:
        """The orderline for `sku`, compared case-insensitively as Back Market does."""
        wanted = sku.casefold()
        for line in self.orderlines:
            if line.listing is not None and line.listing.casefold() == wanted:
                return line
        return None

    @property
    def is_single_device(self) -> bool:
        """One line of quantity 1: the only case where `ship` may carry an IMEI."""
        return len(self.orderlines) == 1 and self.orderlines[0].quantity == 1


class OrderlineIdentifiers(_Model):
    """What `PATCH /ws/orderlines/{id}` echoes back."""

    imei: Text = None
    serial_number: Text = None


# --- customer care --------------------------------------------------------------------


def _id_of(value: object) -> object:
    # The list endpoint gives the orderline as an id; accept an object with one too.
    if isinstance(value, dict):
        return value.get("id")
    return value


class CareFolderSummary(_Model):
    """An item of `GET /ws/sav`."""

    id: int
    orderline: Annotated[int | None, BeforeValidator(_id_of)] = None
    date_creation: Timestamp = None
    date_modification: Timestamp = None
    date_last_message: Timestamp = None
    date_closed: Timestamp = None
    state: int
    lines: Any = Field(default=None, repr=False)
    country_code: Text = None
    backcare: Any = None


class CareClient(_Model):
    first_name: Text = Field(default=None, repr=False)
    last_name: Text = Field(default=None, repr=False)
    email: Text = Field(default=None, repr=False)


class CareProduct(_Model):
    product_id: Text = None


class CareSnapshot(_Model):
    """The listing as it was when the customer ordered."""

    listing: Text = None
    sku: Text = None
    product: CareProduct | None = None


class CareOrder(_Model):
    order_id: int | None = None
    state: int | None = None
    tracking_number: Text = None


class CareOrderline(_Model):
    id: int
    quantity: int | None = None
    price: Money = None
    state: int | None = None
    order: CareOrder | None = None
    snapshot: CareSnapshot | None = None


class ReturnLabel(_Model):
    date_creation: Timestamp = None
    state: Text = None
    label: Text = Field(default=None, repr=False)
    initiator: Text = None
    kind: Text = None


class ClaimIssue(_Model):
    customer_issue: Any = Field(default=None, alias="customerIssue")
    tag: Any = None


class Claim(_Model):
    id: int
    state: int
    issues: list[ClaimIssue] = Field(default_factory=list)
    resolution_choice: Text = None
    declared_warranty_state: Any = None
    return_labels: list[ReturnLabel] = Field(default_factory=list)

    @property
    def has_customer_return_label(self) -> bool:
        """A label for the customer to send the device back has been issued."""
        return any(
            label.kind == ReturnLabelKind.CUSTOMER_TO_MERCHANT
            for label in self.return_labels
        )


class CareFolder(_Model):
    """`GET /ws/sav/{id}`: one care folder with its claims and messages."""

    id: int
    state: int | None = None
    date_creation: Timestamp = None
    date_modification: Timestamp = None
    date_last_message: Timestamp = None
    date_closed: Timestamp = None
    country_code: Text = None
    client: CareClient | None = Field(default=None, repr=False)
    orderline: CareOrderline | None = None
    lines: list[Claim] = Field(default_factory=list)
    messages: list[dict[str, Any]] = Field(default_factory=list, repr=False)

    @property
    def return_requested(self) -> bool:
        """A claim carries a customer-to-merchant label, which is what makes an RMA.

        The contract names no explicit "return requested" field, so the label is the
        signal.
        """
        return any(claim.has_customer_return_label for claim in self.lines)


# --- BackBox --------------------------------------------------------------------------


class Price(_Model):
    amount: Annotated[Decimal, BeforeValidator(_parse_money)]
    currency: Text = None


def _price_or_none(value: object) -> object:
    if value in ("", {}):
        return None
    if isinstance(value, str | int | float | Decimal) and not isinstance(value, bool):
        return {"amount": value}
    return value


OptionalPrice = Annotated[Price | None, BeforeValidator(_price_or_none)]


class CompetitorEntry(_Model):
    """One market's BackBox standing for a listing."""

    listing_id: Text = None
    product_id: Text = None
    market: Text = None
    price: OptionalPrice = None
    min_price: OptionalPrice = None
    price_to_win: OptionalPrice = None
    winner_price: OptionalPrice = None
    is_winning: bool | None = None


# --- bulk tasks -----------------------------------------------------------------------


class Task(_Model):
    task_id: StrId
    action_status: int
    last_action_error: Any = None
    result: Any = Field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        """Done or failed: polling again will not change it."""
        return self.action_status in (TaskStatus.DONE, TaskStatus.FAILED)

    @property
    def succeeded(self) -> bool:
        return self.action_status == TaskStatus.DONE

    @property
    def failed(self) -> bool:
        return self.action_status == TaskStatus.FAILED
