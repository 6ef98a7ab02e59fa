"""The inventory schema: the migration matches the models, and the database enforces
every uniqueness the real world has."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from database.migrate import alembic_config, current_revision, head_revision, upgrade
from database.models import (
    Account,
    AccountSettings,
    Base,
    Commit,
    InventoryItem,
    InventoryStatus,
    Listing,
    OrderItem,
    Product,
    ProductVariation,
    Rma,
    SalesOrder,
    SalesOrderStatus,
    Shipment,
    Sku,
    SyncCheckpoint,
    Warehouse,
)


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_go_down_and_up_again(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "0001")
    assert current_revision(database_url) == "0001"
    upgrade(database_url, "head")
    assert current_revision(database_url) == head_revision()


def test_seeded_statuses_and_warehouse(session: Session) -> None:
    statuses = set(session.scalars(select(InventoryStatus.name)))
    assert {"Available", "Reserved", "Testing", "Sold", "Returned"} <= statuses
    rows = session.execute(
        select(SalesOrderStatus.name, SalesOrderStatus.counts_as_open)
    )
    open_flags = {name: is_open for name, is_open in rows}
    assert open_flags["Open"] and open_flags["Validated"]
    assert not open_flags["Shipped"] and not open_flags["Cancelled"]
    assert not open_flags["Refunded"]
    assert session.scalar(select(Warehouse.name)) == "Main"


# --- uniqueness, one rule per test ------------------------------------------------


def _account(session: Session, name: str = "acme") -> Account:
    account = Account(name=name, platform="eu", locale="fr-fr", token_ref="env:X")
    account.settings = AccountSettings()
    session.add(account)
    session.flush()
    return account


def _variation(session: Session, colour: str = "Black") -> ProductVariation:
    product = session.scalar(select(Product).where(Product.model == "iPhone 13"))
    if product is None:
        product = Product(manufacturer="Apple", model="iPhone 13")
        session.add(product)
        session.flush()
    variation = ProductVariation(
        product_id=product.id,
        grade="Good",
        condition="Refurbished",
        storage="128GB",
        colour=colour,
        network="Unlocked",
    )
    session.add(variation)
    session.flush()
    return variation


def _id_of(session: Session, model: type[Warehouse | InventoryStatus]) -> int:
    found = session.scalar(select(model.id).order_by(model.id))
    assert found is not None
    return found


def _item(session: Session, imei: str | None) -> InventoryItem:
    item = InventoryItem(
        imei=imei,
        variation_id=_variation_id(session),
        status_id=_id_of(session, InventoryStatus),
        warehouse_id=_id_of(session, Warehouse),
    )
    session.add(item)
    session.flush()
    return item


def _variation_id(session: Session) -> int:
    found = session.scalar(select(ProductVariation.id))
    return found if found is not None else _variation(session).id


def _order(session: Session, account: Account, external_id: int) -> SalesOrder:
    status = session.scalar(select(SalesOrderStatus.id))
    assert status is not None
    order = SalesOrder(
        channel="Backmarket",
        account_id=account.id,
        external_order_id=external_id,
        status_id=status,
    )
    session.add(order)
    session.flush()
    return order


def _order_item(session: Session, order: SalesOrder, line: int | None) -> OrderItem:
    item = OrderItem(sales_order_id=order.id, quantity=1, external_orderline_id=line)
    session.add(item)
    session.flush()
    return item


def _rejects(session: Session, make: Callable[[], object]) -> None:
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            make()
            session.flush()


def test_account_names_are_unique(session: Session) -> None:
    _account(session)
    _rejects(session, lambda: _account(session))


def test_warehouse_names_are_unique_whatever_the_case(session: Session) -> None:
    _rejects(session, lambda: session.add(Warehouse(name="MAIN")))


def test_inventory_status_names_are_unique(session: Session) -> None:
    _rejects(session, lambda: session.add(InventoryStatus(name="available")))


def test_sales_order_status_names_are_unique(session: Session) -> None:
    _rejects(
        session, lambda: session.add(SalesOrderStatus(name="open", counts_as_open=True))
    )


def test_products_are_unique_by_manufacturer_and_model(session: Session) -> None:
    session.add(Product(manufacturer="Apple", model="iPhone 13"))
    session.flush()
    _rejects(
        session, lambda: session.add(Product(manufacturer="apple", model="IPHONE 13"))
    )


def test_variations_are_unique_on_their_attributes(session: Session) -> None:
    _variation(session, "Black")
    _variation(session, "Blue")
    _rejects(session, lambda: _variation(session, "black"))


def test_sku_codes_are_unique_among_global_codes(session: Session) -> None:
    variation = _variation(session)
    session.add(Sku(code="IP13-128-BLK-GOOD", variation_id=variation.id))
    session.flush()
    _rejects(
        session,
        lambda: session.add(Sku(code="ip13-128-blk-good", variation_id=variation.id)),
    )


def test_sku_codes_are_unique_within_an_account(session: Session) -> None:
    variation = _variation(session)
    first, second = _account(session, "eu"), _account(session, "us")
    session.add(Sku(code="X-1", variation_id=variation.id, account_id=first.id))
    # The same code in another account, or as a global code, is a different row.
    session.add(Sku(code="X-1", variation_id=variation.id, account_id=second.id))
    session.add(Sku(code="X-1", variation_id=variation.id))
    session.flush()
    _rejects(
        session,
        lambda: session.add(
            Sku(code="x-1", variation_id=variation.id, account_id=first.id)
        ),
    )


def test_a_variation_may_have_several_skus(session: Session) -> None:
    variation = _variation(session)
    session.add_all(
        [Sku(code=c, variation_id=variation.id) for c in ("A-1", "A-2", "A-3")]
    )
    session.flush()
    assert len(session.scalars(select(Sku)).all()) == 3


def test_imeis_are_unique(session: Session) -> None:
    _item(session, "490154203237518")
    _item(session, None)
    _item(session, None)
    _rejects(session, lambda: _item(session, "490154203237518"))


def test_an_imei_is_fifteen_digits(session: Session) -> None:
    _rejects(session, lambda: _item(session, "49015420323751"))


def test_orders_are_unique_per_account_and_external_id(session: Session) -> None:
    first, second = _account(session, "eu"), _account(session, "us")
    _order(session, first, 1001)
    _order(session, second, 1001)
    _rejects(session, lambda: _order(session, first, 1001))


def test_orderlines_are_imported_once(session: Session) -> None:
    order = _order(session, _account(session), 1001)
    _order_item(session, order, 5001)
    _order_item(session, order, None)
    _order_item(session, order, None)
    _rejects(session, lambda: _order_item(session, order, 5001))


def test_a_device_is_committed_to_one_open_order_item(session: Session) -> None:
    order = _order(session, _account(session), 1001)
    first, second = _order_item(session, order, 1), _order_item(session, order, 2)
    device = _item(session, "490154203237518")
    commit = Commit(inventory_item_id=device.id, order_item_id=first.id)
    session.add(commit)
    session.flush()
    _rejects(
        session,
        lambda: session.add(
            Commit(inventory_item_id=device.id, order_item_id=second.id)
        ),
    )

    # Once released, the device may be committed again.
    commit.released_at = datetime.now(UTC)
    session.add(Commit(inventory_item_id=device.id, order_item_id=second.id))
    session.flush()


def test_rmas_are_unique_per_account_and_claim(session: Session) -> None:
    account = _account(session)
    session.add(Rma(account_id=account.id, care_folder_id=1, claim_id=7))
    session.flush()
    _rejects(
        session,
        lambda: session.add(Rma(account_id=account.id, care_folder_id=2, claim_id=7)),
    )


def test_listings_are_unique_per_account_and_uuid(session: Session) -> None:
    account = _account(session)
    same = uuid.uuid4()
    session.add(Listing(account_id=account.id, backmarket_uuid=same, sku="A"))
    session.flush()
    _rejects(
        session,
        lambda: session.add(
            Listing(account_id=account.id, backmarket_uuid=same, sku="B")
        ),
    )


def test_a_tracking_number_is_added_to_an_order_once(session: Session) -> None:
    order = _order(session, _account(session), 1001)
    session.add(Shipment(sales_order_id=order.id, tracking_number="1Z", carrier="UPS"))
    session.flush()
    _rejects(
        session,
        lambda: session.add(
            Shipment(sales_order_id=order.id, tracking_number="1Z", carrier="UPS")
        ),
    )


def test_checkpoints_are_unique_per_account_and_kind(session: Session) -> None:
    account = _account(session)
    session.add(SyncCheckpoint(account_id=account.id, kind="orders"))
    session.flush()
    _rejects(
        session,
        lambda: session.add(SyncCheckpoint(account_id=account.id, kind="orders")),
    )
