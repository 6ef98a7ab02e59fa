"""The set-based quantity equals a plain Python computation over random inventories."""

import uuid
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from database import inventory as repo
from database.accounts import (
    create_account,
    set_counted_statuses,
    set_counted_warehouses,
)
from database.models import (
    AccountSettings,
    Commit,
    InventoryItem,
    InventoryStatus,
    Listing,
    ListingVariation,
    OrderItem,
    SalesOrder,
    SalesOrderStatus,
    Warehouse,
)
from database.quantity import calculated_quantities
from domain.inventory import VariationSpec

VARIATIONS = 3
STATUSES = ("Available", "Testing", "Reserved")
WAREHOUSES = ("Main", "Back")
ORDER_STATUSES = ("Open", "Validated", "Shipped", "Cancelled")
CODES = ("A", "B", "C", "D", "ZZ-UNKNOWN")


@dataclass(frozen=True)
class World:
    sku_variation: dict[str, int]  # global code -> variation index
    counted_statuses: frozenset[str]
    counted_warehouses: frozenset[str]
    account_buffer: int
    items: list[tuple[int, str, str | None]]  # variation, status, warehouse
    # variation (None: unknown SKU sold through listing index), listing, qty, status
    orders: list[tuple[int | None, int | None, int, str]]
    commits: dict[int, tuple[int, bool]]  # item index -> (order index, released)
    listings: list[tuple[str, list[int] | None, int | None]]  # sku, chosen, buffer


@st.composite
def worlds(draw: st.DrawFn) -> World:
    variation = st.integers(0, VARIATIONS - 1)
    sku_variation = draw(
        st.dictionaries(st.sampled_from(CODES[:-1]), variation, min_size=2)
    )
    items = draw(
        st.lists(
            st.tuples(
                variation,
                st.sampled_from(STATUSES),
                st.sampled_from((*WAREHOUSES, None)),
            ),
            min_size=3,
            max_size=15,
        )
    )
    listings = draw(
        st.lists(
            st.tuples(
                st.sampled_from(CODES),
                st.one_of(st.none(), st.lists(variation, max_size=3, unique=True)),
                st.one_of(st.none(), st.integers(0, 2)),
            ),
            min_size=1,
            max_size=4,
        )
    )
    orders = draw(
        st.lists(
            st.tuples(
                st.one_of(st.none(), variation),
                st.integers(0, len(listings) - 1),
                st.integers(1, 3),
                st.sampled_from(ORDER_STATUSES),
            ),
            max_size=6,
        )
    )
    commits: dict[int, tuple[int, bool]] = {}
    if orders and items:
        commits = draw(
            st.dictionaries(
                st.integers(0, len(items) - 1),
                st.tuples(
                    st.integers(0, len(orders) - 1),
                    st.sampled_from((False, False, True)),
                ),
                min_size=1,
            )
        )
    return World(
        sku_variation=sku_variation,
        counted_statuses=frozenset(
            draw(st.sets(st.sampled_from(STATUSES), min_size=1))
        ),
        counted_warehouses=frozenset(
            draw(st.sets(st.sampled_from(WAREHOUSES), min_size=1))
        ),
        account_buffer=draw(st.integers(0, 2)),
        items=items,
        orders=orders,
        commits=commits,
        listings=listings,
    )


def reference(world: World) -> list[int | None]:
    """The calculated quantity of each listing, the slow and obvious way."""
    open_committed = {
        item for item, (_, released) in world.commits.items() if not released
    }
    committed_to = [
        sum(
            1
            for _, (order, released) in world.commits.items()
            if order == index and not released
        )
        for index in range(len(world.orders))
    ]
    result: list[int | None] = []
    for index, (code, chosen, buffer) in enumerate(world.listings):
        if chosen is None:
            variations = (
                {world.sku_variation[code]} if code in world.sku_variation else set()
            )
        else:
            variations = set(chosen)
        if not variations:
            result.append(None)
            continue
        available = sum(
            1
            for position, (variation, status, warehouse) in enumerate(world.items)
            if variation in variations
            and status in world.counted_statuses
            and warehouse in world.counted_warehouses
            and position not in open_committed
        )
        outstanding = 0
        for order, (variation, listing, quantity, status) in enumerate(world.orders):
            if status not in ("Open", "Validated"):
                continue
            counts = (
                variation in variations if variation is not None else listing == index
            )
            if counts:
                outstanding += max(quantity - committed_to[order], 0)
        held = world.account_buffer if buffer is None else buffer
        result.append(max(0, available - outstanding - held))
    return result


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(world=worlds())
def test_the_query_matches_the_reference(session: Session, world: World) -> None:
    savepoint = session.begin_nested()
    try:
        account_id = _build(session, world)
        computed = [q.quantity for q in calculated_quantities(session, account_id)]
        assert computed == reference(world)
    finally:
        savepoint.rollback()


def _build(session: Session, world: World) -> int:
    account = create_account(
        session, name="acme", platform="eu", locale="fr-fr", token_ref="env:T"
    )
    settings_row = session.get(AccountSettings, account.id)
    assert settings_row is not None
    settings_row.safety_buffer = world.account_buffer
    if repo.warehouse_by_name(session, "Back") is None:
        repo.add_warehouse(session, "Back")
    set_counted_statuses(session, account.id, sorted(world.counted_statuses))
    set_counted_warehouses(session, account.id, sorted(world.counted_warehouses))

    variations = [
        repo.get_or_create_variation(
            session, VariationSpec("Apple", "iPhone 13", "Good", colour=str(n))
        ).id
        for n in range(VARIATIONS)
    ]
    for code, variation in world.sku_variation.items():
        repo.add_sku(session, code, variations[variation])
    statuses = {s.name: s.id for s in session.scalars(select(InventoryStatus))}
    warehouses = {w.name: w.id for w in session.scalars(select(Warehouse))}
    order_statuses = {s.name: s.id for s in session.scalars(select(SalesOrderStatus))}

    items = [
        InventoryItem(
            variation_id=variations[variation],
            status_id=statuses[status],
            warehouse_id=None if warehouse is None else warehouses[warehouse],
        )
        for variation, status, warehouse in world.items
    ]
    listings = [
        Listing(
            account_id=account.id,
            backmarket_uuid=uuid.uuid4(),
            sku=code,
            mapping_mode="sku" if chosen is None else "variations",
            safety_buffer=buffer,
        )
        for code, chosen, buffer in world.listings
    ]
    session.add_all([*items, *listings])
    session.flush()
    for listing, (_, chosen, _) in zip(listings, world.listings, strict=True):
        for variation in chosen or []:
            session.add(
                ListingVariation(
                    listing_id=listing.id, variation_id=variations[variation]
                )
            )

    order_items = []
    for variation, listing_index, quantity, status in world.orders:
        order = SalesOrder(channel="Backmarket", status_id=order_statuses[status])
        session.add(order)
        session.flush()
        order_item = OrderItem(
            sales_order_id=order.id,
            variation_id=None if variation is None else variations[variation],
            listing_id=listings[listing_index].id if variation is None else None,
            unknown_sku="ZZ-UNKNOWN" if variation is None else None,
            quantity=quantity,
        )
        session.add(order_item)
        order_items.append(order_item)
    session.flush()
    for item_index, (order_index, released) in world.commits.items():
        session.add(
            Commit(
                inventory_item_id=items[item_index].id,
                order_item_id=order_items[order_index].id,
                released_at=session.scalar(select(SalesOrder.created_at).limit(1))
                if released
                else None,
            )
        )
    session.flush()
    return account.id
