"""Answers to the troubleshooting checklist for one listing or one order.

Each function reads the database only and returns one `Check` per question, in the
order an operator would ask them, so `bmsync doctor` can print them and tests can
assert them. A check that cannot be answered because an earlier one failed (no
listing, no order) is left out rather than guessed.
"""

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from database.inventory import (
    ORDERS_READ_CHECKPOINT,
    RUN_FAILED,
    find_sku,
    get_checkpoint,
    order_item_variation,
)
from database.listings import lookup_listing
from database.models import (
    Account,
    AccountCountedStatus,
    AccountCountedWarehouse,
    AccountSettings,
    AccountStatusMap,
    BackMarketPhase,
    Commit,
    InventoryItem,
    InventoryStatus,
    Listing,
    ListingVariation,
    MappingMode,
    OrderItem,
    SalesOrder,
    SalesOrderStatus,
    Shipment,
    SyncLogEntry,
    Warehouse,
)
from database.quantity import calculated_quantity
from domain.orders import (
    LINE_ACCEPTED,
    LINE_PAID,
    LINE_SHIPPED,
    LINE_STATES_CLOSED,
)
from domain.text import quoted

FOREIGN_WRITE_KIND = "foreign_write"
ORDER_VALIDATE_KIND = "order_validate"
ORDER_IMPORT_KIND = "order_import"
SHIPMENT_KIND = "shipment"
IMEI_KIND = "imei_sync"
# Failures that mean Back Market no longer takes the account's token, or that the
# worker cannot read it (AccountMissing: its variable unset, say): nothing works
# again until the token is put right.
TOKEN_ERRORS = ("BackMarketUnauthorized", "BackMarketForbidden", "AccountMissing")
# Phases whose orders still need stock, and those whose orders no longer do.
OPEN_PHASES = (BackMarketPhase.NEW, BackMarketPhase.PAID, BackMarketPhase.VALIDATED)
CLOSED_PHASES = (
    BackMarketPhase.SHIPPED,
    BackMarketPhase.CANCELLED,
    BackMarketPhase.REFUNDED,
)
# Status names that mean an order is over, whatever the mapping says.
CLOSED_STATUS_NAMES = ("shipped", "cancelled", "canceled", "refunded")


