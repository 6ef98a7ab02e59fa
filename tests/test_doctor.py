"""Every answer of the doctor, from the broken situation built in the database."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bmsync.cli import app
from database import inventory as repo
from database.accounts import create_account, set_setting
from database.diagnosis import (
    Check,
    diagnose_listing,
    diagnose_order,
)
from database.listings import lookup_listing
from database.models import (
    Account,
    AccountCountedStatus,
    AccountCountedWarehouse,
    AccountStatusMap,
    Listing,
    ListingVariation,
    SalesOrderStatus,
    Shipment,
    SyncCheckpoint,
    SyncLogEntry,
)
from domain.inventory import VariationSpec
from runtime.settings import get_settings
from tests.world import new_imei

SKU = "IP13-128-BLK-GOOD"
ORDER_ID = 7001
LINE_ID = 70011
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def answer(checks: list[Check], name: str) -> Check:
    found = [check for check in checks if check.name == name]
    assert len(found) == 1, [check.name for check in checks]
    return found[0]


def failing(checks: list[Check]) -> list[str]:
    return [check.name for check in checks if not check.ok]


@pytest.fixture
def account(session: Session) -> Account:
    account = create_account(
        session, name="acme", platform="eu", locale="fr-fr", token_ref="env:T"
    )
    account.settings.quantity_sync = True
    account.settings.auto_validate = True
    session.flush()
    return account


@pytest.fixture
def variation(session: Session) -> int:
    spec = VariationSpec("Apple", "iPhone 13", "Good", "", "128GB", "Black")
    variation_id = repo.get_or_create_variation(session, spec).id
    repo.add_sku(session, SKU, variation_id)
    return variation_id


def add_device(
    session: Session,
    variation_id: int,
    status: str = "Available",
    warehouse: str | None = "Main",
    imei: str | None = "new",
    serial: str | None = None,
) -> int:
    status_row = repo.inventory_status_by_name(session, status)
    assert status_row is not None
    warehouse_id = None
    if warehouse is not None:
        warehouse_row = repo.warehouse_by_name(session, warehouse)
        assert warehouse_row is not None
        warehouse_id = warehouse_row.id
    return repo.add_inventory_item(
        session,
        variation_id=variation_id,
        status_id=status_row.id,
        warehouse_id=warehouse_id,
        imei=new_imei() if imei == "new" else imei,
        serial=serial,
    ).id


# --- listings ---------------------------------------------------------------------


@pytest.fixture
def listing(session: Session, account: Account, variation: int) -> Listing:
    listing = Listing(
        account_id=account.id,
        backmarket_uuid=uuid.uuid4(),
        legacy_listing_id=555,
        sku=SKU,
        quantity=2,
    )
    session.add(listing)
    session.flush()
    add_device(session, variation)
    add_device(session, variation)
    push(session, account, listing, "ok", "pushed 2")
    return listing


def push(
    session: Session,
    account: Account,
    listing: Listing,
    result: str,
    detail: str,
    error_class: str | None = None,
    kind: str = "quantity_push",
) -> None:
    repo.log_sync(
        session,
        account_id=account.id,
        kind=kind,
        direction="push",
        result=result,
        listing_id=listing.id,
        external_ref=str(listing.backmarket_uuid),
        error_class=error_class,
        detail=detail,
    )


def test_a_healthy_listing_passes_every_check(
    session: Session, account: Account, listing: Listing
) -> None:
    checks = diagnose_listing(session, account, SKU)

    assert failing(checks) == []
    assert [check.name for check in checks] == [
        "listing imported",
        "listing mapped",
        "quantity sync on",
        "counted statuses and warehouses set",
        "stock in counted statuses and warehouses",
        "no other system writing",
        "last quantity push",
    ]
    stock = answer(checks, "stock in counted statuses and warehouses")
    assert "2 uncommitted device(s)" in stock.detail
    assert "calculated quantity 2" in stock.detail


def test_a_listing_is_found_by_uuid_legacy_id_or_sku(
    session: Session, account: Account, listing: Listing
) -> None:
    gone = Listing(
        account_id=account.id,
        backmarket_uuid=uuid.uuid4(),
        sku=SKU,
        gone_from_backmarket=True,
    )
    session.add(gone)
    session.flush()

    assert lookup_listing(session, account.id, str(listing.backmarket_uuid)) is listing
    assert lookup_listing(session, account.id, str(listing.id)) is listing
    assert lookup_listing(session, account.id, "555") is listing
    assert lookup_listing(session, account.id, SKU.lower()) is listing
    assert lookup_listing(session, account.id, str(gone.backmarket_uuid)) is gone
    assert lookup_listing(session, account.id, "nothing") is None


@pytest.mark.parametrize(
    ("settings", "fix"),
    [
        ({"listing-import": "off"}, "listing-import on"),
        ({"listing-import-scope": "online"}, "listing-import-scope all"),
        ({}, "next listing import"),
    ],
)
def test_a_listing_never_imported_says_which_setting_keeps_it_out(
    session: Session, account: Account, settings: dict[str, str], fix: str
) -> None:
    for key, value in settings.items():
        set_setting(session, account, key, value)

    checks = diagnose_listing(session, account, "NOT-IMPORTED")

    assert failing(checks) == ["listing imported"]
    assert len(checks) == 1 and fix in checks[0].fix


def test_a_listing_gone_from_back_market_is_not_imported(
    session: Session, account: Account, listing: Listing
) -> None:
    listing.gone_from_backmarket = True
    session.flush()

    imported = answer(
        diagnose_listing(session, account, str(listing.backmarket_uuid)),
        "listing imported",
    )

    assert not imported.ok and "no longer on Back Market" in imported.detail


def test_a_listing_whose_sku_is_not_in_the_catalog_is_unmapped(
    session: Session, account: Account, listing: Listing
) -> None:
    listing.sku = "BM-UNKNOWN"
    session.flush()

    checks = diagnose_listing(session, account, "BM-UNKNOWN")

    mapped = answer(checks, "listing mapped")
    assert not mapped.ok and "not in the catalog" in mapped.detail
    assert "catalog skus add BM-UNKNOWN" in mapped.fix
    # Without variations there is no stock to look for.
    assert "stock in counted statuses and warehouses" not in [c.name for c in checks]


def test_a_listing_mapped_by_variations_needs_one_chosen(
    session: Session, account: Account, listing: Listing, variation: int
) -> None:
    listing.mapping_mode = "variations"
    session.flush()
    before = answer(diagnose_listing(session, account, SKU), "listing mapped")
    session.add(ListingVariation(listing_id=listing.id, variation_id=variation))
    session.flush()
    after = answer(diagnose_listing(session, account, SKU), "listing mapped")

    assert not before.ok and "none is chosen" in before.detail
    assert after.ok and "1 variation(s)" in after.detail


def test_quantity_sync_off_is_reported(
    session: Session, account: Account, listing: Listing
) -> None:
    account.settings.quantity_sync = False

    check = answer(diagnose_listing(session, account, SKU), "quantity sync on")

    assert not check.ok and "quantity-sync on" in check.fix


def test_no_counted_warehouse_or_status_is_reported(
    session: Session, account: Account, listing: Listing
) -> None:
    session.execute(delete(AccountCountedWarehouse))
    session.execute(delete(AccountCountedStatus))

    checks = diagnose_listing(session, account, SKU)

    counted = answer(checks, "counted statuses and warehouses set")
    assert not counted.ok
    assert "no inventory status counts" in counted.detail
    assert "no warehouse counts" in counted.detail
    assert "counted-warehouses Main" in counted.fix
    assert not answer(checks, "stock in counted statuses and warehouses").ok


def test_stock_outside_the_counted_places_is_located(
    session: Session, account: Account, listing: Listing, variation: int
) -> None:
    set_setting(session, account, "counted-statuses", "Reserved")
    add_device(session, variation, status="Testing")
    add_device(session, variation, warehouse=None)

    check = answer(
        diagnose_listing(session, account, SKU),
        "stock in counted statuses and warehouses",
    )

    assert not check.ok
    assert "2 Available in Main" in check.detail
    assert "1 Available in (no warehouse)" in check.detail
    assert "1 Testing in Main" in check.detail
    assert "counted-warehouses" in check.fix


def test_committed_devices_do_not_count_as_stock(
    session: Session, account: Account, variation: int
) -> None:
    listing = Listing(account_id=account.id, backmarket_uuid=uuid.uuid4(), sku=SKU)
    session.add(listing)
    session.flush()
    device = add_device(session, variation)
    order = repo.upsert_backmarket_order(
        session,
        account.id,
        repo.OrderData(ORDER_ID, 3, [repo.OrderLineData(LINE_ID, SKU, 1, 2)]),
    )
    item = repo.order_item_by_orderline(session, LINE_ID)
    assert item is not None and order.created
    repo.commit_item(session, item.id, device)

    check = answer(
        diagnose_listing(session, account, SKU),
        "stock in counted statuses and warehouses",
    )

    assert not check.ok and "no uncommitted device" in check.detail


def test_a_foreign_write_in_the_sync_log_is_reported(
    session: Session, account: Account, listing: Listing
) -> None:
    push(
        session,
        account,
        listing,
        "skipped",
        "Back Market shows 0, we pushed 2",
        kind="foreign_write",
    )

    checks = diagnose_listing(session, account, SKU)

    foreign = answer(checks, "no other system writing")
    assert not foreign.ok and "we pushed 2" in foreign.detail
    assert "overwrite-foreign-writes" in foreign.fix
    # The foreign write is not mistaken for our own last push.
    assert answer(checks, "last quantity push").detail.startswith("quantity_push ok")


@pytest.mark.skipif(
    not hasattr(Listing, "foreign_write_at"), reason="no foreign-write columns"
)
def test_a_foreign_write_marked_on_the_listing_is_reported(
    session: Session, account: Account, listing: Listing
) -> None:
    listing.foreign_write_at = T0
    listing.foreign_write_quantity = 0
    session.flush()

    foreign = answer(diagnose_listing(session, account, SKU), "no other system writing")

    assert not foreign.ok and "Back Market held 0" in foreign.detail


def test_a_failed_last_push_shows_its_error_class(
    session: Session, account: Account, listing: Listing
) -> None:
    push(session, account, listing, "failed", "429 for an hour", "RateLimited")

    check = answer(diagnose_listing(session, account, SKU), "last quantity push")

    assert not check.ok and "RateLimited" in check.detail
    assert f"--listing {listing.id}" in check.fix


def test_a_listing_never_pushed_is_reported(
    session: Session, account: Account, listing: Listing
) -> None:
    session.execute(delete(SyncLogEntry))
    never = answer(diagnose_listing(session, account, SKU), "last quantity push")
    listing.last_pushed_at = T0
    listing.last_pushed_quantity = 2
    remembered = answer(diagnose_listing(session, account, SKU), "last quantity push")

    assert not never.ok and "nothing was ever pushed" in never.detail
    assert remembered.ok and "pushed 2" in remembered.detail


# --- orders -----------------------------------------------------------------------


def import_order(
    session: Session,
    account: Account,
    sku: str = SKU,
    line_state: int = 2,
    order_state: int = 3,
) -> int:
    """Store an order as the import would; its sales order id."""
    result = repo.upsert_backmarket_order(
        session,
        account.id,
        repo.OrderData(
            ORDER_ID,
            order_state,
            [repo.OrderLineData(LINE_ID, sku, 1, line_state, Decimal("300"), "EUR")],
            customer_name="Jane Doe",
        ),
    )
    return result.sales_order_id


def commit(session: Session, device: int, allow_mismatch: bool = False) -> None:
    item = repo.order_item_by_orderline(session, LINE_ID)
    assert item is not None
    repo.commit_item(session, item.id, device, allow_mismatch)


def validated_at(session: Session, account: Account, at: datetime) -> None:
    session.add(
        SyncLogEntry(
            at=at,
            account_id=account.id,
            kind="order_validate",
            direction="push",
            result="ok",
            external_ref=str(ORDER_ID),
            detail=f"accepted orderline {LINE_ID}",
        )
    )
    session.flush()


def ship(
    session: Session, sales_order_id: int, at: datetime, sent: datetime | None = None
) -> None:
    session.add(
        Shipment(
            sales_order_id=sales_order_id,
            tracking_number="1Z-DOC",
            created_at=at,
            sent_at=sent,
        )
    )
    session.flush()


def test_a_healthy_order_passes_every_check(
    session: Session, account: Account, variation: int
) -> None:
    import_order(session, account)
    commit(session, add_device(session, variation))

    checks = diagnose_order(session, account, ORDER_ID)

    assert failing(checks) == []
    assert [check.name for check in checks] == [
        "order import on",
        "order import runs",
        "order imported",
        "no unknown SKU lines",
        "validated before the shipment",
        "devices committed before the shipment",
        "shipment taken by Back Market",
        "auto-validate on",
        "IMEI/ESN on the committed devices",
        "IMEIs taken by Back Market",
        "committed devices fulfil their lines",
        "IMEI sync on",
        "order status mapping",
        "shipped and cancelled statuses not open",
    ]
    assert "Jane" not in " ".join(c.detail + c.fix for c in checks)


def test_an_order_not_imported_with_order_import_off(
    session: Session, account: Account
) -> None:
    account.settings.order_import = False

    checks = diagnose_order(session, account, ORDER_ID)

    assert failing(checks) == ["order import on", "order imported"]
    assert "order-import on" in checks[0].fix
    assert "every 30 s" in answer(checks, "order imported").fix


def test_an_unknown_sku_line_not_in_catalog_nor_listings(
    session: Session, account: Account, variation: int
) -> None:
    import_order(session, account, sku="BM-NEW-SKU")

    check = answer(diagnose_order(session, account, ORDER_ID), "no unknown SKU lines")

    assert not check.ok
    assert f"orderline {LINE_ID}: SKU BM-NEW-SKU (not in the catalog)" in check.detail
    assert "its listing is not imported" in check.detail
    assert "catalog skus add BM-NEW-SKU" in check.fix
    assert "listing-import-scope all" in check.fix


def test_an_unknown_sku_added_to_the_catalog_after_the_import(
    session: Session, account: Account, variation: int
) -> None:
    session.add(Listing(account_id=account.id, backmarket_uuid=uuid.uuid4(), sku="X1"))
    session.flush()
    import_order(session, account, sku="X1")
    repo.add_sku(session, "X1", variation)

    check = answer(diagnose_order(session, account, ORDER_ID), "no unknown SKU lines")

    assert not check.ok and "in the catalog now" in check.detail
    assert "listing is not imported" not in check.detail
    assert "by hand" in check.fix


def test_a_shipment_added_before_validation_is_held(
    session: Session, account: Account, variation: int
) -> None:
    account.settings.auto_validate = False
    sales_order_id = import_order(session, account, line_state=1, order_state=1)
    ship(session, sales_order_id, T0)

    checks = diagnose_order(session, account, ORDER_ID)

    held = answer(checks, "validated before the shipment")
    assert not held.ok and "not validated" in held.detail
    assert f"orders validate acme {ORDER_ID}" in held.fix
    auto = answer(checks, "auto-validate on")
    assert not auto.ok and str(LINE_ID) in auto.detail


def test_a_shipment_validated_later_but_still_unsent_is_reported(
    session: Session, account: Account, variation: int
) -> None:
    sales_order_id = import_order(session, account)
    commit(session, add_device(session, variation))
    ship(session, sales_order_id, T0)
    validated_at(session, account, T0 + timedelta(minutes=5))

    check = answer(
        diagnose_order(session, account, ORDER_ID), "validated before the shipment"
    )

    assert not check.ok and "validated later" in check.detail
    assert "worker" in check.fix


def test_a_shipment_waiting_for_its_device_names_the_line_to_commit(
    session: Session, account: Account, variation: int
) -> None:
    sales_order_id = import_order(session, account)
    validated_at(session, account, T0)
    ship(session, sales_order_id, T0 + timedelta(minutes=1))

    checks = diagnose_order(session, account, ORDER_ID)

    assert answer(checks, "validated before the shipment").ok
    held = answer(checks, "devices committed before the shipment")
    assert not held.ok
    assert f"orderline {LINE_ID} has 0 of 1" in held.detail
    assert f"bmsync orders commit acme {ORDER_ID} {LINE_ID}" in held.fix


def test_a_shipment_sent_after_validation_is_fine(
    session: Session, account: Account, variation: int
) -> None:
    sales_order_id = import_order(session, account)
    validated_at(session, account, T0)
    ship(session, sales_order_id, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))

    check = answer(
        diagnose_order(session, account, ORDER_ID), "validated before the shipment"
    )

    assert check.ok and "sent" in check.detail


def test_auto_validate_off_is_fine_once_the_order_is_validated(
    session: Session, account: Account, variation: int
) -> None:
    account.settings.auto_validate = False
    import_order(session, account, line_state=2)

    check = answer(diagnose_order(session, account, ORDER_ID), "auto-validate on")

    assert check.ok and "no line" in check.detail


def test_a_committed_device_without_imei_is_reported(
    session: Session, account: Account, variation: int
) -> None:
    import_order(session, account)
    device = add_device(session, variation, imei=None, serial="F2LSERIAL")
    commit(session, device)

    check = answer(
        diagnose_order(session, account, ORDER_ID), "IMEI/ESN on the committed devices"
    )

    assert not check.ok
    assert f"device {device} on orderline {LINE_ID} (serial only)" in check.detail
    assert "record the IMEI" in check.fix


def test_a_device_that_does_not_fulfil_the_line_is_reported(
    session: Session, account: Account, variation: int
) -> None:
    import_order(session, account)
    other = repo.get_or_create_variation(
        session, VariationSpec("Apple", "iPhone 12", "Good")
    ).id
    device = add_device(session, other)
    commit(session, device, allow_mismatch=True)

    check = answer(
        diagnose_order(session, account, ORDER_ID),
        "committed devices fulfil their lines",
    )

    assert not check.ok and f"device {device}" in check.detail


def test_imei_sync_off_is_reported(
    session: Session, account: Account, variation: int
) -> None:
    import_order(session, account)
    account.settings.imei_sync = False

    check = answer(diagnose_order(session, account, ORDER_ID), "IMEI sync on")

    assert not check.ok and "imei-sync on" in check.fix


def failed_import(
    session: Session, account: Account, at: datetime, error_class: str
) -> None:
    """A scheduled order import run that failed, as the run records it."""
    session.add(
        SyncLogEntry(
            at=at,
            account_id=account.id,
            kind="order_import",
            direction="pull",
            result="failed",
            error_class=error_class,
            detail="the run failed: 401 GET /ws/orders: Invalid token",
        )
    )
    session.flush()


def orders_read(session: Session, account: Account, at: datetime) -> None:
    session.add(
        SyncCheckpoint(account_id=account.id, kind="orders_read", updated_at=at)
    )
    session.flush()


def test_an_import_that_fails_every_run_names_the_error_and_the_token(
    session: Session, account: Account
) -> None:
    orders_read(session, account, T0)
    for minutes in (1, 2):
        failed_import(
            session, account, T0 + timedelta(minutes=minutes), "BackMarketUnauthorized"
        )

    checks = diagnose_order(session, account, ORDER_ID)

    assert answer(checks, "order import on").ok
    runs = answer(checks, "order import runs")
    assert not runs.ok
    assert "failed 2026-05-01 12:02:00 UTC with BackMarketUnauthorized" in runs.detail
    assert "401 GET /ws/orders: Invalid token" in runs.detail
    assert "the run failed" not in runs.detail
    assert "2 failed run(s) since it last worked, 2026-05-01 12:00:00" in runs.detail
    # The account keeps its token in the variable T.
    assert "put a valid one in T wherever the worker runs" in runs.fix


def test_a_stored_token_refused_says_how_to_replace_it(
    session: Session, account: Account
) -> None:
    account.token_ref = "enc:ciphertext"
    failed_import(session, account, T0, "BackMarketForbidden")

    runs = answer(diagnose_order(session, account, ORDER_ID), "order import runs")

    assert not runs.ok and "1 failed run(s) ever" in runs.detail
    assert "back office" in runs.fix
    assert "bmsync accounts set-token acme" in runs.fix


def test_an_import_that_fails_for_another_reason_points_at_the_log(
    session: Session, account: Account
) -> None:
    failed_import(session, account, T0, "BackMarketServerError")

    runs = answer(diagnose_order(session, account, ORDER_ID), "order import runs")

    assert not runs.ok and "BackMarketServerError" in runs.detail
    assert "bmsync log --account acme --result failed" in runs.fix


def test_an_import_that_read_back_market_since_it_failed_is_fine(
    session: Session, account: Account
) -> None:
    failed_import(session, account, T0, "BackMarketUnauthorized")
    orders_read(session, account, T0 + timedelta(minutes=5))

    runs = answer(diagnose_order(session, account, ORDER_ID), "order import runs")

    assert runs.ok and "after a run failed 2026-05-01 12:00:00" in runs.detail


def order_write(
    session: Session,
    account: Account,
    at: datetime,
    kind: str,
    detail: str,
    error_class: str | None = None,
) -> None:
    """A write for the order, as its activity logs it: failed when it has an error."""
    session.add(
        SyncLogEntry(
            at=at,
            account_id=account.id,
            kind=kind,
            direction="push",
            result="ok" if error_class is None else "failed",
            external_ref=str(ORDER_ID),
            error_class=error_class,
            detail=detail,
        )
    )
    session.flush()


def refused_shipment(
    session: Session, account: Account, at: datetime, error_class: str, detail: str
) -> None:
    """Back Market's refusal of the shipment, as the shipping activity records it."""
    order_write(
        session,
        account,
        at,
        "shipment",
        f"Back Market refused shipment 1Z-DOC: {detail}",
        error_class,
    )


