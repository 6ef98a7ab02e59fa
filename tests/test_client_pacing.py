"""Per-token pacing: bursts are spaced so that no window goes over its budget."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import httpx
import pytest

from backmarket import (
    BackMarketClient,
    Budget,
    Limits,
    Pacer,
    Scope,
    pacer_for_token,
    pacing,
)
from backmarket.errors import RateLimitedError
from backmarket.models import ListingUpdate
from backmarket.pacing import SkuLinesExceedBudget
from tests.test_client_helpers import Recorder, load, make_client


class FakeClock:
    """Virtual time: sleeping moves the clock instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def fake_pacer(**limits: object) -> tuple[Pacer, FakeClock]:
    clock = FakeClock()
    return Pacer(Limits.model_validate(limits), clock=clock, sleep=clock.sleep), clock


def max_in_window(stamps: Sequence[float], span: float) -> int:
    """The most stamps found in any half-open window [t, t + span)."""
    ordered = sorted(stamps)
    return max(
        sum(1 for other in ordered if start <= other < start + span)
        for start in ordered
    )


async def test_sequential_burst_never_exceeds_the_window() -> None:
    pacer, clock = fake_pacer(general=[{"units": 10, "window_s": 10}], safety=1.0)
    stamps = []
    for _ in range(35):
        await pacer.acquire()
        stamps.append(clock.now)

    assert max_in_window(stamps, 10.0) == 10
    assert stamps[:10] == [1000.0] * 10
    # 35 requests at 10 per 10 s need three full windows of waiting.
    assert stamps[-1] - stamps[0] >= 30.0
    assert stamps[-1] - stamps[0] < 30.1


async def test_safety_margin_aims_under_the_budget() -> None:
    pacer, clock = fake_pacer(general=[{"units": 20, "window_s": 10}])
    stamps = []
    for _ in range(40):
        await pacer.acquire()
        stamps.append(clock.now)

    assert max_in_window(stamps, 10.0) == 19


async def test_catalog_budget_is_stricter_than_general() -> None:
    pacer, clock = fake_pacer(
        general=[{"units": 100, "window_s": 10}],
        catalog=[{"units": 4, "window_s": 10}],
        safety=1.0,
    )
    catalog, general = [], []
    for _ in range(8):
        await pacer.acquire(Scope.CATALOG)
        catalog.append(clock.now)
    await pacer.acquire()
    general.append(clock.now)

    assert max_in_window(catalog, 10.0) == 4
    assert catalog[-1] - catalog[0] >= 10.0
    # A general request is not held back by the catalog budget.
    assert general[0] == catalog[-1]


async def test_every_budget_of_a_scope_applies() -> None:
    pacer, clock = fake_pacer(
        care_list=[{"units": 3, "window_s": 60}, {"units": 5, "window_s": 86400}],
        safety=1.0,
    )
    stamps = []
    for _ in range(6):
        await pacer.acquire(Scope.CARE_LIST)
        stamps.append(clock.now - 1000.0)

    assert stamps[:3] == [0.0, 0.0, 0.0]
    assert 60.0 <= stamps[3] < 60.1
    assert 86400.0 <= stamps[5] < 86400.1


async def test_sku_line_budget_tells_how_long_a_bulk_would_wait() -> None:
    pacer, _ = fake_pacer(sku_lines=[{"units": 2000, "window_s": 3600}])

    await pacer.acquire(Scope.CATALOG, sku_lines=1500)

    assert pacer.sku_lines_capacity() == 1900
    assert pacer.wait_for_sku_lines(400) == 0
    assert 3599.0 < pacer.wait_for_sku_lines(401) <= 3600.1
    with pytest.raises(SkuLinesExceedBudget):
        await pacer.acquire(sku_lines=1901)


async def test_time_scale_shrinks_windows() -> None:
    pacer, clock = fake_pacer(
        general=[{"units": 2, "window_s": 10}], safety=1.0, time_scale=0.001
    )
    for _ in range(3):
        await pacer.acquire()

    assert clock.now - 1000.0 == pytest.approx(0.01, rel=1e-3)


async def test_blocking_after_429_holds_every_request() -> None:
    pacer, clock = fake_pacer(block_after_429_s=10.0)

    pacer.block()
    await pacer.acquire(Scope.BACKBOX)

    assert clock.now - 1000.0 == pytest.approx(10.0)