@dataclass(frozen=True)
class Check:
    """One question of the checklist: its answer and, when it fails, what to do."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


# --- listings ---------------------------------------------------------------------


def diagnose_listing(
    session: Session, account: Account, listing_ref: str
) -> list[Check]:
    """Why a listing's quantity is or is not being updated.

    `listing_ref` is our id, Back Market's uuid or legacy id, or the SKU.
    """
    settings = account.settings
    listing = lookup_listing(session, account.id, listing_ref)
    checks = [_imported(account, settings, listing, listing_ref)]
    if listing is None:
        return checks

    variations = listing_variation_ids(session, account.id, listing)
    checks.append(_mapped(session, account, listing, variations))
    checks.append(
        _on_off(
            "quantity sync on",
            settings.quantity_sync,
            "quantity sync",
            f"bmsync settings set {account.name} quantity-sync on",
        )
    )
    checks.append(_counted_places(session, account))
    if variations:
        checks.append(_stock(session, account, listing, variations))
    checks.append(_foreign_writes(session, account, listing))
    checks.append(_last_push(session, account, listing))
    return checks


def listing_variation_ids(
    session: Session, account_id: int, listing: Listing
) -> list[int]:
    """The variations whose stock a listing sells, as the quantity query maps them."""
    if listing.mapping_mode == MappingMode.VARIATIONS:
        return list(
            session.scalars(
                select(ListingVariation.variation_id)
                .where(ListingVariation.listing_id == listing.id)
                .order_by(ListingVariation.variation_id)
            )
        )
    sku = find_sku(session, listing.sku, account_id)
    return [] if sku is None else [sku.variation_id]


def _imported(
    account: Account,
    settings: AccountSettings,
    listing: Listing | None,
    ref: str,
) -> Check:
    name = "listing imported"
    if listing is None:
        if not settings.listing_import:
            fix = f"bmsync settings set {account.name} listing-import on"
        elif settings.listing_import_scope != "all":
            fix = (
                "only online listings are imported; for offline or out-of-stock "
                f"ones: bmsync settings set {account.name} listing-import-scope all"
            )
        else:
            fix = "wait for the next listing import, or check that the worker runs"
        return Check(
            name, False, f"no listing {quoted(ref)} in account {account.name}", fix
        )
    label = f"listing {listing.id} (SKU {listing.sku}, {listing.backmarket_uuid})"
    if listing.gone_from_backmarket:
        return Check(
            name,
            False,
            f"{label} is no longer on Back Market",
            "it was deleted or replaced there; a new listing with the same SKU is "
            "imported on its own",
        )
    return Check(name, True, label)


def _mapped(
    session: Session, account: Account, listing: Listing, variations: Sequence[int]
) -> Check:
    name = "listing mapped"
    if listing.mapping_mode == MappingMode.VARIATIONS:
        if variations:
            return Check(name, True, f"{len(variations)} variation(s) chosen by hand")
        return Check(
            name,
            False,
            "mapped by chosen variations, but none is chosen",
            "choose the variations this listing sells, or map it by SKU",
        )
    if variations:
        return Check(name, True, f"SKU {listing.sku} is in the catalog")
    return Check(
        name,
        False,
        f"SKU {listing.sku} is not in the catalog",
        f"bmsync catalog skus add {listing.sku} --variation <id>, or choose "
        "variations for the listing",
    )


def _on_off(name: str, value: bool, what: str, fix: str) -> Check:
    if value:
        return Check(name, True, f"{what} is on")
    return Check(name, False, f"{what} is off", fix)


def _counted_places(session: Session, account: Account) -> Check:
    name = "counted statuses and warehouses set"
    statuses = session.scalars(
        select(InventoryStatus.name)
        .join(
            AccountCountedStatus,
            AccountCountedStatus.inventory_status_id == InventoryStatus.id,
        )
        .where(AccountCountedStatus.account_id == account.id)
        .order_by(InventoryStatus.name)
    ).all()
    warehouses = session.scalars(
        select(Warehouse.name)
        .join(
            AccountCountedWarehouse,
            AccountCountedWarehouse.warehouse_id == Warehouse.id,
        )
        .where(AccountCountedWarehouse.account_id == account.id)
        .order_by(Warehouse.name)
    ).all()
    missing = []
    fixes = []
    if not statuses:
        missing.append("no inventory status counts")
        fixes.append(f"bmsync settings set {account.name} counted-statuses Available")
    if not warehouses:
        missing.append("no warehouse counts")
        fixes.append(f"bmsync settings set {account.name} counted-warehouses Main")
    if missing:
        return Check(name, False, "; ".join(missing), "; ".join(fixes))
    return Check(
        name,
        True,
        f"statuses {', '.join(statuses)}; warehouses {', '.join(warehouses)}",
    )


def _stock(
    session: Session, account: Account, listing: Listing, variations: Sequence[int]
) -> Check:
    name = "stock in counted statuses and warehouses"
    counted_statuses = set(
        session.scalars(
            select(AccountCountedStatus.inventory_status_id).where(
                AccountCountedStatus.account_id == account.id
            )
        )
    )
    counted_warehouses = set(
        session.scalars(
            select(AccountCountedWarehouse.warehouse_id).where(
                AccountCountedWarehouse.account_id == account.id
            )
        )
    )
    committed = (
        select(Commit.id)
        .where(
            Commit.inventory_item_id == InventoryItem.id, Commit.released_at.is_(None)
        )
        .exists()
    )
    rows = session.execute(
        select(
            InventoryItem.status_id,
            InventoryStatus.name,
            InventoryItem.warehouse_id,
            Warehouse.name,
        )
        .join(InventoryStatus, InventoryStatus.id == InventoryItem.status_id)
        .outerjoin(Warehouse, Warehouse.id == InventoryItem.warehouse_id)
        .where(InventoryItem.variation_id.in_(variations), ~committed)
    ).all()
    counted = 0
    elsewhere: Counter[str] = Counter()
    for status_id, status, warehouse_id, warehouse in rows:
        if status_id in counted_statuses and warehouse_id in counted_warehouses:
            counted += 1
        else:
            elsewhere[f"{status} in {warehouse or '(no warehouse)'}"] += 1
    quantity = calculated_quantity(session, account.id, listing.id)
    figures = ""
    if quantity is not None and quantity.quantity is not None:
        figures = (
            f"; calculated quantity {quantity.quantity} = {quantity.available} "
            f"available - {quantity.outstanding} outstanding - {quantity.buffer} buffer"
        )
    if counted:
        return Check(name, True, f"{counted} uncommitted device(s) count{figures}")
    if not elsewhere:
        return Check(
            name,
            False,
            f"no uncommitted device of the listing's variation(s) is in stock{figures}",
            "add stock (bmsync inventory add / import, or POST /v1/stock)",
        )
    where = ", ".join(f"{n} {place}" for place, n in sorted(elsewhere.items()))
    return Check(
        name,
        False,
        f"no device counts; not counted: {where}{figures}",
        "set the warehouse and status on those devices, or count their warehouse "
        f"and status: bmsync settings set {account.name} counted-warehouses ... / "
        "counted-statuses ...",
    )


def _foreign_writes(session: Session, account: Account, listing: Listing) -> Check:
    name = "no other system writing"
    # The listing's foreign-write columns are read with getattr: the detection
    # that fills them may be absent from an older schema, and the sync log answers
    # then.
    marked_at: datetime | None = getattr(listing, "foreign_write_at", None)
    entry = session.scalar(
        select(SyncLogEntry)
        .where(
            SyncLogEntry.account_id == account.id,
            SyncLogEntry.listing_id == listing.id,
            SyncLogEntry.kind == FOREIGN_WRITE_KIND,
        )
        .order_by(SyncLogEntry.at.desc(), SyncLogEntry.id.desc())
        .limit(1)
    )
    if entry is None and marked_at is None:
        return Check(name, True, "no foreign write seen on this listing")
    seen = []
    if marked_at is not None:
        quantity = getattr(listing, "foreign_write_quantity", None)
        note = getattr(listing, "foreign_write_note", None)
        seen.append(
            f"{_when(marked_at)}: Back Market held {quantity}"
            + (f", {note}" if note else "")
        )
    elif entry is not None:
        seen.append(f"{_when(entry.at)}: {entry.detail or 'quantity changed'}")
    return Check(
        name,
        False,
        "Back Market's quantity changed in ways our pushes and orders do not explain "
        f"({'; '.join(seen)})",
        "disconnect the other integration from this Back Market account, or let "
        f"ours win: bmsync settings set {account.name} overwrite-foreign-writes on",
    )


def _last_push(session: Session, account: Account, listing: Listing) -> Check:
    name = "last quantity push"
    entry = session.scalar(
        select(SyncLogEntry)
        .where(
            SyncLogEntry.account_id == account.id,
            SyncLogEntry.listing_id == listing.id,
            SyncLogEntry.direction == "push",
            SyncLogEntry.kind != FOREIGN_WRITE_KIND,
        )
        .order_by(SyncLogEntry.at.desc(), SyncLogEntry.id.desc())
        .limit(1)
    )
    if entry is None:
        if listing.last_pushed_at is not None:
            return Check(
                name,
                True,
                f"pushed {listing.last_pushed_quantity} at "
                f"{_when(listing.last_pushed_at)}",
            )
        return Check(
            name,
            False,
            "nothing was ever pushed to this listing",
            "a push happens when the calculated quantity changes; check the worker "
            "runs (bmsync status) and the schedules exist (bmsync schedules apply)",
        )
    summary = f"{entry.kind} {entry.result} at {_when(entry.at)}"
    if entry.detail:
        summary += f": {entry.detail}"
    if entry.result == "failed":
        return Check(
            name,
            False,
            f"{summary} ({entry.error_class or 'unknown error'})",
            f"see bmsync log --account {account.name} --listing {listing.id}",
        )
    return Check(name, True, summary)


# --- orders -----------------------------------------------------------------------


def diagnose_order(session: Session, account: Account, order_id: int) -> list[Check]:
    """Why an order is missing, stuck, or did not reach Back Market as expected."""
    settings = account.settings
    checks = [
        _on_off(
            "order import on",
            settings.order_import,
            "order import",
            f"bmsync settings set {account.name} order-import on",
        ),
        _order_import_runs(session, account),
    ]
    order = session.scalar(
        select(SalesOrder).where(
            SalesOrder.account_id == account.id,
            SalesOrder.external_order_id == order_id,
        )
    )
    if order is None:
        checks.append(
            Check(
                "order imported",
                False,
                f"order {order_id} is not in the database",
                "orders are imported every "
                f"{settings.order_import_interval_s} s while the worker runs "
                "(bmsync status); an order Back Market hides (unpaid) is not imported",
            )
        )
        checks.extend(status_mapping_checks(session, account))
        return checks

    items = list(
        session.scalars(
            select(OrderItem)
            .where(OrderItem.sales_order_id == order.id)
            .order_by(OrderItem.external_orderline_id)
        )
    )
    checks.append(
        Check(
            "order imported",
            True,
            f"sales order {order.id}, {len(items)} line(s), Back Market state "
            f"{order.backmarket_state}",
        )
    )
    checks.append(_unknown_skus(session, account, items))
    commits = _open_commits(session, items)
    checks.append(_validated_before_shipment(session, account, order, items, commits))
    checks.append(_devices_for_shipment(session, account, order, items, commits))
    checks.append(_shipment_taken(session, account, order))
    checks.append(_auto_validate(account, items))
    checks.append(_identifiers(commits))
    checks.append(_imei_taken(session, account, order))
    checks.append(_fulfils(session, commits))
    checks.append(
        _on_off(
            "IMEI sync on",
            settings.imei_sync,
            "IMEI sync",
            f"bmsync settings set {account.name} imei-sync on",
        )
    )
    checks.extend(status_mapping_checks(session, account))
    return checks


def _order_import_runs(session: Session, account: Account) -> Check:
    """Whether the scheduled import still reads Back Market, or fails each run."""
    name = "order import runs"
    failed = session.scalar(
        select(SyncLogEntry)
        .where(
            SyncLogEntry.account_id == account.id,
            SyncLogEntry.kind == ORDER_IMPORT_KIND,
            SyncLogEntry.result == "failed",
            SyncLogEntry.detail.startswith(RUN_FAILED),
        )
        .order_by(SyncLogEntry.at.desc(), SyncLogEntry.id.desc())
        .limit(1)
    )
    read = get_checkpoint(session, account.id, ORDERS_READ_CHECKPOINT)
    read_at = None if read is None else read.updated_at
    if failed is None:
        if read_at is None:
            return Check(name, True, "no failed run in the sync log")
        return Check(name, True, f"read Back Market's orders {_when(read_at)}")
    if read_at is not None and read_at > failed.at:
        return Check(
            name,
            True,
            f"read Back Market's orders {_when(read_at)}, after a run failed "
            f"{_when(failed.at)}",
        )
    runs = session.scalar(
        select(func.count())
        .select_from(SyncLogEntry)
        .where(
            SyncLogEntry.account_id == account.id,
            SyncLogEntry.kind == ORDER_IMPORT_KIND,
            SyncLogEntry.result == "failed",
            SyncLogEntry.detail.startswith(RUN_FAILED),
            *([] if read_at is None else [SyncLogEntry.at > read_at]),
        )
    )
    since = "ever" if read_at is None else f"since it last worked, {_when(read_at)}"
    error_class = failed.error_class or "unknown error"
    reason = (failed.detail or "").removeprefix(RUN_FAILED)
    if error_class in TOKEN_ERRORS:
        fix = _token_fix(account)
    else:
        fix = (
            f"see bmsync log --account {account.name} --result failed; the import "
            f"runs again every {account.settings.order_import_interval_s} s"
        )
    return Check(
        name,
        False,
        f"the last order import failed {_when(failed.at)} with {error_class}: "
        f"{reason} ({runs} failed run(s) {since})",
        fix,
    )


def _token_fix(account: Account) -> str:
    """What puts a token Back Market refuses right, by where the token is kept."""
    kind, _, variable = account.token_ref.partition(":")
    if kind == "env":
        return (
            f"check the token (revoked or expired?): put a valid one in {variable} "
            "wherever the worker runs, then restart the worker"
        )
    return (
        "check the token in Back Market's back office (revoked or expired?) and "
        f"replace it: bmsync accounts set-token {account.name}"
    )


def _unknown_skus(
    session: Session, account: Account, items: Sequence[OrderItem]
) -> Check:
    name = "no unknown SKU lines"
    unknown = [item for item in items if item.variation_id is None and item.unknown_sku]
    if not unknown:
        return Check(name, True, "every line names a known SKU or variation")
    findings = []
    fixes = []
    for item in unknown:
        code = item.unknown_sku or ""
        in_catalog = find_sku(session, code, account.id) is not None
        listed = (
            session.scalar(
                select(func.count())
                .select_from(Listing)
                .where(
                    Listing.account_id == account.id,
                    func.lower(Listing.sku) == code.lower(),
                )
            )
            or 0
        )
        finding = f"orderline {item.external_orderline_id}: SKU {code}"
        if in_catalog:
            finding += " (in the catalog now, added after the import)"
            fixes.append(
                f"set the item of orderline {item.external_orderline_id} by hand"
            )
        else:
            finding += " (not in the catalog)"
            fixes.append(f"bmsync catalog skus add {code} --variation <id>")
        if not listed:
            finding += ", its listing is not imported"
            fixes.append(
                "import every listing: bmsync settings set "
                f"{account.name} listing-import-scope all"
            )
        findings.append(finding)
    return Check(
        name,
        False,
        "; ".join(findings),
        "; ".join(dict.fromkeys(fixes)),
    )


@dataclass(frozen=True)
class _Committed:
    item: OrderItem
    device: InventoryItem


def _validated_before_shipment(
    session: Session,
    account: Account,
    order: SalesOrder,
    items: Sequence[OrderItem],
    commits: Sequence[_Committed],
) -> Check:
    name = "validated before the shipment"
    shipment = _first_shipment(session, order)
    if shipment is None:
        return Check(name, True, "no shipment added yet")
    validated_at = session.scalar(
        select(func.min(SyncLogEntry.at)).where(
            SyncLogEntry.account_id == account.id,
            SyncLogEntry.kind == ORDER_VALIDATE_KIND,
            SyncLogEntry.external_ref == str(order.external_order_id),
            SyncLogEntry.result == "ok",
        )
    )
    accepted_on_backmarket = any(
        item.external_state in (LINE_ACCEPTED, LINE_SHIPPED) for item in items
    )
    added = f"shipment {shipment.tracking_number} added {_when(shipment.created_at)}"
    if shipment.sent_at is not None:
        return Check(name, True, f"{added}, sent {_when(shipment.sent_at)}")
    if validated_at is None and not accepted_on_backmarket:
        return Check(
            name,
            False,
            f"{added}, but the order is not validated: it is held until it is",
            f"bmsync orders validate {account.name} {order.external_order_id}, or "
            f"bmsync settings set {account.name} auto-validate on",
        )
    if validated_at is not None and validated_at > shipment.created_at:
        when = f"validated later, {_when(validated_at)}"
    else:
        when = "the order is validated"
    if _lines_short_of_devices(items, commits):
        # Held for its devices, which the next check names.
        return Check(name, True, f"{added}, {when}")
    if _shipment_refusal(session, account, order, shipment.created_at) is not None:
        # Sent and refused, which the shipment check names.
        return Check(name, True, f"{added}, {when}")
    return Check(
        name,
        False,
        f"{added}, {when}, yet it is not sent",
        "the held shipment goes with the order's workflow: check the worker runs "
        f"(bmsync status) and bmsync orders show {account.name} "
        f"{order.external_order_id}",
    )


def _devices_for_shipment(
    session: Session,
    account: Account,
    order: SalesOrder,
    items: Sequence[OrderItem],
    commits: Sequence[_Committed],
) -> Check:
    name = "devices committed before the shipment"
    shipment = _first_shipment(session, order)
    if shipment is None or shipment.sent_at is not None:
        return Check(name, True, "no shipment waits for devices")
    short = _lines_short_of_devices(items, commits)
    if not short:
        return Check(name, True, "every open line has its devices committed")
    described = "; ".join(
        f"orderline {item.external_orderline_id} has {have} of {item.quantity}"
        for item, have in short
    )
    fixes = "; ".join(
        f"bmsync orders commit {account.name} {order.external_order_id} "
        f"{item.external_orderline_id} <IMEI>"
        for item, _ in short
    )
    return Check(
        name,
        False,
        f"shipment {shipment.tracking_number} is held until its devices are "
        f"committed: {described}",
        fixes,
    )


def _shipment_taken(session: Session, account: Account, order: SalesOrder) -> Check:
    """Whether Back Market took the order's shipment, or refused it for good."""
    name = "shipment taken by Back Market"
    shipments = session.scalars(
        select(Shipment)
        .where(Shipment.sales_order_id == order.id)
        .order_by(Shipment.created_at.desc(), Shipment.id.desc())
    ).all()
    for shipment in shipments:
        if shipment.sent_at is not None:
            return Check(
                name,
                True,
                f"shipment {shipment.tracking_number} sent {_when(shipment.sent_at)}",
            )
    if not shipments:
        return Check(name, True, "no shipment added yet")
    latest = shipments[0]
    refusal = _shipment_refusal(session, account, order, latest.created_at)
    if refusal is None:
        return Check(name, True, "Back Market has refused no shipment of this order")
    error_class = refusal.error_class or "unknown error"
    return Check(
        name,
        False,
        f"{refusal.detail} ({error_class}, {_when(refusal.at)})",
        _refusal_fix(account, order, error_class),
    )