def test_a_shipment_back_market_does_not_know_is_named_not_blamed_on_the_worker(
    session: Session, account: Account, variation: int
) -> None:
    sales_order_id = import_order(session, account)
    commit(session, add_device(session, variation))
    validated_at(session, account, T0)
    ship(session, sales_order_id, T0 + timedelta(minutes=1))
    refused_shipment(
        session,
        account,
        T0 + timedelta(minutes=2),
        "BackMarketNotFound",
        f"404 POST /ws/orders/{ORDER_ID}: Not found",
    )

    checks = diagnose_order(session, account, ORDER_ID)

    assert failing(checks) == ["shipment taken by Back Market"]
    taken = answer(checks, "shipment taken by Back Market")
    assert taken.detail == (
        f"Back Market refused shipment 1Z-DOC: 404 POST /ws/orders/{ORDER_ID}: Not "
        "found (BackMarketNotFound, 2026-05-01 12:02:00 UTC)"
    )
    assert f"Back Market has no order {ORDER_ID} for this account" in taken.fix
    assert "worker" not in " ".join(check.fix for check in checks)


def test_a_shipment_back_market_found_wrong_is_to_be_added_again(
    session: Session, account: Account, variation: int
) -> None:
    sales_order_id = import_order(session, account)
    commit(session, add_device(session, variation))
    ship(session, sales_order_id, T0)
    refused_shipment(
        session,
        account,
        T0 + timedelta(minutes=1),
        "BackMarketBadRequest",
        "400 POST: bad tracking",
    )

    taken = answer(
        diagnose_order(session, account, ORDER_ID), "shipment taken by Back Market"
    )

    assert not taken.ok and "BackMarketBadRequest" in taken.detail
    assert f"bmsync orders ship acme {ORDER_ID} <tracking>" in taken.fix


