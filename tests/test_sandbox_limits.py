"""The sandbox's rate limits, injected faults and writes log."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from sandbox.app import create_app
from sandbox.config import (
    FaultRule,
    MerchantConfig,
    RateWindow,
    SandboxConfig,
    SandboxLimits,
)
from sandbox.server import SandboxServer
from sandbox.state import SandboxState

UA = "BM-Test-Sandbox;dev@example.com"
HEADERS = {"Authorization": "Basic tok-alpha", "User-Agent": UA}


def make_config(**overrides: Any) -> SandboxConfig:
    values: dict[str, Any] = {
        "merchants": [
            MerchantConfig(name="alpha", token="tok-alpha"),
            MerchantConfig(name="beta", token="tok-beta"),
        ],
        "catalog_size": 10,
        "limits": SandboxLimits(enabled=False),
        "seed": 5,
    }
    values.update(overrides)
    return SandboxConfig(**values)


@asynccontextmanager
async def sandbox(
    config: SandboxConfig,
) -> AsyncIterator[tuple[SandboxState, httpx.AsyncClient]]:
    app = create_app(config)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bm.test",
        headers=HEADERS,
    ) as client:
        yield app.state.sandbox, client


async def test_general_limit_gives_429_blocks_then_recovers() -> None:
    # Scaled by 0.05: a 0.5 s window and a 1.5 s block.
    limits = SandboxLimits(general=RateWindow(requests=5, per_s=10), general_block_s=30)
    async with sandbox(make_config(limits=limits, time_scale=0.05)) as (_, client):
        admitted = [(await client.get("/ws/orders")).status_code for _ in range(5)]
        refused = await client.get("/ws/orders")
        other_token = await client.get(
            "/ws/orders", headers={"Authorization": "Basic tok-beta"}
        )
        await asyncio.sleep(0.7)
        still_blocked = await client.get("/ws/orders")
        await asyncio.sleep(1.0)
        recovered = await client.get("/ws/orders")
        throttled = await client.get("/_sandbox/throttled")

    assert admitted == [200] * 5
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too-many-requests"
    assert refused.json()["requestId"]
    assert "retry-after" not in refused.headers
    assert other_token.status_code == 200
    assert still_blocked.status_code == 429
    assert recovered.status_code == 200
    assert throttled.json()["total"] == 2
    assert throttled.json()["by_scope"] == [
        {"merchant": "alpha", "scope": "general", "count": 2}
    ]


async def test_catalog_limit_applies_to_listing_endpoints_only() -> None:
    limits = SandboxLimits(catalog=RateWindow(requests=3, per_s=10))
    async with sandbox(make_config(limits=limits)) as (_, client):
        listings = [(await client.get("/ws/listings")).status_code for _ in range(4)]
        orders = await client.get("/ws/orders")

    assert listings == [200, 200, 200, 429]
    assert orders.status_code == 200


async def test_sku_lines_budget_counts_bulk_and_single_updates() -> None:
    limits = SandboxLimits(sku_lines=RateWindow(requests=5, per_s=3600))
    async with sandbox(make_config(limits=limits)) as (state, client):
        skus = [x.sku for x in state.list_listings("alpha")]
        csv_text = "sku;quantity\n" + "".join(f"{s};1\n" for s in skus[:4])
        bulk = await client.post("/ws/listings", json={"catalog": csv_text})
        listing = state.list_listings("alpha")[5]
        single = await client.post(f"/ws/listings/{listing.id}", json={"quantity": 9})
        over = await client.post(f"/ws/listings/{listing.id}", json={"quantity": 1})
        writes = (await client.get("/_sandbox/writes")).json()["results"]

    assert bulk.status_code == 200
    assert single.status_code == 200
    assert over.status_code == 429
    assert over.json()["error"]["code"] == "too-many-requests"
    assert listing.quantity == 9
    assert [(w["status"], w["applied"]) for w in writes] == [
        (200, True),
        (200, True),
        (429, False),
    ]


async def test_sav_and_backbox_limits() -> None:
    limits = SandboxLimits(
        sav_list=[RateWindow(requests=2, per_s=60)],
        backbox=RateWindow(requests=2, per_s=1),
    )
    async with sandbox(make_config(limits=limits)) as (state, client):
        sav = [(await client.get("/ws/sav")).status_code for _ in range(3)]
        listing = state.list_listings("alpha")[0]
        url = f"/ws/backbox/v1/competitors/{listing.id}"
        box = [(await client.get(url)).status_code for _ in range(3)]

    assert sav == [200, 200, 429]
    assert box[2] == 429
    assert all(status in (200, 404) for status in box[:2])


async def test_limits_can_be_changed_at_run_time() -> None:
    async with sandbox(make_config()) as (_, client):
        free = [(await client.get("/ws/listings")).status_code for _ in range(3)]
        tight = SandboxLimits(catalog=RateWindow(requests=1, per_s=10)).model_dump()
        changed = await client.put("/_sandbox/limits", json=tight)
        limited = [(await client.get("/ws/listings")).status_code for _ in range(2)]

    assert free == [200] * 3
    assert changed.status_code == 200
    assert limited == [200, 429]


def errors_for(seed: int) -> list[int]:
    rule = FaultRule(method="GET", path="/ws/orders", error_rate=0.5)
    state = SandboxState(make_config(seed=seed, faults=[rule]))
    decisions = [state.faults.decide("GET", "/ws/orders") for _ in range(40)]
    return [1 if d is not None and d.kind == "error" else 0 for d in decisions]


async def test_error_rate_is_seeded_and_served_as_5xx() -> None:
    rule = FaultRule(method="GET", path="/ws/orders", error_rate=0.5, error_status=503)
    async with sandbox(make_config(faults=[rule])) as (_, client):
        statuses = [(await client.get("/ws/orders")).status_code for _ in range(40)]
        untouched = await client.get("/ws/listings")

    assert errors_for(5) == [1 if s == 503 else 0 for s in statuses]
    assert errors_for(5) != errors_for(6)
    assert 8 <= statuses.count(503) <= 32
    assert set(statuses) == {200, 503}
    assert untouched.status_code == 200


async def test_a_failed_write_is_logged_as_not_applied() -> None:
    rule = FaultRule(method="POST", path="/ws/listings/.+", error_rate=1.0)
    async with sandbox(make_config(faults=[rule])) as (state, client):
        listing = state.list_listings("alpha")[0]
        before = listing.quantity
        response = await client.post(f"/ws/listings/{listing.id}", json={"quantity": 7})
        writes = (await client.get("/_sandbox/writes")).json()["results"]

    assert response.status_code == 500
    assert listing.quantity == before
    assert writes[0]["applied"] is False
    assert writes[0]["fault"] == "error"


async def test_lost_response_applies_the_write_and_answers_502() -> None:
    rule = FaultRule(
        method="POST", path="/ws/orders/.+", lost_response_rate=1.0, remaining=1
    )
    async with sandbox(make_config(faults=[rule])) as (state, client):
        online = state.list_listings("alpha", publication_state=2)[0]
        order = state.place_order("alpha", [(online.sku, 1)])
        body = {"order_id": order.order_id, "new_state": 2, "sku": online.sku}
        lost = await client.post(f"/ws/orders/{order.order_id}", json=body)
        retried = await client.post(f"/ws/orders/{order.order_id}", json=body)
        read = await client.get(f"/ws/orders/{order.order_id}")
        writes = (
            await client.get("/_sandbox/writes", params={"path_prefix": "/ws/orders"})
        ).json()["results"]
        faults = (await client.get("/_sandbox/faults")).json()["faults"]

    assert lost.status_code == 502
    assert read.json()["orderlines"][0]["state"] == 2
    # Repeating the write without reading first is refused: it already happened.
    assert retried.status_code == 400
    assert [(w["status"], w["handler_status"], w["applied"]) for w in writes] == [
        (502, 200, True),
        (400, 400, False),
    ]
    assert writes[0]["body"] == body
    assert writes[0]["merchant"] == "alpha"
    assert writes[0]["fault"] == "lost"
    assert faults[0]["remaining"] == 0


async def test_faults_can_be_set_and_cleared_through_the_admin_api() -> None:
    async with sandbox(make_config()) as (_, client):
        rule = {"method": "GET", "path": "/ws/orders", "error_rate": 1.0}
        await client.put("/_sandbox/faults", json={"faults": [rule]})
        broken = await client.get("/ws/orders")
        await client.delete("/_sandbox/faults")
        fixed = await client.get("/ws/orders")

    assert broken.status_code == 500
    assert fixed.status_code == 200


async def test_a_hang_outlasts_the_client_timeout_over_real_http() -> None:
    rule = FaultRule(
        method="GET", path="/ws/orders", timeout_rate=1.0, hang_s=1.0, remaining=1
    )
    async with SandboxServer(make_config(faults=[rule])) as server:
        async with httpx.AsyncClient(
            base_url=server.base_url, headers=HEADERS, timeout=0.3
        ) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get("/ws/orders")
            answered = await client.get("/ws/orders")

    assert answered.status_code == 200
    assert answered.json()["count"] == 0


async def test_latency_delays_the_answer() -> None:
    rule = FaultRule(method="GET", path="/ws/orders", latency_s=0.3)
    async with sandbox(make_config(faults=[rule])) as (_, client):
        started = asyncio.get_running_loop().time()
        response = await client.get("/ws/orders")
        elapsed = asyncio.get_running_loop().time() - started

    assert response.status_code == 200
    assert elapsed >= 0.3


async def test_every_write_is_logged_even_when_refused_early() -> None:
    async with sandbox(make_config()) as (state, client):
        listing = state.list_listings("alpha")[0]
        url = f"/ws/listings/{listing.id}"
        await client.post(url, json={"quantity": 2}, headers={"User-Agent": ""})
        await client.post(url, json={"quantity": 2}, headers={"Authorization": ""})
        await client.post(url, json={"quantity": -2})
        await client.get(url)
        writes = (await client.get("/_sandbox/writes")).json()["results"]
        await client.delete("/_sandbox/writes")
        cleared = (await client.get("/_sandbox/writes")).json()["results"]

    assert [(w["status"], w["merchant"], w["applied"]) for w in writes] == [
        (403, None, False),
        (401, None, False),
        (400, "alpha", False),
    ]
    assert cleared == []