def _shipment_refusal(
    session: Session, account: Account, order: SalesOrder, since: datetime
) -> SyncLogEntry | None:
    """The latest shipment of the order Back Market refused for good, if any."""
    return session.scalar(
        select(SyncLogEntry)
        .where(
            SyncLogEntry.account_id == account.id,
            SyncLogEntry.kind == SHIPMENT_KIND,
            SyncLogEntry.external_ref == str(order.external_order_id),
            SyncLogEntry.result == "failed",
            SyncLogEntry.at >= since,
        )
        .order_by(SyncLogEntry.at.desc(), SyncLogEntry.id.desc())
        .limit(1)
    )


def _refusal_fix(account: Account, order: SalesOrder, error_class: str) -> str:
    """What to do about a shipment Back Market refused, by why it refused."""
    ship_again = (
        f"bmsync orders ship {account.name} {order.external_order_id} <tracking> "
        "--carrier <carrier>"
    )
    if error_class == "BackMarketNotFound":
        return (
            f"Back Market has no order {order.external_order_id} for this account "
            "(a sandbox forgets its orders when it restarts): check the order in "
            "Back Market's back office and ship it there; it cannot be sent from here"
        )
    if error_class in TOKEN_ERRORS:
        return f"{_token_fix(account)}; then add the shipment again: {ship_again}"
    return (
        "check the tracking number and carrier, then add the shipment again (it "
        f"replaces the refused one): {ship_again}"
    )