def test_a_refusal_before_the_shipment_was_added_again_is_past(
    session: Session, account: Account, variation: int
) -> None:
    sales_order_id = import_order(session, account)
    commit(session, add_device(session, variation))
    refused_shipment(session, account, T0, "BackMarketBadRequest", "400 POST: bad")
    ship(session, sales_order_id, T0 + timedelta(minutes=1))

    taken = answer(
        diagnose_order(session, account, ORDER_ID), "shipment taken by Back Market"
    )

    assert taken.ok and "refused no shipment" in taken.detail


def status_named(session: Session, name: str) -> int:
    found = session.scalar(
        select(SalesOrderStatus.id).where(SalesOrderStatus.name == name)
    )
    assert found is not None
    return found


def test_an_imei_back_market_refused_is_reported_until_one_is_taken(
    session: Session, account: Account, variation: int
) -> None:
    import_order(session, account)
    commit(session, add_device(session, variation))
    order_write(
        session,
        account,
        T0,
        "imei_sync",
        "Back Market refused the IMEI of orderline 7: 404 Not found",
        "BackMarketNotFound",
    )

    refused = answer(
        diagnose_order(session, account, ORDER_ID), "IMEIs taken by Back Market"
    )
    order_write(session, account, T0 + timedelta(minutes=1), "imei_sync", "IMEI sent")
    taken = answer(
        diagnose_order(session, account, ORDER_ID), "IMEIs taken by Back Market"
    )

    assert not refused.ok
    assert "refused the IMEI of orderline 7" in refused.detail
    assert "back office" in refused.fix
    assert taken.ok


