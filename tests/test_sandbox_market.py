"""The simulated market, the admin state view and the in-process server."""

import asyncio
from typing import Any

import httpx

from sandbox.config import MarketConfig, MerchantConfig, SandboxConfig, SandboxLimits
from sandbox.market import MarketSimulator
from sandbox.server import SandboxServer
from sandbox.state import SandboxState

UA = "BM-Test-Sandbox;dev@example.com"


def make_config(seed: int = 3, **overrides: Any) -> SandboxConfig:
    values: dict[str, Any] = {
        "merchants": [
            MerchantConfig(name="alpha", token="tok-alpha"),
            MerchantConfig(name="beta", token="tok-beta", platform="us"),
        ],
        "catalog_size": 30,
        "limits": SandboxLimits(enabled=False),
        "seed": seed,
        "market": MarketConfig(multi_line_share=0.3, cancel_share=0.3),
    }
    values.update(overrides)
    return SandboxConfig(**values)


def simulate(seed: int, steps: int) -> list[tuple[Any, ...]]:
    state = SandboxState(make_config(seed))
    market = MarketSimulator(state)
    for _ in range(steps):
        market.step()
    return [
        (
            order.merchant,
            order.state,
            order.customer["last_name"],
            tuple(
                (line.listing.sku, line.quantity, line.state) for line in order.lines
            ),
        )
        for order in state.orders.values()
    ]


def test_the_market_is_deterministic_for_a_seed() -> None:
    first = simulate(3, 40)

    assert first == simulate(3, 40)
    assert first != simulate(4, 40)
    assert len(first) == 40
    assert {merchant for merchant, *_ in first} == {"alpha", "beta"}
    assert any(len(lines) > 1 for *_, lines in first)
    assert any(line[2] == 4 for *_, lines in first for line in lines)


def test_the_market_orders_only_online_stock_and_opens_care_on_shipped_lines() -> None:
    state = SandboxState(
        make_config(market=MarketConfig(care_folder_share=1.0, cancel_share=0))
    )
    market = MarketSimulator(state)
    offline = state.list_listings("alpha", publication_state=3)
    market.step()
    order = next(iter(state.orders.values()))
    ref = str(order.order_id)
    for line in order.lines:
        accept = {"order_id": order.order_id, "new_state": 2, "sku": line.listing.sku}
        state.update_order(order.merchant, ref, accept)
    ship = {"order_id": order.order_id, "new_state": 3, "tracking_number": "T"}
    state.update_order(order.merchant, ref, ship)
    events = market.step()

    ordered = {line.listing.sku for o in state.orders.values() for line in o.lines}
    assert not ordered & {listing.sku for listing in offline}
    assert [e["event"] for e in events] == ["order", "care"]
    assert len(state.care_folders) == 1


async def test_the_server_runs_the_market_in_the_background() -> None:
    config = make_config(
        time_scale=0.001,
        market=MarketConfig(enabled=True, orders_per_minute=60),
    )
    async with SandboxServer(config) as server:
        headers = {"Authorization": "Basic tok-alpha", "User-Agent": UA}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as c:
            for _ in range(100):
                if len(server.state.orders) >= 5:
                    break
                await asyncio.sleep(0.02)
            stopped = await c.post("/_sandbox/market/stop")
            count = len(server.state.orders)
            await asyncio.sleep(0.1)
            seen = await c.get("/_sandbox/state")
            orders = await c.get("/ws/orders", params={"page-size": 50})

    assert server.base_url.startswith("http://127.0.0.1:")
    assert count >= 5
    assert stopped.json() == {"running": False}
    assert len(server.state.orders) == count
    assert seen.json()["counts"]["orders"] == count
    assert seen.json()["market"]["running"] is False
    alpha = [o for o in server.state.orders.values() if o.merchant == "alpha"]
    visible = [o for o in alpha if o.state not in (0, 8)]
    assert orders.json()["count"] == len(visible)


async def test_admin_market_step_and_quantity_from_another_system() -> None:
    async with SandboxServer(make_config()) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            stepped = await client.post("/_sandbox/market/step", params={"count": 3})
            listing = server.state.list_listings("alpha")[0]
            body = {"merchant": "alpha", "sku": listing.sku.lower(), "quantity": 0}
            changed = await client.post("/_sandbox/listings/quantity", json=body)
            listings = await client.get(
                "/_sandbox/listings", params={"merchant": "alpha"}
            )
            writes = await client.get("/_sandbox/writes")

    assert len([e for e in stepped.json()["events"] if e["event"] == "order"]) == 3
    assert changed.json()["publication_state"] == 3
    assert len(listings.json()["results"]) == 30
    assert writes.json()["results"] == []


async def test_an_admin_token_protects_the_admin_api() -> None:
    async with SandboxServer(make_config(admin_token="s3cret")) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            refused = await client.get("/_sandbox/state")
            allowed = await client.get(
                "/_sandbox/state", headers={"X-Sandbox-Admin": "s3cret"}
            )

    assert refused.status_code == 401
    assert allowed.status_code == 200
    assert [m["token"] for m in allowed.json()["merchants"]] == [
        "tok-alpha",
        "tok-beta",
    ]