def _first_shipment(session: Session, order: SalesOrder) -> Shipment | None:
    return session.scalars(
        select(Shipment)
        .where(Shipment.sales_order_id == order.id)
        .order_by(Shipment.created_at)
        .limit(1)
    ).first()


def _lines_short_of_devices(
    items: Sequence[OrderItem], commits: Sequence[_Committed]
) -> list[tuple[OrderItem, int]]:
    """Open lines with fewer devices committed than units sold, and how many."""
    held = Counter(commit.item.id for commit in commits)
    return [
        (item, held[item.id])
        for item in items
        if item.external_state not in LINE_STATES_CLOSED
        and held[item.id] < item.quantity
    ]


def _auto_validate(account: Account, items: Sequence[OrderItem]) -> Check:
    name = "auto-validate on"
    if account.settings.auto_validate:
        return Check(name, True, "lines are accepted on import")
    waiting = [
        str(item.external_orderline_id)
        for item in items
        if item.external_state == LINE_PAID
    ]
    if not waiting:
        return Check(name, True, "off, but no line of this order waits for it")
    return Check(
        name,
        False,
        f"off, and orderline(s) {', '.join(waiting)} wait to be validated",
        f"bmsync settings set {account.name} auto-validate on, or validate by hand: "
        "bmsync orders validate ...",
    )


