"""The sandbox's orders, orderlines and customer care folders."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from sandbox.app import create_app
from sandbox.config import MerchantConfig, SandboxConfig, SandboxLimits
from sandbox.state import Order, SandboxState

UA = "BM-Test-Sandbox;dev@example.com"


@asynccontextmanager
async def sandbox() -> AsyncIterator[tuple[SandboxState, httpx.AsyncClient]]:
    config = SandboxConfig(
        merchants=[
            MerchantConfig(name="alpha", token="tok-alpha"),
            MerchantConfig(name="beta", token="tok-beta"),
        ],
        catalog_size=40,
        limits=SandboxLimits(enabled=False),
        seed=11,
    )
    app = create_app(config)
    headers = {"Authorization": "Basic tok-alpha", "User-Agent": UA}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bm.test",
        headers=headers,
    ) as client:
        yield app.state.sandbox, client


def order_of(state: SandboxState, lines: int = 1, merchant: str = "alpha") -> Order:
    online = state.list_listings(merchant, publication_state=2)
    return state.place_order(merchant, [(x.sku, 1) for x in online[:lines]])


async def post(client: httpx.AsyncClient, order: Order, **body: Any) -> httpx.Response:
    payload = {"order_id": order.order_id, **body}
    return await client.post(f"/ws/orders/{order.order_id}", json=payload)


def sku(order: Order, index: int) -> str:
    return order.lines[index].listing.sku


async def test_an_order_lowers_the_listing_quantity() -> None:
    async with sandbox() as (state, _):
        listing = state.list_listings("alpha", publication_state=2)[0]
        before = listing.quantity
        order = state.place_order("alpha", [(listing.sku, 1)])

    assert listing.quantity == before - 1
    assert order.state == 1
    assert order.lines[0].state == 1


async def test_accept_every_line_then_ship() -> None:
    async with sandbox() as (state, client):
        order = order_of(state, lines=2)

        first = await post(client, order, new_state=2, sku=sku(order, 0).lower())
        second = await post(client, order, new_state=2, sku=sku(order, 1))
        shipped = await post(
            client,
            order,
            new_state=3,
            tracking_number="6A123456789",
            tracking_url="https://track.example/6A123456789",
            shipper="Colissimo",
        )
        read = await client.get(f"/ws/orders/{order.order_id}")

    assert first.status_code == 200
    assert first.json()["state"] == 1
    assert second.json()["state"] == 3
    assert shipped.status_code == 200
    assert read.json()["state"] == 9
    assert read.json()["tracking_number"] == "6A123456789"
    assert [line["state"] for line in read.json()["orderlines"]] == [3, 3]


async def test_cancelled_lines_count_as_settled_for_shipping() -> None:
    async with sandbox() as (state, client):
        order = order_of(state, lines=2)
        await post(client, order, new_state=2, sku=sku(order, 0))
        too_early = await post(client, order, new_state=3, tracking_number="T1")
        await post(client, order, new_state=4, sku=sku(order, 1))
        shipped = await post(client, order, new_state=3, tracking_number="T1")

    assert too_early.status_code == 400
    assert too_early.content == b""
    assert shipped.status_code == 200
    assert [line.state for line in order.lines] == [3, 4]
    assert order.state == 9


@pytest.mark.parametrize(
    ("prepare", "body"),
    [
        ([], {"new_state": 3, "tracking_number": "T"}),
        ([2], {"new_state": 2}),
        ([2], {"new_state": 4}),
        ([4], {"new_state": 2}),
        ([2], {"new_state": 3}),
        ([2, 3], {"new_state": 3, "tracking_number": "T2"}),
        ([], {"new_state": 5}),
        ([], {"new_state": 2, "sku": "NOT-IN-ORDER"}),
        ([], {"new_state": "2"}),
    ],
)
async def test_refused_transitions_are_400(
    prepare: list[int], body: dict[str, Any]
) -> None:
    async with sandbox() as (state, client):
        order = order_of(state)
        for step in prepare:
            extra = {"tracking_number": "T1"} if step == 3 else {"sku": sku(order, 0)}
            done = await post(client, order, new_state=step, **extra)
            assert done.status_code == 200
        before = order.to_json()
        body.setdefault("sku", sku(order, 0))
        response = await post(client, order, **body)

    assert response.status_code == 400
    assert response.content == b""
    assert order.to_json() == before


async def test_order_id_must_match_the_path() -> None:
    async with sandbox() as (state, client):
        order = order_of(state)
        response = await client.post(
            f"/ws/orders/{order.order_id}",
            json={"order_id": order.order_id + 1, "new_state": 2, "sku": sku(order, 0)},
        )

    assert response.status_code == 400
    assert order.lines[0].state == 1


async def test_imei_rides_with_shipping_only_for_one_device() -> None:
    async with sandbox() as (state, client):
        single = order_of(state)
        await post(client, single, new_state=2, sku=sku(single, 0))
        too_long = await post(
            client, single, new_state=3, tracking_number="T", imei="1234567890123456"
        )
        shipped = await post(
            client, single, new_state=3, tracking_number="T", imei="356938035643809"
        )

        double = order_of(state, lines=2)
        for index in (0, 1):
            await post(client, double, new_state=2, sku=sku(double, index))
        refused = await post(
            client, double, new_state=3, tracking_number="T", imei="356938035643809"
        )

    assert too_long.status_code == 400
    assert shipped.status_code == 200
    assert single.lines[0].imei == "356938035643809"
    assert refused.status_code == 400
    assert double.state == 3


async def test_patch_orderline_sets_an_identifier_once() -> None:
    async with sandbox() as (state, client):
        order = order_of(state, lines=2)
        line = order.lines[0]
        before_accept = await client.patch(
            f"/ws/orderlines/{line.id}", json={"imei": "356938035643809"}
        )
        await post(client, order, new_state=2, sku=sku(order, 0))
        first = await client.patch(
            f"/ws/orderlines/{line.id}", json={"imei": "356938035643809"}
        )
        second = await client.patch(
            f"/ws/orderlines/{line.id}", json={"imei": "490154203237518"}
        )
        serial = await client.patch(
            f"/ws/orderlines/{line.id}", json={"serial_number": "F2LXK1ABHG7F"}
        )
        invalid = await client.patch(
            f"/ws/orderlines/{order.lines[1].id}", json={"imei": "35693803564380X"}
        )
        theirs = order_of(state, merchant="beta")
        other = await client.patch(
            f"/ws/orderlines/{theirs.lines[0].id}", json={"imei": "356938035643809"}
        )

    assert before_accept.status_code == 422
    assert first.status_code == 200
    assert first.json() == {"id": line.id, "imei": "356938035643809"}
    assert second.status_code == 422
    assert serial.status_code == 200
    assert line.imei == "356938035643809"
    assert line.serial_number == "F2LXK1ABHG7F"
    assert invalid.status_code == 422
    assert other.status_code == 404


async def test_orders_in_payment_check_or_failed_are_never_listed() -> None:
    async with sandbox() as (state, client):
        online = state.list_listings("alpha", publication_state=2)
        checking = state.place_order("alpha", [(online[0].sku, 1)], state=0)
        failed = state.place_order("alpha", [(online[1].sku, 1)], state=8)
        visible = state.place_order("alpha", [(online[2].sku, 1)])

        listed = await client.get("/ws/orders", params={"page-size": 50})
        hidden_zero = await client.get("/ws/orders", params={"state": 0})
        direct = await client.get(f"/ws/orders/{checking.order_id}")
        direct_failed = await client.get(f"/ws/orders/{failed.order_id}")
        state.pay_order(checking.order_id)
        after_payment = await client.get(f"/ws/orders/{checking.order_id}")

    ids = [order["order_id"] for order in listed.json()["results"]]
    assert ids == [visible.order_id]
    assert hidden_zero.json()["count"] == 0
    assert direct.status_code == 404
    assert direct_failed.status_code == 404
    assert after_payment.json()["state"] == 1


async def test_date_modification_moves_and_filters_are_exclusive() -> None:
    async with sandbox() as (state, client):
        untouched = order_of(state)
        order = order_of(state)
        older = (await client.get(f"/ws/orders/{untouched.order_id}")).json()
        before = (await client.get(f"/ws/orders/{order.order_id}")).json()
        await post(client, order, new_state=2, sku=sku(order, 0))
        after = (await client.get(f"/ws/orders/{order.order_id}")).json()

        since_before = await client.get(
            "/ws/orders", params={"date_modification": before["date_modification"]}
        )
        since_after = await client.get(
            "/ws/orders", params={"date_modification": after["date_modification"]}
        )
        created = await client.get(
            "/ws/orders",
            params={"date_creation": older["date_creation"].replace("Z", "+00:00")},
        )
        bad = await client.get("/ws/orders", params={"date_creation": "yesterday"})

    assert after["date_modification"] > before["date_modification"]
    assert [o["order_id"] for o in since_before.json()["results"]] == [order.order_id]
    assert since_after.json()["count"] == 0
    assert [o["order_id"] for o in created.json()["results"]] == [order.order_id]
    assert bad.status_code == 400


async def test_order_filters_by_state_and_country() -> None:
    async with sandbox() as (state, client):
        order = order_of(state)
        order_of(state)
        await post(client, order, new_state=2, sku=sku(order, 0))
        to_ship = await client.get("/ws/orders", params={"state": 3})
        french = await client.get("/ws/orders", params={"country_code": "fr"})
        spanish = await client.get("/ws/orders", params={"country_code": "ES"})

    assert [o["order_id"] for o in to_ship.json()["results"]] == [order.order_id]
    assert french.json()["count"] == 2
    assert spanish.json()["count"] == 0


async def test_customer_cancellation_before_and_after_acceptance() -> None:
    async with sandbox() as (state, client):
        order = order_of(state, lines=2)
        await post(client, order, new_state=2, sku=sku(order, 1))
        listing = order.lines[0].listing
        quantity = listing.quantity
        first = await client.post(f"/_sandbox/orderlines/{order.lines[0].id}/cancel")
        second = await client.post(f"/_sandbox/orderlines/{order.lines[1].id}/cancel")
        again = await client.post(f"/_sandbox/orderlines/{order.lines[1].id}/cancel")

    assert first.status_code == 200
    assert [line["state"] for line in second.json()["orderlines"]] == [4, 5]
    assert second.json()["state"] == 9
    assert again.status_code == 409
    assert listing.quantity == quantity


async def test_admin_places_orders_only_on_online_stock() -> None:
    async with sandbox() as (state, client):
        listing = state.list_listings("alpha", publication_state=2)[0]
        state.set_quantity("alpha", listing.sku, 1)
        placed = await client.post(
            "/_sandbox/orders",
            json={
                "merchant": "alpha",
                "lines": [{"sku": listing.sku, "quantity": 1}],
                "customer": {"first_name": "Ada", "country": "DE"},
            },
        )
        sold_out = await client.post(
            "/_sandbox/orders",
            json={"merchant": "alpha", "lines": [{"sku": listing.sku}]},
        )

    assert placed.status_code == 201
    assert placed.json()["shipping_address"]["first_name"] == "Ada"
    assert placed.json()["country_code"] == "DE"
    assert listing.quantity == 0
    assert listing.publication_state == 3
    assert sold_out.status_code == 409


async def shipped_line(state: SandboxState, client: httpx.AsyncClient) -> int:
    order = order_of(state)
    await post(client, order, new_state=2, sku=sku(order, 0))
    await post(client, order, new_state=3, tracking_number="T")
    return order.lines[0].id


async def test_care_folder_with_a_return_label() -> None:
    async with sandbox() as (state, client):
        line_id = await shipped_line(state, client)
        opened = await client.post(
            "/_sandbox/care-folders", json={"orderline_id": line_id}
        )
        folder_id = opened.json()["id"]
        listed = await client.get("/ws/sav", params={"state": 0})
        detail = await client.get(f"/ws/sav/{folder_id}")
        by_line = await client.get("/ws/sav", params={"orderline": line_id})
        after = await client.get("/ws/sav", params={"last_id": folder_id})
        await client.post(f"/_sandbox/care-folders/{folder_id}/close")
        closed = await client.get(f"/ws/sav/{folder_id}")
        beta = await client.get(
            f"/ws/sav/{folder_id}", headers={"Authorization": "Basic tok-beta"}
        )

    assert opened.status_code == 201
    assert [f["id"] for f in listed.json()["results"]] == [folder_id]
    assert by_line.json()["count"] == 1
    assert after.json()["count"] == 0
    folder = detail.json()
    assert folder["client"]["email"]
    assert folder["orderline"]["id"] == line_id
    assert folder["orderline"]["order"]["tracking_number"] == "T"
    assert folder["orderline"]["snapshot"]["sku"]
    label = folder["lines"][0]["return_labels"][0]
    assert label["kind"] == "CUSTOMER_TO_MERCHANT"
    assert label["state"] == "ALIVE"
    assert folder["messages"]
    assert closed.json()["state"] == 9
    assert closed.json()["lines"][0]["return_labels"][0]["state"] == "USED"
    assert beta.status_code == 404


async def test_care_folders_page_by_ten_and_need_a_shipped_line() -> None:
    async with sandbox() as (state, client):
        for _ in range(12):
            line_id = await shipped_line(state, client)
            state.open_care_folder(line_id, return_label=False)
        first = await client.get("/ws/sav", params={"page-size": 50})
        second = await client.get(first.json()["next"])
        unshipped = order_of(state)
        refused = await client.post(
            "/_sandbox/care-folders", json={"orderline_id": unshipped.lines[0].id}
        )
        stamp = await client.get(
            "/ws/sav", params={"last_modification_date": "2000-01-01-00-00"}
        )

    assert first.json()["count"] == 12
    assert len(first.json()["results"]) == 10
    assert len(second.json()["results"]) == 2
    assert first.json()["results"][0]["lines"][0]["return_labels"] == []
    assert refused.status_code == 409
    assert stamp.json()["count"] == 12
