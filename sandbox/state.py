"""The sandbox's memory: listings, tasks, orders, care folders and the writes log.

Every method takes the state's lock, so HTTP handlers, the market simulator and
tests on other threads see consistent data. Methods raise `ApiError` for answers
other than success, in the shape the matching Back Market endpoint uses.

The choices made where the contract is unsure are listed in the package docstring.

Bulk CSV columns: `sku` (required), then any of `quantity price min_price comment
warranty_delay` and the shipping fields; a SKU the merchant does not have yet needs a
`product_id` the catalog knows, and takes `grade` (default GOOD).
"""

import codecs
import csv
import io
import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox import catalog
from sandbox.clock import Clock
from sandbox.config import FaultRule, MerchantConfig, SandboxConfig, SandboxLimits
from sandbox.errors import ApiError, bare_error, bm_error, empty_error
from sandbox.faults import FaultInjector
from sandbox.limits import RateLimiter
from sandbox.people import make_customer

MAX_BULK_LINES = 15000
HIDDEN_ORDER_STATES = frozenset({0, 8})
CANCELLED_LINE_STATES = frozenset({4, 5, 7})
LISTING_FIELDS = {"quantity", "price", "currency", "min_price", "comment"} | {
    "warranty_delay"
}
SHIPPING_FIELDS = {
    f"{name}_{n}"
    for n in (1, 2, 3)
    for name in ("shipper", "shipper_display", "shipping_delay", "shipping_price")
}
COUNTRY = {"eu": "FR", "us": "US", "ap": "JP"}


def rfc3339(moment: datetime | None) -> str | None:
    """A UTC timestamp with microseconds and a Z, as Back Market often writes them."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def money(value: Decimal | None) -> str | None:
    """An amount as Back Market writes it: a string with two decimals."""
    return None if value is None else f"{value:.2f}"


def parse_rfc3339(text: str) -> datetime:
    """Read an RFC 3339 timestamp; zone-less means UTC. Raises ValueError."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


@dataclass
class Listing:
    """One merchant's offer of one product variant."""

    id: str
    listing_id: int
    merchant: str
    product: catalog.Product
    sku: str
    quantity: int
    price: Decimal | None
    currency: str
    max_price: Decimal
    min_price: Decimal | None = None
    warranty_delay: int = 12
    comment: str | None = "Tested and fully working, delivered with a cable."
    new_battery: bool = False
    deactivated: bool = False
    has_backbox: bool = True
    shippings: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def publication_state(self) -> int:
        """0 missing price or comment, 2 online, 3 offline, 4 deactivated."""
        if self.deactivated:
            return 4
        if self.price is None or not self.comment:
            return 0
        if self.quantity <= 0 or self.price > self.max_price:
            return 3
        return 2

    def to_json(self) -> dict[str, Any]:
        """The listing as Back Market answers it."""
        grade = self.product.grade
        return {
            "id": self.id,
            "listing_id": self.listing_id,
            "product_id": self.product.product_id,
            "backmarket_id": self.product.backmarket_id,
            "title": self.product.title,
            "sku": self.sku,
            "quantity": self.quantity,
            "price": money(self.price),
            "currency": self.currency,
            "min_price": money(self.min_price),
            "max_price": money(self.max_price),
            "publication_state": self.publication_state,
            "state": catalog.GRADES[grade][1],
            "grade": grade,
            "warranty_delay": self.warranty_delay,
            "comment": self.comment,
            "new_battery": self.new_battery,
            "shippings": [
                {"n": n, **values} for n, values in sorted(self.shippings.items())
            ],
        }


