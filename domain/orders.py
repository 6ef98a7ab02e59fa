"""Inputs, results and states of the order workflows.

Payloads carry ids, states and short notes: never customer names, addresses or whole
Back Market responses, so workflow history stays small and free of personal data.
"""

import hashlib
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from domain.imei import is_valid_imei
from domain.text import TextInput, plain_text, quoted

# Back Market orderline states (see the API contract).
LINE_NEW = 0
LINE_PAID = 1
LINE_ACCEPTED = 2
LINE_SHIPPED = 3
LINE_CANCELLED = 4
LINE_REFUNDED_BEFORE_SHIPPING = 5
LINE_REFUNDED_AFTER_SHIPPING = 6
LINE_PAYMENT_REFUSED = 7
LINE_AWAITING_PAYMENT = 8
LINE_ON_HOLD = 9

# Back Market order states.
ORDER_PAID = 1
ORDER_TO_SHIP = 3
ORDER_SHIPPED = 9

LINE_STATES_CLOSED = frozenset(
    {
        LINE_CANCELLED,
        LINE_REFUNDED_BEFORE_SHIPPING,
        LINE_REFUNDED_AFTER_SHIPPING,
        LINE_PAYMENT_REFUSED,
    }
)


def order_workflow_id(account_id: int, order_id: int) -> str:
    """The one workflow id an order ever has, whoever starts it."""
    return f"order-{account_id}-{order_id}"


class OrderPhase(StrEnum):
    IMPORTED = "imported"
    VALIDATED = "validated"
    WAITING_FOR_COMMIT = "waiting_for_commit"
    COMMITTED = "committed"
    IMEI_SENT = "imei_sent"
    WAITING_FOR_SHIPMENT = "waiting_for_shipment"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class LineObserved(BaseModel):
    """One orderline as Back Market last showed it."""

    orderline_id: int
    state: int
    sku: str
    quantity: int = 1
    unknown_sku: bool = False


class OrderObserved(BaseModel):
    """What an import saw of an order: states only, keyed by Back Market ids."""

    order_id: int
    state: int
    date_modification: datetime | None = None
    lines: list[LineObserved]
    shipped_tracking: bool = False


class OrderRef(BaseModel):
    account_id: int
    order_id: int


class OrderWorkflowInput(BaseModel):
    account_id: int
    order_id: int


class OrderSettings(BaseModel):
    """The account settings an order workflow acts on, read at each decision."""

    auto_validate: bool
    imei_sync: bool


class CommittedItem(BaseModel):
    inventory_item_id: int
    imei: str | None = None
    serial: str | None = None
    fulfils_line: bool = True


class LineStatus(BaseModel):
    orderline_id: int
    sku: str
    quantity: int
    backmarket_state: int
    validated: bool = False
    unknown_sku: bool = False
    commits: list[CommittedItem] = Field(default_factory=list)
    imei_sent: bool = False
    imei_note: str | None = None
    # Why Back Market refused to accept the line, or to take its IMEI; the write is
    # not repeated by itself (an operator's validate asks again).
    accept_refusal: str | None = None
    imei_refusal: str | None = None

    @property
    def closed(self) -> bool:
        return self.backmarket_state in LINE_STATES_CLOSED

    @property
    def fully_committed(self) -> bool:
        return len(self.commits) >= self.quantity


class ShipmentStatus(BaseModel):
    tracking_number: str
    carrier: str | None = None
    url: str | None = None
    sent: bool = False
    # Why Back Market refused the shipment; a new shipment replaces this one.
    refusal: str | None = None


class OrderState(BaseModel):
    """The answer to the order workflow's state query."""

    account_id: int
    order_id: int
    phase: OrderPhase
    lines: list[LineStatus]
    shipment: ShipmentStatus | None = None
    notes: list[str] = Field(default_factory=list)


class ValidateOrderInput(TextInput):
    """Accept lines on Back Market; every paid line when none are named."""

    orderline_ids: list[int] | None = None
    # The workflow answers a request under this id, and acts on an id once: a caller
    # that repeats a request with its id is not served twice, and one that sends a
    # different request under a used id is refused. The client sets one when the
    # caller does not.
    request_id: str | None = Field(default=None, min_length=1, max_length=100)


class ValidateOrderResult(BaseModel):
    accepted: list[int]
    skipped: list[int]
    # Why Back Market refused lines it was asked to accept.
    refusals: list[str] = Field(default_factory=list)


class CommitInventoryInput(TextInput):
    """Commit one device, by IMEI or serial number, to one orderline."""

    orderline_id: int
    identifier: str = Field(min_length=1, max_length=50)
    allow_mismatch: bool = Field(
        default=False,
        description="Record a device that does not fulfil the line; no IMEI is sent.",
    )
    request_id: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("identifier")
    @classmethod
    def _identifier_is_usable(cls, value: str) -> str:
        cleaned = plain_text(value, "the identifier")
        if cleaned.isdigit() and len(cleaned) in (14, 15, 16):
            if not is_valid_imei(cleaned):
                raise ValueError(
                    f"{quoted(cleaned)} is not a valid IMEI (15 digits with a Luhn "
                    "check digit)"
                )
        return cleaned


class CommitInventoryResult(BaseModel):
    orderline_id: int
    inventory_item_id: int
    fulfils_line: bool
    imei_will_sync: bool
    note: str


