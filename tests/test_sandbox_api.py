"""The sandbox's firewall, auth, paging, listings, bulk tasks and BackBox."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from sandbox.app import create_app
from sandbox.config import MerchantConfig, SandboxConfig, SandboxLimits
from sandbox.state import SandboxState

UA = "BM-Test-Sandbox;dev@example.com"


def make_config(**overrides: Any) -> SandboxConfig:
    values: dict[str, Any] = {
        "merchants": [
            MerchantConfig(name="alpha", token="tok-alpha"),
            MerchantConfig(name="beta", token="tok-beta", platform="us"),
        ],
        "catalog_size": 23,
        "limits": SandboxLimits(enabled=False),
        "seed": 7,
    }
    values.update(overrides)
    return SandboxConfig(**values)


@asynccontextmanager
async def sandbox(
    config: SandboxConfig, token: str = "tok-alpha"
) -> AsyncIterator[tuple[SandboxState, httpx.AsyncClient]]:
    app = create_app(config)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Basic {token}", "User-Agent": UA}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bm.test", headers=headers
    ) as client:
        yield app.state.sandbox, client


async def test_missing_user_agent_is_refused_by_the_firewall() -> None:
    async with sandbox(make_config()) as (_, client):
        response = await client.get("/ws/listings", headers={"User-Agent": ""})

    assert response.status_code == 403
    assert response.json() == {
        "errors": [{"code": "bot-need-challenge", "message": "Forbidden"}]
    }
    assert response.headers["cf-ray"]


@pytest.mark.parametrize("authorization", ["", "Basic nope", "Bearer tok-alpha"])
async def test_a_wrong_token_gets_401(authorization: str) -> None:
    async with sandbox(make_config()) as (_, client):
        response = await client.get(
            "/ws/listings", headers={"Authorization": authorization}
        )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_another_merchants_objects_are_404() -> None:
    async with sandbox(make_config()) as (state, client):
        theirs = state.list_listings("beta", publication_state=2)[0]
        order = state.place_order("beta", [(theirs.sku, 1)])

        listing = await client.get(f"/ws/listings/{theirs.id}")
        by_int = await client.get(f"/ws/listings/{theirs.listing_id}")
        by_sku = await client.get("/ws/listings/detail", params={"sku": theirs.sku})
        their_order = await client.get(f"/ws/orders/{order.order_id}")
        update = await client.post(f"/ws/listings/{theirs.id}", json={"quantity": 0})

    assert [r.status_code for r in (listing, by_int, by_sku, update)] == [404] * 4
    assert their_order.status_code == 404
    assert their_order.content == b""
    assert theirs.quantity > 0


async def test_paging_follows_absolute_next_urls_to_the_end() -> None:
    async with sandbox(make_config()) as (_, client):
        first = await client.get("/ws/listings", params={"page-size": 10})
        seen = [x["id"] for x in first.json()["results"]]
        url = first.json()["next"]
        pages = [first.json()]
        while url:
            page = (await client.get(url)).json()
            pages.append(page)
            seen.extend(x["id"] for x in page["results"])
            url = page["next"]

    assert first.json()["count"] == 23
    assert first.json()["next"] == "http://bm.test/ws/listings?page-size=10&page=2"
    assert first.json()["previous"] is None
    assert pages[1]["previous"] == "http://bm.test/ws/listings?page-size=10&page=1"
    assert [len(p["results"]) for p in pages] == [10, 10, 3]
    assert len(set(seen)) == 23


async def test_page_size_is_capped_at_50_and_past_the_end_is_404() -> None:
    async with sandbox(make_config(catalog_size=60)) as (_, client):
        big = await client.get("/ws/listings", params={"page-size": 500})
        past = await client.get("/ws/listings", params={"page": 9})
        bad = await client.get("/ws/listings", params={"page": "x"})

    assert len(big.json()["results"]) == 50
    assert past.status_code == 404
    assert bad.status_code == 400


async def test_listing_filters() -> None:
    async with sandbox(make_config()) as (state, client):
        online = await client.get(
            "/ws/listings", params={"publication_state": 2, "page-size": 50}
        )
        few = await client.get(
            "/ws/listings", params={"min_quantity": 2, "max_quantity": 3}
        )
        expected_online = len(state.list_listings("alpha", publication_state=2))

    assert online.json()["count"] == expected_online
    assert all(x["publication_state"] == 2 for x in online.json()["results"])
    assert all(2 <= x["quantity"] <= 3 for x in few.json()["results"])


async def test_detail_by_sku_ignores_case_and_by_ids() -> None:
    async with sandbox(make_config()) as (state, client):
        listing = state.list_listings("alpha")[0]
        by_sku = await client.get(
            "/ws/listings/detail", params={"sku": listing.sku.lower()}
        )
        by_int = await client.get(
            "/ws/listings/detail", params={"listing_id": listing.listing_id}
        )
        by_uuid = await client.get("/ws/listings/detail", params={"id": listing.id})
        nothing = await client.get("/ws/listings/detail")

    assert by_sku.json()["id"] == by_int.json()["id"] == by_uuid.json()["id"]
    assert by_sku.json()["sku"] == listing.sku
    assert nothing.status_code == 400


async def test_publication_state_follows_quantity_price_and_comment() -> None:
    async with sandbox(make_config()) as (state, client):
        listing = state.list_listings("alpha", publication_state=2)[0]
        url = f"/ws/listings/{listing.id}"

        zero = await client.post(url, json={"quantity": 0})
        back = await client.post(url, json={"quantity": 4})
        too_dear = await client.post(
            url, json={"price": f"{listing.max_price + 1:.2f}", "min_price": None}
        )
        cheap = await client.post(url, json={"price": "100.50"})
        no_comment = await client.post(url, json={"comment": ""})

    assert zero.json()["publication_state"] == 3
    assert zero.json()["statuscode"] == 200
    assert back.json()["publication_state"] == 2
    assert back.json()["quantity"] == 4
    assert too_dear.json()["publication_state"] == 3
    assert cheap.json()["publication_state"] == 2
    assert cheap.json()["price"] == "100.50"
    assert no_comment.json()["publication_state"] == 0


async def test_partial_update_changes_only_what_is_sent() -> None:
    async with sandbox(make_config()) as (state, client):
        listing = state.list_listings("alpha")[0]
        before = listing.to_json()
        response = await client.post(
            f"/ws/listings/{listing.listing_id}",
            json={"warranty_delay": 24, "shipping_delay_2": 72},
        )

    after = response.json()
    assert response.status_code == 200
    assert after["warranty_delay"] == 24
    assert {"n": 2, "shipping_delay": 72} in after["shippings"]
    for name in ("quantity", "price", "comment", "min_price"):
        assert after[name] == before[name]


@pytest.mark.parametrize(
    "body",
    [
        {"quantity": -1},
        {"quantity": "3"},
        {"price": "abc"},
        {"price": "12.345"},
        {"comment": "x" * 501},
        {"warranty_delay": 6},
        {"currency": "USD"},
        {"colour": "red"},
    ],
)
async def test_bad_listing_updates_get_400_and_change_nothing(
    body: dict[str, Any],
) -> None:
    async with sandbox(make_config()) as (state, client):
        listing = state.list_listings("alpha")[0]
        before = listing.to_json()
        response = await client.post(f"/ws/listings/{listing.id}", json=body)

    assert response.status_code == 400
    assert "code" in response.json()["error"]
    assert "requestId" in response.json()
    assert listing.to_json() == before


async def test_bulk_task_applies_quantities_when_it_finishes() -> None:
    config = make_config(task_delay_s=60, time_scale=0.005)
    async with sandbox(config) as (state, client):
        first, second = state.list_listings("alpha")[:2]
        csv_text = (
            f"sku;quantity;price\n{first.sku};17;\n{second.sku.lower()};0;99.00\n"
        )
        started = await client.post(
            "/ws/listings",
            json={"catalog": csv_text, "delimiter": ";", "quotechar": '"'},
        )
        task_id = started.json()["bodymessage"]
        early = await client.get(f"/ws/tasks/{task_id}")
        quantity_early = first.quantity

        await asyncio.sleep(0.45)
        done = await client.get(f"/ws/tasks/{task_id}")

    assert started.json()["statuscode"] == 200
    assert early.json()["action_status"] in (0, 2)
    assert quantity_early != 17
    assert done.json()["action_status"] == 9
    assert done.json()["result"][first.sku]["status"] == "OK"
    assert first.quantity == 17
    assert second.quantity == 0
    assert f"{second.price:.2f}" == "99.00"


async def test_bulk_reports_unknown_skus_and_fails_when_every_line_fails() -> None:
    config = make_config(task_delay_s=0)
    async with sandbox(config) as (state, client):
        known = state.list_listings("alpha")[0]
        mixed = await client.post(
            "/ws/listings",
            json={
                "catalog": f"sku,quantity\n{known.sku},3\nNOPE-1,2\n",
                "delimiter": ",",
            },
        )
        failed = await client.post(
            "/ws/listings", json={"catalog": "sku;quantity\nNOPE-2;1\n"}
        )
        mixed_task = await client.get(f"/ws/tasks/{mixed.json()['bodymessage']}")
        failed_task = await client.get(f"/ws/tasks/{failed.json()['bodymessage']}")

    assert mixed_task.json()["action_status"] == 9
    assert mixed_task.json()["result"]["NOPE-1"]["status"] == "ERROR"
    assert known.quantity == 3
    assert failed_task.json()["action_status"] == 8
    assert failed_task.json()["last_action_error"]


async def test_bulk_body_errors() -> None:
    async with sandbox(make_config()) as (_, client):
        missing = await client.post("/ws/listings", json={"delimiter": ";"})
        no_sku = await client.post("/ws/listings", json={"catalog": "qty\n1\n"})
        huge = "sku;quantity\n" + "".join(f"S{n};1\n" for n in range(15001))
        too_big = await client.post("/ws/listings", json={"catalog": huge})
        other = await client.get("/ws/tasks/999999")

    assert missing.status_code == 400
    assert missing.json() == "parameter catalog not found"
    assert no_sku.status_code == 400
    assert too_big.status_code == 413
    assert other.status_code == 404


async def test_tasks_of_another_merchant_are_404() -> None:
    async with sandbox(make_config()) as (state, client):
        task = state.queue_bulk("beta", [{"sku": "X", "quantity": "1"}])
        response = await client.get(f"/ws/tasks/{task.task_id}")

    assert response.status_code == 404


async def test_backbox_answers_per_market_or_404() -> None:
    async with sandbox(make_config()) as (state, client):
        listings = state.list_listings("alpha")
        with_box = next(x for x in listings if x.has_backbox)
        without = next(x for x in listings if not x.has_backbox)
        found = await client.get(f"/ws/backbox/v1/competitors/{with_box.id}")
        missing = await client.get(f"/ws/backbox/v1/competitors/{without.id}")

    markets = [entry["market"] for entry in found.json()]
    assert markets == ["FR", "DE", "ES", "IT"]
    price = found.json()[0]["price"]
    assert price == {"amount": f"{with_box.price:.2f}", "currency": "EUR"}
    assert isinstance(found.json()[0]["is_winning"], bool)
    assert missing.status_code == 404


async def test_catalog_is_seeded_and_skus_follow_the_scheme() -> None:
    first = SandboxState(make_config())
    again = SandboxState(make_config())
    other = SandboxState(make_config(seed=8))

    skus = [x.sku for x in first.list_listings("alpha")]
    assert skus == [x.sku for x in again.list_listings("alpha")]
    assert skus != [x.sku for x in other.list_listings("alpha")]
    for sku in skus:
        model, storage, colour, grade = sku.split("-")
        assert storage.isdigit() or storage == "1TB"
        assert len(colour) == 3
        assert grade in {"PRM", "EXC", "VGD", "GOOD", "FAIR"}
    assert len(set(skus)) == len(skus)


async def test_bulk_creates_a_listing_from_a_known_product_id() -> None:
    async with sandbox(make_config(task_delay_s=0)) as (state, client):
        existing = state.list_listings("alpha")[0]
        csv_text = (
            "sku;product_id;grade;quantity;price\n"
            f"MY-OWN-SKU-1;{existing.product.product_id};FAIR;2;150.00\n"
        )
        started = await client.post("/ws/listings", json={"catalog": csv_text})
        task = await client.get(f"/ws/tasks/{started.json()['bodymessage']}")
        created = await client.get(
            "/ws/listings/detail", params={"sku": "my-own-sku-1"}
        )

    assert task.json()["result"]["MY-OWN-SKU-1"]["status"] == "OK"
    assert created.json()["product_id"] == existing.product.product_id
    assert created.json()["grade"] == "FAIR"
    assert created.json()["quantity"] == 2
    assert created.json()["publication_state"] == 2