@dataclass
class OrderLine:
    """One line of an order: a listing bought in some quantity."""

    id: int
    listing: Listing
    quantity: int
    price: Decimal
    date_creation: datetime
    state: int = 1
    shipping_price: Decimal = Decimal("0")
    imei: str | None = None
    serial_number: str | None = None
    return_reason: int | None = None
    return_message: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The orderline as it appears inside an order."""
        product = self.listing.product
        return {
            "id": self.id,
            "date_creation": rfc3339(self.date_creation),
            "state": self.state,
            "listing": self.listing.sku,
            "listing_id": self.listing.listing_id,
            "product": product.title,
            "product_id": product.product_id,
            "brand": product.model.brand,
            "quantity": self.quantity,
            "price": money(self.price * self.quantity),
            "shipping_price": money(self.shipping_price),
            "shipping_delay": 48,
            "currency": self.listing.currency,
            "orderline_fee": money(self.price * self.quantity * Decimal("0.1")),
            "sales_taxes": money(Decimal("0")),
            "backcare": False,
            "backcare_price": 0,
            "imei": self.imei,
            "serial_number": self.serial_number,
            "condition": catalog.GRADES[product.grade][2],
            "return_reason": self.return_reason,
            "return_message": self.return_message,
        }


@dataclass
class Order:
    """A customer's order with one merchant."""

    order_id: int
    merchant: str
    state: int
    lines: list[OrderLine]
    customer: dict[str, Any]
    date_creation: datetime
    date_modification: datetime
    date_payment: datetime | None
    currency: str
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipper: str | None = None
    date_shipping: datetime | None = None

    @property
    def country_code(self) -> str:
        """The shipping country."""
        return str(self.customer["country"])

    def to_json(self) -> dict[str, Any]:
        """The bare order as Back Market answers it."""
        dispatch = self.date_creation + timedelta(days=2)
        # Back Market writes timestamps in several ways; the sandbox varies them too
        # so clients prove they read every form.
        payment = self.date_payment
        return {
            "order_id": self.order_id,
            "state": self.state,
            "date_creation": rfc3339(self.date_creation),
            "date_modification": self.date_modification.isoformat(),
            "date_payment": payment.replace(tzinfo=None).isoformat()
            if payment
            else None,
            "date_shipping": rfc3339(self.date_shipping),
            "expected_dispatch_date": rfc3339(dispatch),
            "shipping_address": dict(self.customer),
            "billing_address": dict(self.customer),
            "delivery_note": f"https://sandbox.invalid/notes/{self.order_id}.pdf",
            "tracking_number": self.tracking_number,
            "tracking_url": self.tracking_url,
            "shipper": self.shipper,
            "shipper_display": self.shipper,
            "is_backship": False,
            "price": money(
                sum((ln.price * ln.quantity for ln in self.lines), Decimal())
            ),
            "shipping_price": money(
                sum((ln.shipping_price for ln in self.lines), Decimal())
            ),
            "currency": self.currency,
            "country_code": self.country_code,
            "sales_taxes": money(Decimal("0")),
            "payment_method": "CARD",
            "installment_payment": False,
            "orderlines": [line.to_json() for line in self.lines],
        }


@dataclass
class CareFolder:
    """A customer care folder ("SAV") on one orderline."""

    id: int
    merchant: str
    order: Order
    line: OrderLine
    date_creation: datetime
    date_modification: datetime
    claims: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    state: int = 0
    date_closed: datetime | None = None

    def summary(self) -> dict[str, Any]:
        """The folder as `GET /ws/sav` lists it."""
        last_message = self.messages[-1]["date_creation"] if self.messages else None
        return {
            "id": self.id,
            "orderline": self.line.id,
            "date_creation": rfc3339(self.date_creation),
            "date_modification": rfc3339(self.date_modification),
            "date_last_message": last_message,
            "date_closed": rfc3339(self.date_closed),
            "state": self.state,
            "lines": self.claims,
            "country_code": self.order.country_code,
            "backcare": False,
        }

    def to_json(self) -> dict[str, Any]:
        """The whole folder as `GET /ws/sav/{id}` answers it."""
        product = self.line.listing.product
        customer = self.order.customer
        return {
            **self.summary(),
            "client": {
                "first_name": customer["first_name"],
                "last_name": customer["last_name"],
                "email": customer["email"],
            },
            "orderline": {
                "id": self.line.id,
                "quantity": self.line.quantity,
                "price": money(self.line.price * self.line.quantity),
                "state": self.line.state,
                "order": {
                    "order_id": self.order.order_id,
                    "state": self.order.state,
                    "tracking_number": self.order.tracking_number,
                    "date_creation": rfc3339(self.order.date_creation),
                    "country_code": self.order.country_code,
                },
                "snapshot": {
                    "listing": self.line.listing.listing_id,
                    "sku": self.line.listing.sku,
                    "product": {
                        "product_id": product.product_id,
                        "title": product.title,
                    },
                },
            },
            "messages": self.messages,
        }