def _open_commits(session: Session, items: Sequence[OrderItem]) -> list[_Committed]:
    by_id = {item.id: item for item in items}
    rows = session.execute(
        select(Commit.order_item_id, InventoryItem)
        .join(InventoryItem, InventoryItem.id == Commit.inventory_item_id)
        .where(Commit.order_item_id.in_(by_id), Commit.released_at.is_(None))
        .order_by(Commit.id)
    ).all()
    return [_Committed(by_id[order_item_id], device) for order_item_id, device in rows]


def _identifiers(commits: Sequence[_Committed]) -> Check:
    name = "IMEI/ESN on the committed devices"
    if not commits:
        return Check(name, True, "no device is committed yet")
    missing = [c for c in commits if not c.device.imei]
    if not missing:
        return Check(name, True, f"{len(commits)} committed device(s) have an IMEI")
    described = ", ".join(
        f"device {c.device.id} on orderline {c.item.external_orderline_id}"
        + (" (serial only)" if c.device.serial else "")
        for c in missing
    )
    return Check(
        name,
        False,
        f"no IMEI on {described}: Back Market gets none",
        "record the IMEI on the device, then commit it again",
    )


def _imei_taken(session: Session, account: Account, order: SalesOrder) -> Check:
    """Whether Back Market took the IMEIs sent for the order's lines."""
    name = "IMEIs taken by Back Market"
    entries = session.scalars(
        select(SyncLogEntry)
        .where(
            SyncLogEntry.account_id == account.id,
            SyncLogEntry.kind == IMEI_KIND,
            SyncLogEntry.external_ref == str(order.external_order_id),
        )
        .order_by(SyncLogEntry.at.desc(), SyncLogEntry.id.desc())
    ).all()
    # An IMEI Back Market took since a refusal shows the refusal was put right.
    refusals = list(itertools.takewhile(lambda e: e.result == "failed", entries))
    if not refusals:
        return Check(name, True, "Back Market has refused no IMEI of this order")
    latest = refusals[0]
    error_class = latest.error_class or "unknown error"
    if error_class == "BackMarketNotFound":
        fix = (
            f"Back Market has no order {order.external_order_id} for this account: "
            "check the order in Back Market's back office"
        )
    elif error_class in TOKEN_ERRORS:
        fix = _token_fix(account)
    else:
        fix = (
            "check the device's IMEI (bmsync inventory list), then enter it on the "
            "orderline in Back Market's back office"
        )
    return Check(
        name, False, f"{latest.detail} ({error_class}, {_when(latest.at)})", fix
    )