async def test_rate_limited_answer_blocks_the_token() -> None:
    pacer, clock = fake_pacer(block_after_429_s=10.0)
    recorder = Recorder(httpx.Response(429), httpx.Response(200, json={}))
    async with make_client(recorder, pacer=pacer) as client:
        with pytest.raises(RateLimitedError):
            await client.accept_orderline(1, "SKU-A")
        before = clock.now
        await client.accept_orderline(1, "SKU-A")

    assert clock.now - before == pytest.approx(10.0)


async def test_bulk_update_consumes_one_sku_line_per_csv_line() -> None:
    pacer, clock = fake_pacer(sku_lines=[{"units": 5, "window_s": 3600}], safety=1.0)
    recorder = Recorder(
        httpx.Response(200, json={"bodymessage": 1, "statuscode": 200}),
        httpx.Response(200, json=load("listing.json")),
        httpx.Response(200, json=load("listing.json")),
    )
    async with make_client(recorder, pacer=pacer) as client:
        await client.bulk_update_listings("sku;quantity\nA;1\nB;2\nC;3\nD;4\n")
        assert pacer.wait_for_sku_lines(1) == 0
        assert pacer.wait_for_sku_lines(2) > 0
        await client.update_listing("x", ListingUpdate(quantity=1))
        assert clock.slept == []
        await client.update_listing("x", ListingUpdate(quantity=2))

    assert clock.now - 1000.0 >= 3600.0
    with pytest.raises(SkuLinesExceedBudget):
        async with make_client(Recorder(), pacer=pacer) as client:
            await client.bulk_update_listings(
                "sku\n" + "".join("s\n" for _ in range(6))
            )


async def test_concurrent_burst_in_scaled_real_time_is_spaced() -> None:
    stamps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        stamps.append(time.monotonic())
        return httpx.Response(200, json=load("order_single.json"))

    # 5 requests per 10 s, scaled down a hundredfold: 5 per 0.1 s.
    limits = Limits(
        general=(Budget(units=5, window_s=10),), safety=1.0, time_scale=0.01
    )
    async with make_client(handler, pacer=Pacer(limits)) as client:
        started = time.monotonic()
        await asyncio.gather(*(client.get_order(51234567) for _ in range(12)))
        elapsed = time.monotonic() - started

    assert len(stamps) == 12
    # The transport sees stamps a hair after the pacer; allow that jitter.
    assert max_in_window(stamps, 0.095) <= 5
    assert elapsed >= 0.2


def test_one_pacer_per_token_keyed_by_hash() -> None:
    first = pacer_for_token("token-one-for-registry-test")
    again = pacer_for_token("token-one-for-registry-test", Limits(safety=0.5))
    other = pacer_for_token("token-two-for-registry-test")

    assert first is again
    assert first.limits.safety == 0.95
    assert other is not first
    assert not any("registry-test" in key for key in pacing._registry)


async def test_clients_of_one_token_share_its_pacer() -> None:
    def build(token: str) -> BackMarketClient:
        return BackMarketClient(
            token,
            company="Refurbco",
            integration="bmsync",
            contact_email="ops@refurbco.example",
            transport=httpx.MockTransport(Recorder()),
        )

    async with build("shared-token") as a, build("shared-token") as b:
        async with build("another-token") as c:
            assert a.pacer is b.pacer
            assert c.pacer is not a.pacer


async def test_a_slow_answer_keeps_its_room_until_one_window_after_it_came_back() -> (
    None
):
    pacer, clock = fake_pacer(general=[{"units": 2, "window_s": 10}], safety=1.0)
    async with pacer.slot():
        pass
    async with pacer.slot():
        # Back Market may count this request only when it arrives, 3 s on.
        clock.now += 3.0

    async with pacer.slot() as waited:
        third = clock.now

    # The first room frees at 1010; the second only at 1013, one window after its
    # answer, so a third request fits at 1010 while a fourth waits for 1013.
    assert third == pytest.approx(1010.0, abs=0.01)
    assert waited == pytest.approx(7.0, abs=0.01)
    async with pacer.slot():
        fourth = clock.now
    assert fourth == pytest.approx(1013.0, abs=0.01)