@dataclass
class BulkTask:
    """A bulk listing update waiting for its (scaled) processing delay."""

    task_id: int
    merchant: str
    rows: list[dict[str, str]]
    started: float
    due: float
    action_status: int = 0
    last_action_error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The task as `GET /ws/tasks/{id}` answers it."""
        return {
            "task_id": self.task_id,
            "action_status": self.action_status,
            "last_action_error": self.last_action_error,
            "result": self.result if self.action_status in (8, 9) else None,
        }


@dataclass
class WriteRecord:
    """One write the sandbox received, for tests that prove exactly-once."""

    seq: int
    time: str
    method: str
    path: str
    merchant: str | None
    body: Any
    applied: bool
    status: int
    handler_status: int | None
    fault: str | None

    def to_json(self) -> dict[str, Any]:
        """The record for the admin API."""
        return self.__dict__.copy()


class SandboxState:
    """Everything the sandbox knows, behind one lock."""

    def __init__(self, config: SandboxConfig, clock: Clock | None = None) -> None:
        # A copy, because the admin API changes limits and faults in place.
        config = config.model_copy(deep=True)
        self.config = config
        self.clock = clock or Clock(config.time_scale)
        self.lock = threading.RLock()
        self.merchants: dict[str, MerchantConfig] = {
            m.name: m for m in config.merchants
        }
        self.tokens: dict[str, MerchantConfig] = {m.token: m for m in config.merchants}
        self.limiter = RateLimiter(config.limits, self.clock)
        self.faults = FaultInjector(config.faults, config.seed)
        self.listings: dict[str, Listing] = {}
        self._by_int: dict[int, Listing] = {}
        self._by_sku: dict[tuple[str, str], Listing] = {}
        self.orders: dict[int, Order] = {}
        self.lines: dict[int, tuple[Order, OrderLine]] = {}
        self.care_folders: dict[int, CareFolder] = {}
        self.tasks: dict[int, BulkTask] = {}
        self._pending_tasks: list[BulkTask] = []
        self.writes: list[WriteRecord] = []
        self.served: Counter[int] = Counter()
        base = config.id_base
        self._next = {
            "listing": 300000,
            "order": 41000000 + base,
            "line": 52000000 + base,
            "task": 9100,
            "care": 710000 + base,
        }
        self._seed_catalog()

    # -- listings -------------------------------------------------------------------

    def list_listings(
        self,
        merchant: str,
        publication_state: int | None = None,
        min_quantity: int | None = None,
        max_quantity: int | None = None,
    ) -> list[Listing]:
        """The merchant's listings, filtered, in listing_id order."""
        with self.lock:
            found = [
                listing
                for listing in self._listings_of(merchant)
                if (
                    publication_state is None
                    or listing.publication_state == publication_state
                )
                and (min_quantity is None or listing.quantity >= min_quantity)
                and (max_quantity is None or listing.quantity <= max_quantity)
            ]
            return sorted(found, key=lambda listing: listing.listing_id)

    def get_listing(self, merchant: str, ref: str) -> Listing:
        """A listing by UUID or legacy integer id; 404 when not the merchant's."""
        with self.lock:
            listing = self.listings.get(ref)
            if listing is None and ref.isdigit():
                listing = self._by_int.get(int(ref))
            if listing is None or listing.merchant != merchant:
                raise bm_error(404, "not-found", f"Listing {ref} not found")
            return listing

    def find_by_sku(self, merchant: str, sku: str) -> Listing | None:
        """The merchant's listing with this SKU, ignoring case."""
        with self.lock:
            return self._by_sku.get((merchant, sku.strip().casefold()))

    def update_listing(self, merchant: str, ref: str, body: Any) -> Listing:
        """Apply a partial update of the fields sent; answer the whole listing."""
        with self.lock:
            listing = self.get_listing(merchant, ref)
            if not isinstance(body, dict) or not body:
                raise bare_error(400, "body must be a non-empty JSON object")
            unknown = sorted(set(body) - LISTING_FIELDS - SHIPPING_FIELDS)
            if unknown:
                message = f"unknown parameters: {', '.join(unknown)}"
                raise bm_error(400, "invalid-parameter", message)
            changes = _validated_changes(listing, body)
            for name, value in changes.items():
                _apply_change(listing, name, value)
            return listing

    def parse_bulk(self, body: Any) -> list[dict[str, str]]:
        """Check a bulk body and read its CSV lines; 400 or 413 when refused."""
        if not isinstance(body, dict) or "catalog" not in body:
            raise bare_error(400, "parameter catalog not found")
        rows = _parse_catalog(body)
        if len(rows) > MAX_BULK_LINES:
            message = f"{len(rows)} lines, at most {MAX_BULK_LINES} allowed"
            raise bm_error(413, "too-many-lines", message)
        return rows

    def queue_bulk(self, merchant: str, rows: list[dict[str, str]]) -> BulkTask:
        """Queue checked lines; they apply once the task delay has passed."""
        with self.lock:
            now = self.clock.monotonic()
            task = BulkTask(
                task_id=self._take("task"),
                merchant=merchant,
                rows=rows,
                started=now,
                due=now + self.clock.scaled(self.config.task_delay_s),
            )
            self.tasks[task.task_id] = task
            self._pending_tasks.append(task)
            return task

    def get_task(self, merchant: str, task_id: str) -> BulkTask:
        """A bulk task of the merchant's; 404 otherwise."""
        with self.lock:
            self.tick()
            task = self.tasks.get(int(task_id)) if task_id.isdigit() else None
            if task is None or task.merchant != merchant:
                raise bm_error(404, "not-found", f"Task {task_id} not found")
            return task

    # -- orders ---------------------------------------------------------------------

    def list_orders(
        self,
        merchant: str,
        state: int | None = None,
        date_creation: datetime | None = None,
        date_modification: datetime | None = None,
        country_code: str | None = None,
    ) -> list[Order]:
        """Visible orders of the merchant; date filters are exclusive lower bounds."""
        with self.lock:
            found = [
                order
                for order in self.orders.values()
                if order.merchant == merchant
                and order.state not in HIDDEN_ORDER_STATES
                and (state is None or order.state == state)
                and (date_creation is None or order.date_creation > date_creation)
                and (
                    date_modification is None
                    or order.date_modification > date_modification
                )
                and (
                    country_code is None
                    or order.country_code.upper() == country_code.upper()
                )
            ]
            return sorted(found, key=lambda order: order.order_id)

    def get_order(self, merchant: str, order_id: str) -> Order:
        """A visible order of the merchant's; 404 (no body) otherwise."""
        with self.lock:
            order = self.orders.get(int(order_id)) if order_id.isdigit() else None
            if (
                order is None
                or order.merchant != merchant
                or order.state in HIDDEN_ORDER_STATES
            ):
                raise empty_error(404)
            return order

    def update_order(self, merchant: str, order_id: str, body: Any) -> Order:
        """Accept or cancel a line, or ship the order; 400 for refused transitions."""
        with self.lock:
            order = self.get_order(merchant, order_id)
            if not isinstance(body, dict):
                raise empty_error(400)
            if str(body.get("order_id")) != str(order.order_id):
                raise empty_error(400)
            new_state = body.get("new_state")
            if order.state == 10:
                raise empty_error(400)
            if new_state in (2, 4) and not isinstance(new_state, bool):
                self._decide_line(order, body, new_state)
            elif new_state == 3 and not isinstance(new_state, bool):
                self._ship(order, body)
            else:
                raise empty_error(400)
            return order

    def patch_orderline(self, merchant: str, line_id: str, body: Any) -> OrderLine:
        """Set a line's IMEI or serial number once; 422 when set or invalid."""
        with self.lock:
            found = self.lines.get(int(line_id)) if line_id.isdigit() else None
            if found is None or found[0].merchant != merchant:
                raise empty_error(404)
            if found[0].state in HIDDEN_ORDER_STATES:
                raise empty_error(404)
            order, line = found
            if not isinstance(body, dict) or not body:
                raise bm_error(422, "invalid", "imei or serial_number expected")
            unknown = set(body) - {"imei", "serial_number"}
            if unknown:
                raise bm_error(422, "invalid", f"unknown fields {sorted(unknown)}")
            if line.state not in (2, 3):
                raise bm_error(422, "invalid-state", "the line is not accepted")
            imei, serial = body.get("imei"), body.get("serial_number")
            if imei is not None:
                if not _valid_imei(imei):
                    raise bm_error(422, "invalid-imei", "imei: up to 15 digits")
                if line.imei is not None:
                    raise bm_error(422, "already-set", "imei already set")
            if serial is not None:
                if not _valid_serial(serial):
                    raise bm_error(422, "invalid-serial", "serial_number: 1 to 50")
                if line.serial_number is not None:
                    raise bm_error(422, "already-set", "serial_number already set")
            if imei is not None:
                line.imei = imei
            if serial is not None:
                line.serial_number = serial
            self._touch(order)
            return line

    # -- customer care and BackBox -------------------------------------------------

    def list_care_folders(
        self,
        merchant: str,
        state: int | None = None,
        last_id: int | None = None,
        orderline: int | None = None,
        last_modification: datetime | None = None,
    ) -> list[CareFolder]:
        """The merchant's care folders, filtered, in id order."""
        with self.lock:
            found = [
                folder
                for folder in self.care_folders.values()
                if folder.merchant == merchant
                and (state is None or folder.state == state)
                and (last_id is None or folder.id > last_id)
                and (orderline is None or folder.line.id == orderline)
                and (
                    last_modification is None
                    or folder.date_modification >= last_modification
                )
            ]
            return sorted(found, key=lambda folder: folder.id)

    def get_care_folder(self, merchant: str, folder_id: str) -> CareFolder:
        """One care folder of the merchant's."""
        with self.lock:
            folder = (
                self.care_folders.get(int(folder_id)) if folder_id.isdigit() else None
            )
            if folder is None or folder.merchant != merchant:
                raise bm_error(404, "not-found", f"Care folder {folder_id} not found")
            return folder

    def competitors(self, merchant: str, listing_uuid: str) -> list[dict[str, Any]]:
        """BackBox prices per market for a listing; 404 when it has no BackBox."""
        with self.lock:
            listing = self.listings.get(listing_uuid)
            if listing is None or listing.merchant != merchant:
                raise bm_error(404, "not-found", "No BackBox for this listing")
            if not listing.has_backbox or listing.price is None:
                raise bm_error(404, "not-found", "No BackBox for this listing")
            platform = self.merchants[merchant].platform
            rng = random.Random(f"{self.config.seed}:backbox:{listing.id}")
            answer = []
            for market in catalog.MARKETS[platform]:
                best = (listing.price * Decimal(rng.uniform(0.9, 1.08))).quantize(
                    Decimal("0.01")
                )
                to_win = min(best, listing.price) - Decimal("0.01")
                answer.append(
                    {
                        "listing_id": listing.id,
                        "product_id": listing.product.product_id,
                        "market": market,
                        "price": _amount(listing.price, listing.currency),
                        "min_price": _amount(listing.min_price, listing.currency),
                        "price_to_win": _amount(to_win, listing.currency),
                        "winner_price": _amount(
                            min(best, listing.price), listing.currency
                        ),
                        "is_winning": listing.price <= best,
                    }
                )
            return answer

    # -- what the market and the admin API do --------------------------------------

    def place_order(
        self,
        merchant: str,
        lines: list[tuple[str, int]],
        customer: dict[str, Any] | None = None,
        state: int = 1,
        rng: random.Random | None = None,
    ) -> Order:
        """A customer orders these SKUs; their listings lose that quantity."""
        with self.lock:
            if merchant not in self.merchants:
                raise bm_error(404, "not-found", f"No merchant {merchant}")
            if state not in (0, 1, 8, 10) or not lines:
                raise bm_error(400, "invalid", "state must be 0, 1, 8 or 10")
            picked: list[tuple[Listing, int]] = []
            for sku, quantity in lines:
                listing = self.find_by_sku(merchant, sku)
                if listing is None:
                    raise bm_error(404, "not-found", f"No listing {sku}")
                if quantity < 1 or listing.publication_state != 2:
                    raise bm_error(409, "not-orderable", f"{sku} is not online")
                if listing.quantity < quantity:
                    raise bm_error(409, "not-orderable", f"{sku} lacks stock")
                picked.append((listing, quantity))
            platform = self.merchants[merchant].platform
            rng = rng or random.Random(f"{self.config.seed}:admin:{len(self.orders)}")
            address = make_customer(rng, COUNTRY[platform])
            address.update(customer or {})
            now = self.clock.now()
            order = Order(
                order_id=self._take("order"),
                merchant=merchant,
                state=state,
                lines=[],
                customer=address,
                date_creation=now,
                date_modification=now,
                date_payment=now if state == 1 else None,
                currency=catalog.CURRENCY[platform],
            )
            line_state = {0: 0, 1: 1, 8: 7, 10: 8}[state]
            for listing, quantity in picked:
                listing.quantity -= quantity
                line = OrderLine(
                    id=self._take("line"),
                    listing=listing,
                    quantity=quantity,
                    price=listing.price or Decimal("0"),
                    date_creation=now,
                    state=line_state,
                )
                order.lines.append(line)
                self.lines[line.id] = (order, line)
            self.orders[order.order_id] = order
            return order

    def pay_order(self, order_id: int) -> Order:
        """The payment of an order being checked or not paid yet goes through."""
        with self.lock:
            order = self._any_order(order_id)
            if order.state not in (0, 10):
                raise bm_error(409, "invalid-state", "order is not awaiting payment")
            order.state = 1
            order.date_payment = self.clock.now()
            for line in order.lines:
                line.state = 1
            self._touch(order)
            return order

    def customer_cancel(self, line_id: int) -> Order:
        """The customer cancels a line: 1 -> 4 cancelled, 2 -> 5 refunded."""
        with self.lock:
            if line_id not in self.lines:
                raise bm_error(404, "not-found", f"No orderline {line_id}")
            order, line = self.lines[line_id]
            if line.state == 1:
                line.state = 4
            elif line.state == 2:
                line.state = 5
            else:
                raise bm_error(409, "invalid-state", f"line is in state {line.state}")
            line.return_reason = 1
            line.return_message = "Cancelled by the customer"
            self._settle(order)
            return order

    def open_care_folder(
        self,
        line_id: int,
        return_label: bool = True,
        issue: str = "SCREEN_DEFECT",
        resolution_choice: str = "REFUND",
        message: str = "My phone's screen flickers since I received it.",
    ) -> CareFolder:
        """The customer opens a care folder on a shipped line."""
        with self.lock:
            if line_id not in self.lines:
                raise bm_error(404, "not-found", f"No orderline {line_id}")
            order, line = self.lines[line_id]
            if line.state != 3:
                raise bm_error(409, "invalid-state", "only shipped lines have care")
            now = self.clock.now()
            folder_id = self._take("care")
            labels = []
            if return_label:
                labels.append(
                    {
                        "date_creation": rfc3339(now),
                        "state": "ALIVE",
                        "label": f"https://sandbox.invalid/labels/{folder_id}.pdf",
                        "initiator": "CUSTOMER",
                        "kind": "CUSTOMER_TO_MERCHANT",
                    }
                )
            claim = {
                "id": folder_id * 10 + 1,
                "state": 0,
                "issues": [{"customerIssue": issue, "tag": issue.lower()}],
                "resolution_choice": resolution_choice,
                "declared_warranty_state": "IN_WARRANTY",
                "return_labels": labels,
            }
            customer = order.customer
            note = {
                "id": folder_id * 10 + 2,
                "date_creation": rfc3339(now),
                "author": f"{customer['first_name']} {customer['last_name']}",
                "author_kind": "CUSTOMER",
                "message": message,
            }
            folder = CareFolder(
                id=folder_id,
                merchant=order.merchant,
                order=order,
                line=line,
                date_creation=now,
                date_modification=now,
                claims=[claim],
                messages=[note],
            )
            self.care_folders[folder.id] = folder
            return folder

    def close_care_folder(self, folder_id: int) -> CareFolder:
        """Back Market closes a care folder; its labels are used."""
        with self.lock:
            folder = self.care_folders.get(folder_id)
            if folder is None:
                raise bm_error(404, "not-found", f"No care folder {folder_id}")
            now = self.clock.now()
            folder.state = 9
            folder.date_closed = now
            folder.date_modification = now
            for claim in folder.claims:
                claim["state"] = 9
                for label in claim["return_labels"]:
                    label["state"] = "USED"
            return folder

    def set_quantity(self, merchant: str, sku: str, quantity: int) -> Listing:
        """Another system sets a listing's quantity; not a write of the client's."""
        with self.lock:
            listing = self.find_by_sku(merchant, sku)
            if listing is None:
                raise bm_error(404, "not-found", f"No listing {sku}")
            if quantity < 0:
                raise bm_error(400, "invalid", "quantity must not be negative")
            listing.quantity = quantity
            return listing

    def record_write(
        self,
        method: str,
        path: str,
        merchant: str | None,
        body: Any,
        applied: bool,
        status: int,
        handler_status: int | None,
        fault: str | None,
    ) -> None:
        """Log one write request and how it ended."""
        with self.lock:
            self.writes.append(
                WriteRecord(
                    seq=len(self.writes) + 1,
                    time=rfc3339(self.clock.now()) or "",
                    method=method,
                    path=path,
                    merchant=merchant,
                    body=body,
                    applied=applied,
                    status=status,
                    handler_status=handler_status,
                    fault=fault,
                )
            )

    def set_limits(self, limits: SandboxLimits) -> None:
        """Replace the rate limits; every budget starts afresh."""
        with self.lock:
            self.config.limits = limits
            self.limiter.configure(limits)

    def set_faults(self, faults: list[FaultRule]) -> None:
        """Replace the fault rules."""
        with self.lock:
            self.config.faults = list(faults)
            self.faults.configure(faults)

    def counts(self) -> dict[str, Any]:
        """Sizes of everything, for the admin API and the demo."""
        with self.lock:
            by_state = Counter(str(order.state) for order in self.orders.values())
            throttled = Counter(scope for (_, scope) in self.limiter.refused.elements())
            return {
                "listings": len(self.listings),
                "online_listings": sum(
                    1 for x in self.listings.values() if x.publication_state == 2
                ),
                "orders": len(self.orders),
                "orders_by_state": dict(by_state),
                "care_folders": len(self.care_folders),
                "tasks": len(self.tasks),
                "writes": len(self.writes),
                "throttled": sum(throttled.values()),
                "throttled_by_scope": dict(throttled),
            }

    def tick(self) -> None:
        """Finish the bulk tasks whose delay has passed."""
        with self.lock:
            now = self.clock.monotonic()
            for task in list(self._pending_tasks):
                if now >= task.due:
                    self._pending_tasks.remove(task)
                    self._run_task(task)
                elif now >= (task.started + task.due) / 2:
                    task.action_status = 2

    # -- helpers --------------------------------------------------------------------

    def _seed_catalog(self) -> None:
        for merchant in self.config.merchants:
            rng = random.Random(f"{self.config.seed}:catalog:{merchant.name}")
            for product in catalog.pick_products(rng, self.config.catalog_size):
                self._new_listing(merchant, product, rng)

    def _new_listing(
        self, merchant: MerchantConfig, product: catalog.Product, rng: random.Random
    ) -> Listing:
        price = product.price(merchant.platform)
        roll = rng.random()
        listing = Listing(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            listing_id=self._take("listing"),
            merchant=merchant.name,
            product=product,
            sku=product.sku,
            quantity=0 if roll < 0.1 else rng.randint(1, 8),
            price=price,
            currency=catalog.CURRENCY[merchant.platform],
            max_price=(price * Decimal("1.6")).quantize(Decimal("1")),
            min_price=(price * Decimal("0.85")).quantize(Decimal("0.01")),
            warranty_delay=rng.choice((12, 12, 12, 24)),
            new_battery=rng.random() < 0.3,
            has_backbox=rng.random() < 0.8,
            shippings={
                1: {
                    "shipper": "colissimo",
                    "shipper_display": "Colissimo",
                    "shipping_delay": 48,
                    "shipping_price": "0.00",
                }
            },
        )
        self._index(listing)
        return listing

    def _index(self, listing: Listing) -> None:
        self.listings[listing.id] = listing
        self._by_int[listing.listing_id] = listing
        self._by_sku[(listing.merchant, listing.sku.casefold())] = listing

    def _listings_of(self, merchant: str) -> list[Listing]:
        return [x for x in self.listings.values() if x.merchant == merchant]

    def _take(self, kind: str) -> int:
        self._next[kind] += 1
        return self._next[kind]

    def _any_order(self, order_id: int) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise bm_error(404, "not-found", f"No order {order_id}")
        return order

    def _touch(self, order: Order) -> None:
        order.date_modification = self.clock.now()

    def _settle(self, order: Order) -> None:
        """Derive the order's state from its lines, then mark it modified."""
        if order.state not in HIDDEN_ORDER_STATES | {10}:
            active = [ln for ln in order.lines if ln.state not in CANCELLED_LINE_STATES]
            if any(ln.state in (3, 6) for ln in order.lines) or not active:
                order.state = 9
            elif all(ln.state == 2 for ln in active):
                order.state = 3
            else:
                order.state = 1
        self._touch(order)

    def _decide_line(self, order: Order, body: dict[str, Any], new_state: int) -> None:
        sku = body.get("sku")
        if not isinstance(sku, str) or not sku.strip():
            raise empty_error(400)
        wanted = sku.strip().casefold()
        matching = [ln for ln in order.lines if ln.listing.sku.casefold() == wanted]
        waiting = [ln for ln in matching if ln.state == 1]
        if not waiting:
            raise empty_error(400)
        waiting[0].state = new_state
        self._settle(order)

    def _ship(self, order: Order, body: dict[str, Any]) -> None:
        tracking = body.get("tracking_number")
        if not isinstance(tracking, str) or not tracking.strip():
            raise empty_error(400)
        if order.state != 3:
            raise empty_error(400)
        imei, serial = body.get("imei"), body.get("serial_number")
        if imei is not None or serial is not None:
            line = order.lines[0]
            if len(order.lines) != 1 or line.quantity != 1:
                raise empty_error(400)
            if imei is not None and (not _valid_imei(imei) or line.imei):
                raise empty_error(400)
            if serial is not None and (not _valid_serial(serial) or line.serial_number):
                raise empty_error(400)
            if imei is not None:
                line.imei = imei
            if serial is not None:
                line.serial_number = serial
        shipped_at = self.clock.now()
        if isinstance(body.get("date_shipping"), str):
            try:
                shipped_at = parse_rfc3339(body["date_shipping"])
            except ValueError:
                raise empty_error(400) from None
        for line in order.lines:
            if line.state == 2:
                line.state = 3
        order.tracking_number = tracking.strip()
        order.tracking_url = _optional_str(body.get("tracking_url"))
        order.shipper = _optional_str(body.get("shipper"))
        order.date_shipping = shipped_at
        self._settle(order)

    def _run_task(self, task: BulkTask) -> None:
        merchant = self.merchants[task.merchant]
        errors = 0
        for row in task.rows:
            sku = row.get("sku", "").strip()
            try:
                self._apply_row(merchant, row)
                task.result[sku] = {"status": "OK", "message": None}
            except ApiError as error:
                errors += 1
                task.result[sku] = {"status": "ERROR", "message": _message(error)}
        if task.rows and errors == len(task.rows):
            task.action_status = 8
            task.last_action_error = "every line failed"
        else:
            task.action_status = 9

    def _apply_row(self, merchant: MerchantConfig, row: dict[str, str]) -> None:
        sku = row.get("sku", "").strip()
        if not sku:
            raise bm_error(400, "invalid", "sku is empty")
        listing = self.find_by_sku(merchant.name, sku)
        if listing is None:
            listing = self._create_from_row(merchant, row, sku)
        body: dict[str, Any] = {}
        for name, value in row.items():
            if name in LISTING_FIELDS | SHIPPING_FIELDS and value.strip():
                body[name] = value.strip()
        for name in ("quantity", "warranty_delay"):
            if name in body:
                if not body[name].isdigit():
                    raise bm_error(400, "invalid", f"{name} must be an integer")
                body[name] = int(body[name])
        changes = _validated_changes(listing, body)
        for name, value in changes.items():
            _apply_change(listing, name, value)

    def _create_from_row(
        self, merchant: MerchantConfig, row: dict[str, str], sku: str
    ) -> Listing:
        product_id = row.get("product_id", "").strip()
        grade = row.get("grade", "").strip().upper() or "GOOD"
        product = catalog.product_for_id(product_id, grade) if product_id else None
        if product is None:
            raise bm_error(400, "not-found", "unknown sku and no known product_id")
        rng = random.Random(f"{self.config.seed}:new:{sku}")
        listing = self._new_listing(merchant, product, rng)
        del self._by_sku[(merchant.name, listing.sku.casefold())]
        listing.sku = sku
        listing.quantity = 0
        self._index(listing)
        return listing