def _fulfils(session: Session, commits: Sequence[_Committed]) -> Check:
    name = "committed devices fulfil their lines"
    if not commits:
        return Check(name, True, "no device is committed yet")
    wrong = [
        c
        for c in commits
        if order_item_variation(session, c.item) != c.device.variation_id
    ]
    if not wrong:
        return Check(name, True, "every committed device is the variation sold")
    described = ", ".join(
        f"device {c.device.id} on orderline {c.item.external_orderline_id}"
        for c in wrong
    )
    return Check(
        name,
        False,
        f"{described} not the variation sold (committed with allow-mismatch, or "
        "the line's SKU is unknown): no IMEI is sent for them",
        "commit a device of the variation the line sold",
    )


def status_mapping_checks(session: Session, account: Account) -> list[Check]:
    """Whether the status mapping keeps open orders open and closed ones closed."""
    mapped = {
        phase: status
        for phase, status in session.execute(
            select(AccountStatusMap.phase, SalesOrderStatus)
            .join(
                SalesOrderStatus,
                SalesOrderStatus.id == AccountStatusMap.sales_order_status_id,
            )
            .where(AccountStatusMap.account_id == account.id)
        ).all()
    }
    problems = []
    for phase in BackMarketPhase:
        status = mapped.get(phase.value)
        if status is None:
            problems.append(f"{phase.value} is unmapped (its orders cannot be stored)")
        elif phase in OPEN_PHASES and not status.counts_as_open:
            problems.append(
                f"{phase.value} -> {status.name}, which does not count as open "
                "(those units look unsold: risk of overselling)"
            )
        elif phase in CLOSED_PHASES and status.counts_as_open:
            problems.append(
                f"{phase.value} -> {status.name}, which counts as open "
                "(those units stay outstanding)"
            )
    mapping = Check(
        "order status mapping",
        not problems,
        "; ".join(problems) or "open phases map to open statuses, closed to closed",
        ""
        if not problems
        else f"bmsync settings set {account.name} status-map.<phase> <status>; "
        "see bmsync settings show and bmsync catalog statuses list",
    )

    wrongly_open = session.scalars(
        select(SalesOrderStatus.name)
        .where(
            func.lower(SalesOrderStatus.name).in_(CLOSED_STATUS_NAMES),
            SalesOrderStatus.counts_as_open,
        )
        .order_by(SalesOrderStatus.name)
    ).all()
    open_statuses = Check(
        "shipped and cancelled statuses not open",
        not wrongly_open,
        (
            f"{', '.join(wrongly_open)} count(s) as open: the outstanding count "
            "includes orders that are over"
            if wrongly_open
            else "no shipped, cancelled or refunded status counts as open"
        ),
        ""
        if not wrongly_open
        else "add a status that does not count (bmsync catalog statuses add NAME "
        f"--not-open) and map the phase to it: bmsync settings set {account.name} "
        "status-map.shipped NAME",
    )
    return [mapping, open_statuses]


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
