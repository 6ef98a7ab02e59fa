"""The client's requests and answers, endpoint by endpoint, through a mock transport."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from backmarket import BackMarketClient, Platform
from backmarket.client import build_catalog_csv, count_csv_lines
from backmarket.errors import (
    BackMarketTimeout,
    NotFoundError,
    PayloadError,
    ServerError,
)
from backmarket.models import ListingUpdate
from tests.test_client_helpers import (
    TOKEN,
    Recorder,
    load,
    make_client,
)

LISTING_UUID = "6f1c2a9e-3b0d-4c55-9a51-1e2f3a4b5c6d"


def ok(body: object) -> httpx.Response:
    return httpx.Response(200, json=body)


async def test_every_request_carries_token_user_agent_and_locale() -> None:
    recorder = Recorder(ok(load("listing.json")))
    async with make_client(recorder, locale="de-de") as client:
        await client.get_listing(LISTING_UUID)

    headers = recorder.requests[0].headers
    assert headers["Authorization"] == f"Basic {TOKEN}"
    assert headers["User-Agent"] == "BM-Refurbco-bmsync;ops@refurbco.example"
    assert headers["Accept-Language"] == "de-de"
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("platform", "preprod", "host", "locale"),
    [
        (Platform.EU, False, "https://www.backmarket.fr", "fr-fr"),
        (Platform.EU, True, "https://preprod.backmarket.fr", "fr-fr"),
        (Platform.US, False, "https://www.backmarket.com", "en-us"),
        (Platform.AP, True, "https://preprod.backmarket.co.jp", "ja-jp"),
    ],
)
async def test_platform_chooses_host_and_default_locale(
    platform: Platform, preprod: bool, host: str, locale: str
) -> None:
    recorder = Recorder(ok(load("order_single.json")))
    client = make_client(recorder, base_url=None, platform=platform, preprod=preprod)
    async with client:
        await client.get_order(51234567)

    assert str(recorder.requests[0].url) == f"{host}/ws/orders/51234567"
    assert recorder.requests[0].headers["Accept-Language"] == locale


@pytest.mark.parametrize(
    ("platform", "locale"), [(Platform.US, "fr-fr"), (Platform.EU, "en-us")]
)
def test_locale_must_belong_to_the_platform(platform: Platform, locale: str) -> None:
    with pytest.raises(ValueError, match="locale"):
        make_client(Recorder(), platform=platform, locale=locale)


@pytest.mark.parametrize(
    ("company", "email"), [("Refur;bco", "ops@x.example"), ("Refurbco", "nobody")]
)
def test_user_agent_parts_are_checked(company: str, email: str) -> None:
    with pytest.raises(ValueError):
        BackMarketClient(
            TOKEN, company=company, integration="bmsync", contact_email=email
        )


def test_client_repr_hides_the_token() -> None:
    client = make_client(Recorder())

    assert TOKEN not in repr(client)
    assert TOKEN not in str(vars(client).get("_pacer"))


async def test_paging_follows_next_to_the_end_on_our_own_host() -> None:
    recorder = Recorder(
        ok(load("listings_page1.json")), ok(load("listings_page2.json"))
    )
    async with make_client(recorder) as client:
        listings = await client.list_listings(publication_state=2)

    assert [listing.sku for listing in listings] == ["SKU-A", "SKU-B", "SKU-C"]
    first, second = recorder.requests
    assert first.url.path == "/ws/listings"
    assert dict(first.url.params) == {
        "publication_state": "2",
        "page": "1",
        "page-size": "50",
    }
    # `next` names www.backmarket.fr; the token must still only go to our host.
    assert second.url.host == "bm.test"
    assert dict(second.url.params) == {
        "page": "2",
        "page-size": "50",
        "publication_state": "2",
    }
    assert second.headers["Authorization"] == f"Basic {TOKEN}"


async def test_a_failing_page_raises_instead_of_returning_a_short_list() -> None:
    recorder = Recorder(ok(load("listings_page1.json")), httpx.Response(503))
    async with make_client(recorder) as client:
        with pytest.raises(ServerError) as caught:
            await client.list_listings()

    assert caught.value.status == 503
    assert len(recorder.requests) == 2


async def test_a_bad_item_on_a_page_names_the_listing_and_field() -> None:
    page = load("listings_page2.json")
    page["results"][0]["quantity"] = "lots"
    recorder = Recorder(ok(load("listings_page1.json")), ok(page))
    async with make_client(recorder) as client:
        with pytest.raises(PayloadError) as caught:
            await client.list_listings()

    assert "listing 00000000-0000-4000-8000-000000000003" in str(caught.value)
    assert "quantity" in str(caught.value)
    assert "lots" not in str(caught.value)


async def test_paging_that_loops_is_refused() -> None:
    page = load("listings_page1.json")
    recorder = Recorder(ok(page), ok(page), ok(page))
    async with make_client(recorder) as client:
        with pytest.raises(PayloadError, match="loops"):
            await client.list_listings()


async def test_page_that_is_not_an_envelope_is_refused() -> None:
    async with make_client(Recorder(ok([1, 2]))) as client:
        with pytest.raises(PayloadError, match="paging envelope"):
            await client.list_orders()


@pytest.mark.parametrize(
    ("listing_id", "path"),
    [(LISTING_UUID, f"/ws/listings/{LISTING_UUID}"), (4812345, "/ws/listings/4812345")],
)
async def test_get_listing_by_uuid_or_legacy_id(
    listing_id: str | int, path: str
) -> None:
    recorder = Recorder(ok(load("listing.json")))
    async with make_client(recorder) as client:
        listing = await client.get_listing(listing_id)

    assert recorder.requests[0].url.path == path
    assert listing.listing_id == 4812345


async def test_get_listing_by_sku() -> None:
    recorder = Recorder(ok(load("listing.json")))
    async with make_client(recorder) as client:
        listing = await client.get_listing_by_sku("IP13-128-MID-A")

    request = recorder.requests[0]
    assert request.url.path == "/ws/listings/detail"
    assert request.url.params["sku"] == "IP13-128-MID-A"
    assert listing.sku == "IP13-128-MID-A"


async def test_update_listing_posts_only_the_changed_fields() -> None:
    answer = {**load("listing.json"), "quantity": 3, "statuscode": 200}
    recorder = Recorder(ok(answer))
    async with make_client(recorder) as client:
        listing = await client.update_listing(
            LISTING_UUID, ListingUpdate(quantity=3, price=Decimal("160.99"))
        )

    request = recorder.requests[0]
    assert request.method == "POST"
    assert request.url.path == f"/ws/listings/{LISTING_UUID}"
    assert recorder.body() == {"quantity": 3, "price": "160.99"}
    assert listing.quantity == 3


async def test_empty_listing_update_is_refused_before_sending() -> None:
    recorder = Recorder()
    async with make_client(recorder) as client:
        with pytest.raises(ValueError, match="no field"):
            await client.update_listing(LISTING_UUID, ListingUpdate())

    assert recorder.requests == []


async def test_bulk_update_posts_the_catalog_and_returns_the_task_id() -> None:
    catalog = build_catalog_csv(
        [
            {"sku": "SKU-A", "quantity": 2, "price": Decimal("100.00")},
            {"sku": 'SKU;"B"', "quantity": 0, "price": None},
        ]
    )
    recorder = Recorder(ok({"bodymessage": 3141592, "statuscode": 200}))
    async with make_client(recorder) as client:
        task_id = await client.bulk_update_listings(catalog)

    assert task_id == "3141592"
    assert recorder.requests[0].url.path == "/ws/listings"
    assert recorder.body() == {
        "catalog": catalog,
        "quotechar": '"',
        "delimiter": ";",
        "encoding": "utf-8",
    }
    assert catalog.splitlines()[0] == "sku;quantity;price"
    assert count_csv_lines(catalog) == 2


async def test_bulk_answer_without_task_id_is_a_payload_error() -> None:
    async with make_client(Recorder(ok({"statuscode": 200}))) as client:
        with pytest.raises(PayloadError, match="task id"):
            await client.bulk_update_listings("sku;quantity\nSKU-A;1\n")


def test_catalog_refuses_floats_and_missing_sku() -> None:
    with pytest.raises(TypeError):
        build_catalog_csv([{"sku": "A", "price": 1.1}])
    with pytest.raises(ValueError, match="sku"):
        build_catalog_csv([{"quantity": 1}])


def test_csv_line_count_ignores_blank_lines_and_quoted_newlines() -> None:
    catalog = 'sku;comment\nA;"two\nlines"\n\nB;x\n'

    assert count_csv_lines(catalog) == 2


async def test_wait_for_task_polls_until_finished() -> None:
    running = {"task_id": 3141592, "action_status": 2}
    recorder = Recorder(
        ok({**running, "action_status": 0}), ok(running), ok(load("task.json"))
    )
    async with make_client(recorder) as client:
        task = await client.wait_for_task(3141592, poll_interval_s=0.001)

    assert task.succeeded
    assert len(recorder.requests) == 3
    assert recorder.requests[0].url.path == "/ws/tasks/3141592"


async def test_wait_for_task_gives_up_with_a_retryable_timeout() -> None:
    running = ok({"task_id": 7, "action_status": 2})
    recorder = Recorder(*[running] * 50)
    async with make_client(recorder) as client:
        with pytest.raises(BackMarketTimeout, match="task 7"):
            await client.wait_for_task(7, poll_interval_s=0.005, timeout_s=0.02)


async def test_list_orders_sends_filters_and_deduplicates() -> None:
    older = load("order_single.json")
    newer = {**older, "state": 3, "date_modification": "2025-04-30T08:00:00Z"}
    page1 = {"count": 3, "next": "https://bm.test/ws/orders?page=2", "results": [older]}
    page2 = {"count": 3, "next": None, "results": [newer, load("order_multi.json")]}
    recorder = Recorder(ok(page1), ok(page2))
    since = datetime(2025, 4, 29, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    async with make_client(recorder) as client:
        orders = await client.list_orders(
            state=1, date_modification=since, country_code="FR"
        )

    params = recorder.requests[0].url.params
    assert params["date_modification"] == "2025-04-29T00:00:00Z"
    assert params["state"] == "1"
    assert params["country_code"] == "FR"
    assert "date_creation" not in params
    assert sorted(o.order_id for o in orders) == [51234567, 51239999]
    assert next(o for o in orders if o.order_id == 51234567).state == 3


async def test_get_order_that_does_not_fit_names_order_and_field() -> None:
    data = load("order_multi.json")
    data["orderlines"][1]["price"] = "n/a"
    async with make_client(Recorder(ok(data))) as client:
        with pytest.raises(PayloadError) as caught:
            await client.get_order(51239999)

    assert "order 51239999" in str(caught.value)
    assert "orderlines.1.price" in str(caught.value)
    assert not caught.value.retryable


async def test_accept_and_cancel_lines() -> None:
    recorder = Recorder(ok({}), ok({}))
    async with make_client(recorder) as client:
        await client.accept_orderline(51239999, "GS21-128-GRY-B")
        await client.cancel_orderline(51239999, "IP12-64-BLK-C")

    assert [r.url.path for r in recorder.requests] == ["/ws/orders/51239999"] * 2
    assert recorder.body(0) == {
        "order_id": 51239999,
        "new_state": 2,
        "sku": "GS21-128-GRY-B",
    }
    assert recorder.body(1) == {
        "order_id": 51239999,
        "new_state": 4,
        "sku": "IP12-64-BLK-C",
    }


async def test_ship_order() -> None:
    recorder = Recorder(httpx.Response(200))
    async with make_client(recorder) as client:
        await client.ship_order(
            51234567,
            tracking_number="6A12345678901",
            tracking_url="https://track.example/6A12345678901",
            shipper="colissimo",
            date_shipping=datetime(2025, 5, 2, 16, 30, tzinfo=UTC),
            imei="356789012345678",
        )

    assert recorder.body() == {
        "order_id": 51234567,
        "new_state": 3,
        "tracking_number": "6A12345678901",
        "tracking_url": "https://track.example/6A12345678901",
        "shipper": "colissimo",
        "date_shipping": "2025-05-02T16:30:00Z",
        "imei": "356789012345678",
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tracking_number": " "},
        {"tracking_number": "T1", "imei": "1" * 16},
        {"tracking_number": "T1", "serial_number": "S" * 51},
    ],
)
async def test_ship_order_refuses_bad_input_before_sending(
    kwargs: dict[str, str],
) -> None:
    recorder = Recorder()
    async with make_client(recorder) as client:
        with pytest.raises(ValueError):
            await client.ship_order(1, **kwargs)

    assert recorder.requests == []


async def test_set_orderline_identifiers() -> None:
    recorder = Recorder(ok({"imei": "356789012345678", "serial_number": None}))
    async with make_client(recorder) as client:
        echoed = await client.set_orderline_identifiers(9000010, imei="356789012345678")

    request = recorder.requests[0]
    assert request.method == "PATCH"
    assert request.url.path == "/ws/orderlines/9000010"
    assert recorder.body() == {"imei": "356789012345678"}
    assert echoed.imei == "356789012345678"


async def test_list_care_folders_uses_the_care_date_format() -> None:
    recorder = Recorder(ok(load("care_list.json")))
    async with make_client(recorder) as client:
        folders = await client.list_care_folders(
            state=0, last_modification_date=datetime(2025, 5, 1, 8, 30, tzinfo=UTC)
        )

    params = recorder.requests[0].url.params
    assert recorder.requests[0].url.path == "/ws/sav"
    assert params["last_modification_date"] == "2025-05-01-08-30"
    assert params["state"] == "0"
    # Care pages are fixed at 10; we do not ask for another size.
    assert "page-size" not in params
    assert [f.id for f in folders] == [700123]


async def test_get_care_folder() -> None:
    recorder = Recorder(ok(load("care_folder.json")))
    async with make_client(recorder) as client:
        folder = await client.get_care_folder(700123)

    assert recorder.requests[0].url.path == "/ws/sav/700123"
    assert folder.return_requested


async def test_competitors() -> None:
    recorder = Recorder(ok(load("backbox.json")))
    async with make_client(recorder) as client:
        entries = await client.get_competitors(LISTING_UUID)

    assert recorder.requests[0].url.path == f"/ws/backbox/v1/competitors/{LISTING_UUID}"
    assert [e.market for e in entries] == ["FR", "DE"]


async def test_listing_without_backbox_is_not_found() -> None:
    async with make_client(Recorder(httpx.Response(404))) as client:
        with pytest.raises(NotFoundError):
            await client.get_competitors(LISTING_UUID)


async def test_writes_are_never_retried() -> None:
    recorder = Recorder(httpx.Response(500), ok({}))
    async with make_client(recorder, get_retries=3, retry_backoff_s=0) as client:
        with pytest.raises(ServerError):
            await client.accept_orderline(1, "SKU-A")

    assert len(recorder.requests) == 1


async def test_reads_are_not_retried_by_default() -> None:
    recorder = Recorder(httpx.Response(500), ok(load("order_single.json")))
    async with make_client(recorder) as client:
        with pytest.raises(ServerError):
            await client.get_order(51234567)

    assert len(recorder.requests) == 1


async def test_reads_retry_retryable_errors_when_configured() -> None:
    recorder = Recorder(
        httpx.Response(500), httpx.Response(502), ok(load("order_single.json"))
    )
    async with make_client(recorder, get_retries=2, retry_backoff_s=0) as client:
        order = await client.get_order(51234567)

    assert order.order_id == 51234567
    assert len(recorder.requests) == 3


async def test_reads_do_not_retry_permanent_errors() -> None:
    recorder = Recorder(httpx.Response(404), ok(load("order_single.json")))
    async with make_client(recorder, get_retries=2, retry_backoff_s=0) as client:
        with pytest.raises(NotFoundError):
            await client.get_order(51234567)

    assert len(recorder.requests) == 1


async def test_shared_http_client_is_not_closed_by_the_client() -> None:
    recorder = Recorder(ok(load("order_single.json")), ok(load("order_single.json")))
    shared = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    async with make_client(recorder, http=shared) as client:
        await client.get_order(51234567)

    # Still open: a closed httpx client raises here.
    response = await shared.get("https://bm.test/ws/orders/51234567")
    await shared.aclose()
    assert response.status_code == 200
    assert len(recorder.requests) == 2
