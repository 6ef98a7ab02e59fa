"""The calculated quantity, branch by branch, on real Postgres."""

import itertools
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from database import inventory as repo
from database.accounts import create_account, set_setting
from database.models import (
    Account,
    Commit,
    InventoryItem,
    Listing,
    ListingVariation,
    OrderItem,
    SalesOrder,
)
from database.quantity import (
    REASON_NO_VARIATION_CHOSEN,
    REASON_SKU_NOT_IN_CATALOG,
    ListingQuantity,
    calculated_quantities,
    calculated_quantity,
)
from domain.imei import luhn_check_digit
from domain.inventory import VariationSpec

_serial = itertools.count(10_000_000)


def imei() -> str:
    first14 = f"35{next(_serial):012d}"
    return first14 + luhn_check_digit(first14)


class Stock:
    """A small world: one account, a few variations, helpers to add to it."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.account = create_account(
            session, name="acme", platform="eu", locale="fr-fr", token_ref="env:T"
        )
        self.black = self.variation("Black")
        self.blue = self.variation("Blue")
        self.sku_black = repo.add_sku(session, "IP13-128-BLK-GOOD", self.black)

    def variation(self, colour: str) -> int:
        spec = VariationSpec(
            "Apple", "iPhone 13", "Good", "Refurbished", "128GB", colour
        )
        return repo.get_or_create_variation(self.session, spec).id

    def devices(
        self,
        variation: int,
        count: int,
        status: str = "Available",
        warehouse: str | None = "Main",
    ) -> list[InventoryItem]:
        status_row = repo.inventory_status_by_name(self.session, status)
        warehouse_row = (
            None
            if warehouse is None
            else repo.warehouse_by_name(self.session, warehouse)
        )
        assert status_row is not None
        return [
            repo.add_inventory_item(
                self.session,
                imei=imei(),
                variation_id=variation,
                status_id=status_row.id,
                warehouse_id=None if warehouse_row is None else warehouse_row.id,
            )
            for _ in range(count)
        ]

    def listing(
        self,
        sku: str = "IP13-128-BLK-GOOD",
        variations: list[int] | None = None,
        buffer: int | None = None,
        account: Account | None = None,
    ) -> int:
        listing = Listing(
            account_id=(account or self.account).id,
            backmarket_uuid=uuid.uuid4(),
            sku=sku,
            mapping_mode="sku" if variations is None else "variations",
            safety_buffer=buffer,
        )
        self.session.add(listing)
        self.session.flush()
        for variation in variations or []:
            self.session.add(
                ListingVariation(listing_id=listing.id, variation_id=variation)
            )
        self.session.flush()
        return listing.id

    def order(
        self,
        variation: int | None,
        quantity: int = 1,
        status: str = "Open",
        sku_id: int | None = None,
        listing_id: int | None = None,
    ) -> OrderItem:
        status_row = repo.sales_order_status_by_name(self.session, status)
        assert status_row is not None
        order = SalesOrder(channel="Backmarket", status_id=status_row.id)
        self.session.add(order)
        self.session.flush()
        item = OrderItem(
            sales_order_id=order.id,
            variation_id=variation,
            sku_id=sku_id,
            listing_id=listing_id,
            unknown_sku=None if variation or sku_id else "BMTESTSKU1",
            quantity=quantity,
        )
        self.session.add(item)
        self.session.flush()
        return item

    def commit(self, device: InventoryItem, item: OrderItem) -> Commit:
        commit = Commit(inventory_item_id=device.id, order_item_id=item.id)
        self.session.add(commit)
        self.session.flush()
        return commit

    def quantity(self, listing_id: int) -> ListingQuantity:
        found = calculated_quantity(self.session, self.account.id, listing_id)
        assert found is not None
        return found


@pytest.fixture
def stock(session: Session) -> Stock:
    return Stock(session)


def test_counted_devices_of_the_skus_variation_are_available(stock: Stock) -> None:
    stock.devices(stock.black, 3)
    stock.devices(stock.blue, 2)
    listing = stock.listing()

    assert stock.quantity(listing) == ListingQuantity(listing, 3, 0, 0, 3, None)


def test_the_sku_match_ignores_case(stock: Stock) -> None:
    stock.devices(stock.black, 2)
    assert stock.quantity(stock.listing("ip13-128-blk-good")).quantity == 2


def test_only_counted_statuses_count(stock: Stock) -> None:
    stock.devices(stock.black, 2)
    stock.devices(stock.black, 4, status="Testing")
    listing = stock.listing()
    assert stock.quantity(listing).available == 2

    set_setting(stock.session, stock.account, "counted-statuses", "Available,Testing")
    assert stock.quantity(listing).available == 6


def test_only_counted_warehouses_count(stock: Stock) -> None:
    repo.add_warehouse(stock.session, "Repair Bench")
    stock.devices(stock.black, 2)
    stock.devices(stock.black, 5, warehouse="Repair Bench")
    stock.devices(stock.black, 7, warehouse=None)
    listing = stock.listing()
    assert stock.quantity(listing).available == 2

    set_setting(stock.session, stock.account, "counted-warehouses", "repair bench")
    assert stock.quantity(listing).available == 5


def test_chosen_variations_add_up(stock: Stock) -> None:
    stock.devices(stock.black, 3)
    stock.devices(stock.blue, 2)
    listing = stock.listing("BM-ANY", variations=[stock.black, stock.blue])
    assert stock.quantity(listing).available == 5


def test_several_skus_of_one_variation_count_its_stock_once(stock: Stock) -> None:
    repo.add_sku(stock.session, "IP13-128-BLACK-B", stock.black)
    repo.add_sku(stock.session, "ALT-BLACK", stock.black, stock.account.id)
    stock.devices(stock.black, 3)
    assert stock.quantity(stock.listing("IP13-128-BLACK-B")).available == 3
    assert stock.quantity(stock.listing("alt-black")).available == 3
    assert stock.quantity(stock.listing()).available == 3


def test_an_accounts_own_sku_shadows_the_global_one(stock: Stock) -> None:
    repo.add_sku(stock.session, "IP13-128-BLK-GOOD", stock.blue, stock.account.id)
    stock.devices(stock.black, 3)
    stock.devices(stock.blue, 1)
    assert stock.quantity(stock.listing()).available == 1


def test_outstanding_counts_open_orders_only(stock: Stock) -> None:
    stock.devices(stock.black, 5)
    stock.order(stock.black, 2, status="Open")
    stock.order(stock.black, 1, status="Validated")
    stock.order(stock.black, 3, status="Shipped")
    stock.order(stock.black, 4, status="Cancelled")
    stock.order(stock.blue, 1, status="Open")
    stock.order(None, 1, status="Open", sku_id=stock.sku_black.id)

    listing = stock.listing()
    assert stock.quantity(listing) == ListingQuantity(listing, 5, 4, 0, 1, None)


def test_open_orders_sold_under_an_unknown_sku_count_against_their_listing(
    stock: Stock,
) -> None:
    stock.devices(stock.black, 5)
    listing = stock.listing("BMTESTSKU1", variations=[stock.black])
    other = stock.listing("OTHER", variations=[stock.black])
    stock.order(None, 2, listing_id=listing)

    assert stock.quantity(listing).outstanding == 2
    assert stock.quantity(other).outstanding == 0


def test_a_committed_device_leaves_both_sides(stock: Stock) -> None:
    devices = stock.devices(stock.black, 5)
    item = stock.order(stock.black, 2)
    listing = stock.listing()
    assert (stock.quantity(listing).available, stock.quantity(listing).outstanding) == (
        5,
        2,
    )

    commit = stock.commit(devices[0], item)
    assert (stock.quantity(listing).available, stock.quantity(listing).outstanding) == (
        4,
        1,
    )
    assert stock.quantity(listing).quantity == 3

    commit.released_at = datetime.now(UTC)
    stock.session.flush()
    assert stock.quantity(listing).available == 5


def test_a_device_committed_to_a_closed_order_is_not_available(stock: Stock) -> None:
    devices = stock.devices(stock.black, 2)
    stock.commit(devices[0], stock.order(stock.black, 1, status="Shipped"))
    assert stock.quantity(stock.listing()).quantity == 1


def test_over_committed_items_do_not_go_negative(stock: Stock) -> None:
    devices = stock.devices(stock.black, 4)
    item = stock.order(stock.black, 1)
    stock.commit(devices[0], item)
    stock.commit(devices[1], item)
    assert stock.quantity(stock.listing()).outstanding == 0


def test_the_account_buffer_is_held_back(stock: Stock) -> None:
    stock.devices(stock.black, 5)
    set_setting(stock.session, stock.account, "safety-buffer", "2")
    assert stock.quantity(stock.listing()).quantity == 3
    assert stock.quantity(stock.listing()).buffer == 2


def test_a_listing_buffer_overrides_the_accounts(stock: Stock) -> None:
    stock.devices(stock.black, 5)
    set_setting(stock.session, stock.account, "safety-buffer", "2")
    assert stock.quantity(stock.listing(buffer=0)).quantity == 5
    assert stock.quantity(stock.listing(buffer=4)).quantity == 1


def test_the_quantity_is_never_negative(stock: Stock) -> None:
    stock.devices(stock.black, 1)
    stock.order(stock.black, 3)
    result = stock.quantity(stock.listing(buffer=2))
    assert (result.available, result.outstanding, result.quantity) == (1, 3, 0)


def test_an_unknown_sku_has_no_quantity_and_says_why(stock: Stock) -> None:
    stock.devices(stock.black, 3)
    listing = stock.listing("BMTESTSKU1")
    assert stock.quantity(listing) == ListingQuantity(
        listing, None, None, 0, None, REASON_SKU_NOT_IN_CATALOG
    )


def test_no_chosen_variation_has_no_quantity_and_says_why(stock: Stock) -> None:
    listing = stock.listing("IP13-128-BLK-GOOD", variations=[])
    assert stock.quantity(listing).quantity is None
    assert stock.quantity(listing).reason == REASON_NO_VARIATION_CHOSEN


def test_a_mapped_listing_without_stock_is_zero_not_none(stock: Stock) -> None:
    assert stock.quantity(stock.listing()).quantity == 0


def test_every_listing_of_the_account_and_only_those(stock: Stock) -> None:
    other = create_account(
        stock.session, name="acme-us", platform="us", locale="en-us", token_ref="env:T"
    )
    stock.devices(stock.black, 2)
    first = stock.listing()
    second = stock.listing("BMTESTSKU1")
    stock.listing(account=other)

    every = calculated_quantities(stock.session, stock.account.id)
    assert [q.listing_id for q in every] == [first, second]
    only = calculated_quantities(stock.session, stock.account.id, [second])
    assert [q.listing_id for q in only] == [second]
