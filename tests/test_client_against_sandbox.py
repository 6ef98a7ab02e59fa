"""The Back Market client against the real sandbox app, endpoint by endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backmarket import BackMarketClient, Limits, Pacer
from backmarket.errors import (
    NotFoundError,
    ServerError,
    UnauthorizedError,
    UnprocessableError,
)
from backmarket.models import ListingUpdate, OrderlineState, OrderState, known
from backmarket.pacing import Budget
from sandbox.app import create_app
from sandbox.config import FaultRule, MerchantConfig, SandboxConfig, SandboxLimits
from sandbox.state import SandboxState
from tests.test_client_helpers import roomy_pacer

TOKEN = "tok-client-tests"


def make_config(**overrides: Any) -> SandboxConfig:
    values: dict[str, Any] = {
        "merchants": [MerchantConfig(name="alpha", token=TOKEN)],
        "catalog_size": 60,
        "limits": SandboxLimits(enabled=False),
        "task_delay_s": 0,
        "seed": 11,
    }
    values.update(overrides)
    return SandboxConfig(**values)


@asynccontextmanager
async def sandbox(
    config: SandboxConfig, *, token: str = TOKEN, pacer: Pacer | None = None
) -> AsyncIterator[tuple[SandboxState, BackMarketClient]]:
    app = create_app(config)
    client = BackMarketClient(
        token,
        company="Refurbco",
        integration="bmsync",
        contact_email="ops@refurbco.example",
        base_url="http://bm.test",
        transport=httpx.ASGITransport(app=app),
        pacer=pacer or roomy_pacer(),
    )
    async with client:
        yield app.state.sandbox, client


def online_skus(state: SandboxState, count: int) -> list[str]:
    found = [x for x in state.list_listings("alpha", publication_state=2)]
    return [x.sku for x in found if x.quantity >= 2][:count]


async def test_listings_all_pages_and_filters() -> None:
    async with sandbox(make_config()) as (state, client):
        everything = await client.list_listings()
        online = await client.list_listings(publication_state=2)
        few = await client.list_listings(min_quantity=2, max_quantity=3)

    assert len(everything) == 60
    assert len({x.id for x in everything}) == 60
    assert len(online) == len(state.list_listings("alpha", publication_state=2))
    assert all(x.publication_state == 2 for x in online)
    assert all(2 <= x.quantity <= 3 for x in few)
    assert all(isinstance(x.price, Decimal) for x in everything if x.price)


async def test_get_listing_three_ways() -> None:
    async with sandbox(make_config()) as (state, client):
        known_listing = state.list_listings("alpha")[0]
        by_uuid = await client.get_listing(known_listing.id)
        by_int = await client.get_listing(known_listing.listing_id)
        by_sku = await client.get_listing_by_sku(known_listing.sku.lower())
        with pytest.raises(NotFoundError):
            await client.get_listing_by_sku("NO-SUCH-SKU")

    assert by_uuid.id == by_int.id == by_sku.id == known_listing.id
    assert by_sku.sku == known_listing.sku


async def test_update_listing_quantity_and_price() -> None:
    async with sandbox(make_config()) as (state, client):
        listing = state.list_listings("alpha", publication_state=2)[0]
        offline = await client.update_listing(listing.id, ListingUpdate(quantity=0))
        back = await client.update_listing(
            listing.id, ListingUpdate(quantity=4, price=Decimal("100.50"))
        )

    assert offline.quantity == 0
    assert offline.publication_state == 3
    assert back.quantity == 4
    assert back.price == Decimal("100.50")
    assert back.publication_state == 2
    assert listing.quantity == 4


async def test_bulk_update_and_wait_for_task() -> None:
    async with sandbox(make_config()) as (state, client):
        first, second = state.list_listings("alpha")[:2]
        catalog = f"sku;quantity\n{first.sku};17\n{second.sku};0\nNOPE-1;3\n"
        task_id = await client.bulk_update_listings(catalog)
        task = await client.wait_for_task(task_id, poll_interval_s=0.01, timeout_s=5)

    assert task.succeeded
    assert task.result["NOPE-1"]["status"] == "ERROR"
    assert first.quantity == 17
    assert second.quantity == 0


async def test_order_accept_ship_with_imei() -> None:
    async with sandbox(make_config()) as (state, client):
        (sku,) = online_skus(state, 1)
        placed = state.place_order("alpha", [(sku, 1)])
        since = datetime.now(UTC) - timedelta(hours=1)

        listed = await client.list_orders(state=1, date_creation=since)
        order = await client.get_order(placed.order_id)
        await client.accept_orderline(order.order_id, sku)
        accepted = await client.get_order(placed.order_id)
        await client.ship_order(
            order.order_id,
            tracking_number="6A12345678901",
            tracking_url="https://track.example/6A12345678901",
            shipper="colissimo",
            date_shipping=datetime.now(UTC),
            imei="356789012345678",
        )
        shipped = await client.get_order(placed.order_id)

    assert placed.order_id in [o.order_id for o in listed]
    assert known(OrderState, order.state) is OrderState.TO_ACCEPT
    assert order.is_single_device
    assert order.shipping_address is not None
    assert order.date_payment is not None and order.date_payment.tzinfo is not None
    assert accepted.orderlines[0].state == OrderlineState.ACCEPTED
    assert shipped.state == OrderState.SHIPPED
    assert shipped.tracking_number == "6A12345678901"
    assert shipped.orderlines[0].imei == "356789012345678"


async def test_multi_line_order_cancel_and_identifiers() -> None:
    async with sandbox(make_config()) as (state, client):
        keep, drop = online_skus(state, 2)
        placed = state.place_order("alpha", [(keep, 2), (drop, 1)])
        order = await client.get_order(placed.order_id)
        keep_line = order.line_for_sku(keep)
        assert keep_line is not None

        await client.accept_orderline(order.order_id, keep)
        await client.cancel_orderline(order.order_id, drop)
        echoed = await client.set_orderline_identifiers(
            keep_line.id, serial_number="F2LXK0ABCD12"
        )
        with pytest.raises(UnprocessableError) as again:
            await client.set_orderline_identifiers(
                keep_line.id, serial_number="OTHER-SERIAL"
            )
        after = await client.get_order(placed.order_id)

    assert not order.is_single_device
    assert echoed.serial_number == "F2LXK0ABCD12"
    assert again.value.code == "already-set"
    states = {line.sku: line.state for line in after.orderlines}
    assert states == {keep: OrderlineState.ACCEPTED, drop: OrderlineState.CANCELLED}


async def test_missing_order_is_not_found_with_an_empty_body() -> None:
    async with sandbox(make_config()) as (_, client):
        with pytest.raises(NotFoundError) as caught:
            await client.get_order(99999999)

    assert caught.value.status == 404
    assert caught.value.message == "Not Found"


async def test_care_folders_list_and_detail() -> None:
    async with sandbox(make_config()) as (state, client):
        skus = online_skus(state, 12)
        folder_ids = []
        for sku in skus:
            placed = state.place_order("alpha", [(sku, 1)])
            await client.accept_orderline(placed.order_id, sku)
            await client.ship_order(placed.order_id, tracking_number="T1")
            line_id = placed.lines[0].id
            folder_ids.append(state.open_care_folder(line_id).id)

        since = datetime.now(UTC) - timedelta(hours=1)
        folders = await client.list_care_folders(state=0, last_modification_date=since)
        detail = await client.get_care_folder(folder_ids[0])

    # 12 folders at 10 a page: the client had to follow `next`.
    assert sorted(f.id for f in folders) == sorted(folder_ids)
    assert detail.return_requested
    assert detail.orderline is not None and detail.orderline.order is not None
    assert detail.orderline.snapshot is not None
    assert detail.orderline.snapshot.sku == skus[0]


async def test_backbox_competitors_or_not_found() -> None:
    async with sandbox(make_config()) as (state, client):
        listings = state.list_listings("alpha")
        with_box = next(x for x in listings if x.has_backbox)
        without = next(x for x in listings if not x.has_backbox)
        entries = await client.get_competitors(with_box.id)
        with pytest.raises(NotFoundError):
            await client.get_competitors(without.id)

    assert [e.market for e in entries] == ["FR", "DE", "ES", "IT"]
    assert entries[0].price is not None
    assert entries[0].price.amount == with_box.price


async def test_wrong_token_is_unauthorized() -> None:
    async with sandbox(make_config(), token="not-a-token") as (_, client):
        with pytest.raises(UnauthorizedError) as caught:
            await client.get_order(1)

    assert caught.value.request_id
    assert "not-a-token" not in str(caught.value) + repr(caught.value)


async def test_lost_answer_to_a_write_may_have_applied() -> None:
    lost = FaultRule(method="POST", path="/ws/listings/.*", lost_response_rate=1)
    async with sandbox(make_config(faults=[lost])) as (state, client):
        listing = state.list_listings("alpha", publication_state=2)[0]
        with pytest.raises(ServerError) as caught:
            await client.update_listing(listing.id, ListingUpdate(quantity=9))

    assert caught.value.may_have_applied
    assert listing.quantity == 9


async def test_pacing_keeps_the_sandbox_from_ever_answering_429() -> None:
    scale = 0.01
    config = make_config(limits=SandboxLimits(), time_scale=scale)

    async def burst(pacer: Pacer) -> tuple[SandboxState, list[object]]:
        async with sandbox(config, pacer=pacer) as (state, client):
            listing = state.list_listings("alpha")[0]
            # 45 catalog reads against 20 per 10 s (scaled to 0.1 s), all at once.
            results = await asyncio.gather(
                *(client.get_listing(listing.id) for _ in range(45)),
                return_exceptions=True,
            )
        return state, results

    paced, paced_results = await burst(Pacer(Limits(time_scale=scale)))
    unbounded = (Budget(units=1_000_000, window_s=1),)
    unpaced, _ = await burst(
        Pacer(Limits(general=unbounded, catalog=unbounded, time_scale=scale))
    )

    assert not any(isinstance(r, Exception) for r in paced_results)
    assert paced.limiter.refused == {}
    # The same burst without pacing draws Back Market's 429.
    assert sum(unpaced.limiter.refused.values()) > 0