def _validated_changes(listing: Listing, body: dict[str, Any]) -> dict[str, Any]:
    """Check every field of a listing update; answer the values to apply."""
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if name == "quantity":
            if not _is_int(value) or not 0 <= value <= 100000:
                raise bm_error(400, "invalid-quantity", "quantity must be 0..100000")
            changes[name] = value
        elif name in ("price", "min_price") or name.startswith("shipping_price_"):
            if value is None and name == "min_price":
                changes[name] = None
                continue
            amount = _decimal(value)
            if amount is None or amount < 0 or (name == "price" and amount == 0):
                raise bm_error(
                    400, "invalid-price", f"{name} must be a positive amount"
                )
            changes[name] = amount
        elif name == "currency":
            if value != listing.currency:
                raise bm_error(
                    400, "invalid-currency", f"currency is {listing.currency}"
                )
        elif name == "comment":
            if not isinstance(value, str) or len(value) > 500:
                raise bm_error(400, "invalid-comment", "comment: at most 500 chars")
            changes[name] = value
        elif name == "warranty_delay":
            if not _is_int(value) or value < 12:
                raise bm_error(400, "invalid-warranty", "warranty_delay: 12 or more")
            changes[name] = value
        elif name.startswith("shipping_delay_"):
            if not _is_int(value) or value < 0:
                raise bm_error(400, "invalid-shipping", f"{name}: hours, 0 or more")
            changes[name] = value
        else:
            if not isinstance(value, str):
                raise bm_error(400, "invalid-shipping", f"{name} must be a string")
            changes[name] = value
    return changes