class AddShipmentInput(TextInput):
    # Lengths as the shipments table stores them: Back Market documents no limit.
    tracking_number: str = Field(min_length=1, max_length=100)
    carrier: str | None = Field(default=None, max_length=100)
    url: str | None = Field(default=None, max_length=500)
    request_id: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("tracking_number")
    @classmethod
    def _tracking_is_usable(cls, value: str) -> str:
        return checked_tracking_number(value)

    @field_validator("carrier")
    @classmethod
    def _carrier_is_text(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return plain_text(value, "the carrier")

    @field_validator("url")
    @classmethod
    def _url_is_a_web_page(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return checked_url(plain_text(value, "the url"))


# Carriers' tracking numbers are ASCII letters and digits, some grouped by one of these.
TRACKING_SEPARATORS = " -_./"


def checked_tracking_number(value: str) -> str:
    """`value` trimmed, or a ValueError when it is not what a carrier would issue."""
    cleaned = plain_text(value, "the tracking number")
    for char in cleaned:
        if not (char.isascii() and char.isalnum()) and char not in TRACKING_SEPARATORS:
            raise ValueError(
                f"the tracking number holds {char!r}; it may hold letters A to Z "
                "(either case), digits, spaces and - _ . /"
            )
    if not any(char.isalnum() for char in cleaned):
        raise ValueError("the tracking number holds no letter or digit")
    return cleaned


def checked_url(value: str) -> str:
    """`value`, or a ValueError unless it is an http:// or https:// address.

    A tracking page is shown to people as a link: any other scheme (javascript:,
    file:, data:) is no page of a carrier's and may run in whoever opens it.
    """
    try:
        parts = urlsplit(value)
        usable = parts.scheme.lower() in ("http", "https") and bool(parts.netloc)
    except ValueError:  # an unclosed "[" in the host, say
        usable = False
    if not usable:
        raise ValueError("the url must be an http:// or https:// address")
    return value


class AddShipmentResult(BaseModel):
    held: bool
    note: str


class AnswerQuery(BaseModel):
    request_id: str
    # What the asker's request says (`request_fingerprint`); when the id was used
    # for a different request, the answer is a refusal rather than that request's.
    fingerprint: str | None = None


class OrderAnswer(BaseModel):
    """What the order workflow made of one request: a result, or why not."""

    request_id: str
    refusal: str | None = None
    # The refusal's kind, e.g. "CommitRejected", or "OrderUnavailable" when Back
    # Market does not know the order.
    refusal_type: str | None = None
    commit: CommitInventoryResult | None = None
    shipment: AddShipmentResult | None = None
    validation: ValidateOrderResult | None = None


OrderRequest = CommitInventoryInput | AddShipmentInput | ValidateOrderInput

# The refusal's type when a request id comes back with a different request.
REQUEST_ID_REUSED = "RequestIdReused"


def request_fingerprint(request: OrderRequest) -> str:
    """A digest of what a request asks, its id left out, to tell repeats apart.

    A retried webhook sends the same body under the same id; the same id under
    another body is a different request that must not pass for the first.
    """
    body = request.model_dump_json(exclude={"request_id"})
    return hashlib.sha256(f"{type(request).__name__}:{body}".encode()).hexdigest()


def request_id_reused(request_id: str) -> OrderAnswer:
    """The answer to a request sent under an id another request already used."""
    return OrderAnswer(
        request_id=request_id,
        refusal=f"request id {quoted(request_id)} was already used for a different "
        "request; send this one under an id of its own",
        refusal_type=REQUEST_ID_REUSED,
    )


class RecordCommitInput(BaseModel):
    account_id: int
    order_id: int
    orderline_id: int
    identifier: str
    allow_mismatch: bool = False


class ReleaseCommitsInput(BaseModel):
    account_id: int
    order_id: int
    orderline_id: int


class AcceptLineInput(BaseModel):
    account_id: int
    order_id: int
    orderline_id: int
    sku: str


class AcceptLineResult(BaseModel):
    accepted: bool
    backmarket_state: int
    note: str


class SendLineImeiInput(BaseModel):
    account_id: int
    order_id: int
    orderline_id: int
    inventory_item_id: int


class SendLineImeiResult(BaseModel):
    sent: bool
    note: str


class RecordShipmentInput(BaseModel):
    account_id: int
    order_id: int
    shipment: AddShipmentInput


class ShipOrderInput(BaseModel):
    account_id: int
    order_id: int
    shipment: AddShipmentInput
    # For a single-device order the IMEI rides along with the shipment.
    inventory_item_id: int | None = None


class ShipOrderResult(BaseModel):
    shipped: bool
    imei_sent: bool
    note: str


class SetOrderStatusInput(BaseModel):
    account_id: int
    order_id: int
    phase: OrderPhase
    line_states: dict[int, int] = Field(default_factory=dict)


class ImportOrdersInput(BaseModel):
    account_id: int


class ImportPlan(BaseModel):
    enabled: bool
    since: datetime | None = None


class FetchOrdersInput(BaseModel):
    account_id: int
    since: datetime | None = None


class FetchOrdersResult(BaseModel):
    """Stored orders whose workflows are yet to hear their current state."""

    changed: list[OrderObserved]
    seen: int
    newest_modification: datetime | None = None


class DispatchOrdersInput(BaseModel):
    account_id: int
    orders: list[OrderObserved]


class SaveCheckpointInput(BaseModel):
    account_id: int
    value: datetime


class ImportOrdersResult(BaseModel):
    skipped: bool = False
    seen: int = 0
    dispatched: int = 0
    checkpoint: datetime | None = None