def test_a_closed_phase_mapped_to_an_open_status_is_reported(
    session: Session, account: Account
) -> None:
    # `settings set` refuses these; a mapping edited in the database is not.
    for phase, name in (("shipped", "Open"), ("paid", "Refunded")):
        mapping_row = session.get(AccountStatusMap, (account.id, phase))
        assert mapping_row is not None
        mapping_row.sales_order_status_id = status_named(session, name)
    session.flush()

    checks = diagnose_order(session, account, ORDER_ID)

    mapping = answer(checks, "order status mapping")
    assert not mapping.ok
    assert "shipped -> Open, which counts as open" in mapping.detail
    assert "paid -> Refunded, which does not count as open" in mapping.detail
    assert "status-map." in mapping.fix


def test_an_unmapped_phase_is_reported(session: Session, account: Account) -> None:
    session.execute(
        delete(AccountStatusMap).where(AccountStatusMap.phase == "cancelled")
    )

    mapping = answer(diagnose_order(session, account, ORDER_ID), "order status mapping")

    assert not mapping.ok and "cancelled is unmapped" in mapping.detail


def test_shipped_and_cancelled_statuses_counting_as_open_are_reported(
    session: Session, account: Account, variation: int
) -> None:
    import_order(session, account)
    session.execute(
        update(SalesOrderStatus)
        .where(SalesOrderStatus.name.in_(["Shipped", "Cancelled"]))
        .values(counts_as_open=True)
    )

    checks = diagnose_order(session, account, ORDER_ID)

    statuses = answer(checks, "shipped and cancelled statuses not open")
    assert not statuses.ok
    assert "Cancelled, Shipped count(s) as open" in statuses.detail
    assert "--not-open" in statuses.fix
    assert not answer(checks, "order status mapping").ok


# --- the command ------------------------------------------------------------------


@pytest.fixture
def runner(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BMSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "250")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_the_command_prints_each_check_and_exits_1_on_a_failure(
    runner: CliRunner, session: Session, account: Account, listing: Listing
) -> None:
    session.commit()
    healthy = runner.invoke(app, ["doctor", "listing", "acme", SKU])
    account.settings.quantity_sync = False
    session.commit()
    broken = runner.invoke(app, ["doctor", "listing", "acme", SKU])
    order = runner.invoke(app, ["doctor", "order", "acme", str(ORDER_ID)])
    nobody = runner.invoke(app, ["doctor", "order", "nobody", "1"])

    assert healthy.exit_code == 0, healthy.output
    assert "ok   listing mapped: SKU" in healthy.output
    assert "all 7 checks passed" in healthy.output
    assert broken.exit_code == 1
    assert "FAIL quantity sync on: quantity sync is off" in broken.output
    assert "fix: bmsync settings set acme quantity-sync on" in broken.output
    assert order.exit_code == 1 and "FAIL order imported" in order.output
    assert nobody.exit_code == 1 and "no account named 'nobody'" in nobody.stderr