def _apply_change(listing: Listing, name: str, value: Any) -> None:
    if name in ("quantity", "price", "min_price", "comment", "warranty_delay"):
        setattr(listing, name, value)
        return
    field_name, n = name.rsplit("_", 1)
    shipping = listing.shippings.setdefault(int(n), {})
    shipping[field_name] = money(value) if field_name == "shipping_price" else value


def _parse_catalog(body: dict[str, Any]) -> list[dict[str, str]]:
    text = body["catalog"]
    delimiter = body.get("delimiter", ";")
    quotechar = body.get("quotechar", '"')
    encoding = body.get("encoding", "utf-8")
    if not isinstance(text, str) or not text.strip():
        raise bare_error(400, "parameter catalog is empty")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise bm_error(400, "invalid-delimiter", "delimiter must be one character")
    if not isinstance(quotechar, str) or len(quotechar) != 1:
        raise bm_error(400, "invalid-quotechar", "quotechar must be one character")
    try:
        codecs.lookup(str(encoding))
    except LookupError:
        raise bm_error(
            400, "invalid-encoding", f"unknown encoding {encoding}"
        ) from None
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter, quotechar=quotechar)
    fields = [name.strip().lower() for name in reader.fieldnames or []]
    if "sku" not in fields:
        raise bm_error(400, "invalid-catalog", "the header has no sku column")
    rows = []
    for raw in reader:
        row = {(key or "").strip().lower(): (value or "") for key, value in raw.items()}
        if any(value.strip() for value in row.values()):
            rows.append(row)
    if not rows:
        raise bm_error(400, "invalid-catalog", "the catalog has no lines")
    return rows


def _valid_imei(value: Any) -> bool:
    return isinstance(value, str) and value.isdigit() and 0 < len(value) <= 15


def _valid_serial(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) <= 50


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        return None
    return amount


def _amount(value: Decimal | None, currency: str) -> dict[str, str] | None:
    return None if value is None else {"amount": f"{value:.2f}", "currency": currency}


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _message(error: ApiError) -> str:
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message"))
    return str(body)
