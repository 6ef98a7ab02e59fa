"""The HTTP API against real Postgres, the sandbox and a worker on the test server."""

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from api.app import create_app
from bmsync.cli import app as cli
from bmsync.commands.api_cmd import server_config
from database.inventory import get_or_create_variation
from database.models import AccountSettings, InventoryItem, Product, ProductVariation
from database.session import make_engine, make_session_factory
from domain.inventory import VariationSpec
from domain.orders import AddShipmentInput, OrderState
from runtime.logs import ExtrasFormatter
from runtime.order_client import OrderClient
from runtime.settings import get_settings
from tests.processes import free_port
from tests.world import TOKEN, TOKEN_VARIABLE, World, make_world, new_imei

API_TOKEN = "api-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
    workflow_env: WorkflowEnvironment,
    task_queue: str,
) -> World:
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    return make_world(session_factory, workflow_env.client, task_queue)


@pytest.fixture
def notified() -> list[list[int]]:
    return []


@pytest.fixture
async def api(
    world: World, notified: list[list[int]]
) -> AsyncIterator[httpx.AsyncClient]:
    async def notify(account_ids: list[int]) -> None:
        notified.append(account_ids)

    app = create_app(
        world.session_factory,
        OrderClient(world.client, world.task_queue),
        API_TOKEN,
        notify_stock=notify,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api.test", headers=AUTH
    ) as client:
        yield client


def account_name(world: World) -> str:
    with world.session_factory() as session:
        settings = session.get(AccountSettings, world.account_id)
        assert settings is not None
        return settings.account.name


def orders_path(world: World, order_id: int) -> str:
    return f"/v1/accounts/{account_name(world)}/orders/{order_id}"


def field_of(body: dict[str, Any]) -> list[str]:
    return [str(error["loc"][-1]) for error in body["detail"]]


async def test_a_commit_and_a_shipment_reach_the_order(
    world: World, api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sku, other_sku = world.skus
    order_id = world.place_order((sku, 1))
    path = orders_path(world, order_id)

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        line_id = state.lines[0].orderline_id

        wrong = await api.post(
            f"{path}/commits",
            json={"orderline_id": line_id, "identifier": world.devices[other_sku][0]},
        )
        good = await api.post(
            f"{path}/commits",
            json={"orderline_id": line_id, "identifier": world.devices[sku][0]},
        )
        shown = await api.get(path)
        shipped = await api.post(
            f"{path}/shipments",
            json={"tracking_number": "1Z-API", "carrier": "UPS"},
        )
        final = await world.order_handle(order_id).result()

    assert wrong.status_code == 409
    assert "not the variation" in wrong.json()["detail"]
    assert "Rejected" not in wrong.json()["detail"]
    assert good.status_code == 201, good.text
    assert good.json()["fulfils_line"] and good.json()["imei_will_sync"]

    assert shown.status_code == 200
    view = shown.json()
    assert view["workflow"]["lines"][0]["commits"][0]["imei"] == world.devices[sku][0]
    line = view["sales_order"]["lines"][0]
    assert line["orderline_id"] == line_id and line["sku"] == sku
    assert line["committed_imeis"] == [world.devices[sku][0]]
    assert "customer" not in shown.text.lower()

    assert shipped.status_code == 201 and shipped.json()["held"] is False
    assert final.phase == "shipped"
    ships = [b for b in world.applied_bodies(order_id) if b["new_state"] == 3]
    assert ships[0]["tracking_number"] == "1Z-API"
    assert API_TOKEN not in caplog.text


async def test_a_bad_imei_is_refused_naming_the_identifier(
    world: World, api: httpx.AsyncClient
) -> None:
    order_id = world.place_order((world.skus[0], 1))

    answer = await api.post(
        f"{orders_path(world, order_id)}/commits",
        json={"orderline_id": 1, "identifier": "356938035643801"},
    )

    assert answer.status_code == 422
    assert field_of(answer.json()) == ["identifier"]
    assert "not a valid IMEI" in answer.text
    assert world.open_commits() == 0


@pytest.mark.parametrize(
    "orderline_id",
    [-1, 0, True, "7", 7.0, None, 2**63],
    ids=["negative", "zero", "true", "text", "float", "null", "past-bigint"],
)
async def test_an_orderline_id_that_is_no_id_is_a_422_naming_it(
    world: World, api: httpx.AsyncClient, orderline_id: object
) -> None:
    order_id = world.place_order((world.skus[0], 1))

    answer = await api.post(
        f"{orders_path(world, order_id)}/commits",
        json={"orderline_id": orderline_id, "identifier": "SERIAL-1"},
    )

    assert answer.status_code == 422, answer.text
    assert field_of(answer.json()) == ["orderline_id"]
    assert world.open_commits() == 0


async def test_a_refusal_reads_as_the_rule_words_it(
    world: World, api: httpx.AsyncClient
) -> None:
    order_id = world.place_order((world.skus[0], 1))

    answer = await api.post(
        f"{orders_path(world, order_id)}/commits",
        json={"orderline_id": 1, "identifier": "356938035643801"},
    )

    assert answer.status_code == 422
    assert [problem["msg"] for problem in answer.json()["detail"]] == [
        "'356938035643801' is not a valid IMEI (15 digits with a Luhn check digit)"
    ]


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("commits", {"orderline_id": 1, "identifier": "ab\u0000cd"}, "identifier"),
        ("commits", {"orderline_id": 1, "identifier": "SER\udcff"}, "identifier"),
        ("shipments", {"tracking_number": "1Z\u0000"}, "tracking_number"),
        ("shipments", {"tracking_number": "1Z", "carrier": "U\nPS"}, "carrier"),
        (
            "commits",
            {"orderline_id": 1, "identifier": "SER-1", "request_id": "r\u0000"},
            "request_id",
        ),
        ("shipments", {"tracking_number": "1Z", "request_id": "\u0000"}, "request_id"),
        ("shipments", {"tracking_number": "1Z", "request_id": ""}, "request_id"),
    ],
)
async def test_text_the_database_cannot_store_is_refused_naming_the_field(
    world: World, api: httpx.AsyncClient, kind: str, body: str, field: str
) -> None:
    order_id = world.place_order((world.skus[0], 1))

    answer = await api.post(
        f"{orders_path(world, order_id)}/{kind}",
        content=json.dumps(body, ensure_ascii=True).encode(),
        headers={"Content-Type": "application/json"},
    )

    assert answer.status_code == 422, answer.text
    assert field_of(answer.json()) == [field]
    assert all("input" not in problem for problem in answer.json()["detail"])
    assert world.open_commits() == 0


@pytest.mark.parametrize(
    ("body", "field", "said"),
    [
        ({"url": "javascript:alert(1)"}, "url", "http:// or https://"),
        ({"url": "file:///etc/passwd"}, "url", "http:// or https://"),
        ({"url": "https://"}, "url", "http:// or https://"),
        ({"tracking_number": "1Z\U0001f4e6"}, "tracking_number", "letters A to Z"),
        ({"tracking_number": "1Z<b>"}, "tracking_number", "letters A to Z"),
        ({"tracking_number": "1Z\t99"}, "tracking_number", "U+0009"),
        ({"tracking_number": "- / -"}, "tracking_number", "no letter or digit"),
        ({"carrier": "U\u200bPS"}, "carrier", "U+200B"),
        ({"carrier": "UPS\x85X"}, "carrier", "U+0085"),
    ],
    ids=[
        "javascript-url",
        "file-url",
        "url-without-host",
        "emoji-tracking",
        "markup-tracking",
        "tab-in-tracking",
        "separators-only",
        "zero-width-carrier",
        "c1-control-carrier",
    ],
)
async def test_a_shipment_no_carrier_would_issue_is_a_422(
    world: World, api: httpx.AsyncClient, body: dict[str, str], field: str, said: str
) -> None:
    order_id = world.place_order((world.skus[0], 1))

    answer = await api.post(
        f"{orders_path(world, order_id)}/shipments",
        json={"tracking_number": "1Z999AA10123456784", **body},
    )

    assert answer.status_code == 422, answer.text
    assert field_of(answer.json()) == [field]
    assert said in answer.json()["detail"][0]["msg"]
    assert world.applied_bodies(order_id) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"tracking_number": "1Z 999-AA_10.12/3"},
        {
            "tracking_number": "6A12345678901",
            "carrier": "La Poste – Colissimo",
            "url": "HTTPS://www.laposte.example/suivi?code=6A12345678901",
        },
    ],
)
def test_shipments_as_carriers_write_them_are_taken(fields: dict[str, str]) -> None:
    shipment = AddShipmentInput.model_validate(fields)

    assert shipment.model_dump(exclude_none=True) == fields


async def test_an_account_name_postgres_cannot_store_is_a_422(
    world: World, api: httpx.AsyncClient
) -> None:
    path = "/v1/accounts/ac%00me/orders/1"

    read = await api.get(path)
    commit = await api.post(
        f"{path}/commits", json={"orderline_id": 1, "identifier": "SERIAL-1"}
    )
    ship = await api.post(f"{path}/shipments", json={"tracking_number": "T-1"})

    for answer in (read, commit, ship):
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"] == ["path", "account"]
        assert "NUL" in answer.json()["detail"][0]["msg"]
    assert world.open_commits() == 0


async def test_unknown_orders_and_accounts_are_404s(
    world: World, api: httpx.AsyncClient
) -> None:
    unknown = 99_999_999
    path = orders_path(world, unknown)

    async with world.worker():
        commit = await api.post(
            f"{path}/commits", json={"orderline_id": 1, "identifier": "SERIAL-1"}
        )
        ship = await api.post(f"{path}/shipments", json={"tracking_number": "T-404"})
        # The requests started the order's workflow, which found no such order.
        read = await api.get(path)
    no_account = await api.get("/v1/accounts/nobody/orders/1")
    long_account = await api.get(f"/v1/accounts/{'A' * 10_000}/orders/1")
    too_big = await api.get(orders_path(world, 10**23))

    assert [commit.status_code, ship.status_code, read.status_code] == [404] * 3
    for refused in (commit, ship):
        assert refused.json()["detail"] == (
            f"Back Market has no order {unknown} for this account"
        )
    assert f"Back Market has no order {unknown}" in read.json()["detail"]
    assert too_big.status_code == 422
    assert too_big.json()["detail"][0]["loc"] == ["path", "order_id"]
    assert no_account.status_code == 404
    assert "'nobody'" in no_account.json()["detail"]
    assert long_account.status_code == 404
    assert "(10000 characters)" in long_account.json()["detail"]
    assert len(long_account.text) < 300


async def test_a_request_no_worker_answers_is_a_503_to_try_again(
    world: World,
) -> None:
    # No worker polls the task queue, and the client gives up after a second.
    app = create_app(
        world.session_factory,
        OrderClient(world.client, world.task_queue, timeout_s=1.0),
        API_TOKEN,
    )
    order_id = world.place_order((world.skus[0], 1))
    path = orders_path(world, order_id)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test", headers=AUTH
    ) as api:
        commit = await api.post(
            f"{path}/commits", json={"orderline_id": 1, "identifier": "SERIAL-1"}
        )
        ship = await api.post(f"{path}/shipments", json={"tracking_number": "T-1"})

    for answer in (commit, ship):
        assert answer.status_code == 503, answer.text
        assert "did not answer in time" in answer.json()["detail"]
        assert "may still take effect" in answer.json()["detail"]


async def test_a_database_that_cannot_be_reached_is_a_503_in_one_log_line(
    workflow_env: WorkflowEnvironment,
    task_queue: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    # Nothing listens on port 1: every connection is refused at once.
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    app = create_app(
        make_session_factory(engine),
        OrderClient(workflow_env.client, task_queue),
        API_TOKEN,
    )

    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://api.test",
            headers=AUTH,
        ) as api:
            stock = await api.post(
                "/v1/stock",
                json={
                    "serial": "SER-UNSEEN-7",
                    "sku": "SKU-UNSEEN-7",
                    "status": "Available",
                    "warehouse": "Main",
                },
            )
            read = await api.get("/v1/accounts/acct-unseen/orders/4242")
    finally:
        engine.dispose()

    for answer in (stock, read):
        assert answer.status_code == 503, answer.text
        assert answer.json() == {
            "detail": "the database cannot be reached just now; try again"
        }
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in problems] == [
        "database unreachable, answered 503"
    ] * 2
    assert all(r.exc_info is None for r in problems)
    logged = server_log(caplog)
    for sent in ("SER-UNSEEN-7", "SKU-UNSEEN-7", "acct-unseen", "4242", "Traceback"):
        assert sent not in logged


class FailingOrderClient(OrderClient):
    async def state(self, account_id: int, order_id: int) -> OrderState | None:
        raise RuntimeError(f"state of order {order_id} is broken")


async def test_an_unexpected_error_is_a_json_500_without_what_was_sent(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = create_app(
        world.session_factory,
        FailingOrderClient(world.client, world.task_queue),
        API_TOKEN,
    )

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test", headers=AUTH
    ) as api:
        answer = await api.get(orders_path(world, 98_765_431))

    assert answer.status_code == 500
    assert answer.json() == {
        "detail": "the request failed on an unexpected error; it has been logged"
    }
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    route = "/v1/accounts/{account}/orders/{order_id}"
    assert errors[0].getMessage().startswith(f"unexpected RuntimeError on GET {route}")
    assert "98765431" not in server_log(caplog)


def server_log(caplog: pytest.LogCaptureFixture) -> str:
    """What the app logged; httpx's lines are the test client's."""
    return "\n".join(
        logging.Formatter().format(record)
        for record in caplog.records
        if not record.name.startswith("httpx")
    )


async def test_a_shipment_for_an_order_not_imported_yet_is_held_not_refused(
    world: World, api: httpx.AsyncClient
) -> None:
    world.set_settings(auto_validate=False)
    order_id = world.place_order((world.skus[0], 1))

    async with world.worker():
        ship = await api.post(
            f"{orders_path(world, order_id)}/shipments",
            json={"tracking_number": "T-EARLY"},
        )

    assert ship.status_code == 201, ship.text
    assert ship.json()["held"] is True
    assert world.applied_bodies(order_id) == []


async def test_a_request_id_used_for_a_different_shipment_is_a_409(
    world: World, api: httpx.AsyncClient
) -> None:
    world.set_settings(auto_validate=False)
    order_id = world.place_order((world.skus[0], 1))
    shipments = f"{orders_path(world, order_id)}/shipments"

    async with world.worker():
        first = await api.post(
            shipments, json={"tracking_number": "T-1", "request_id": "s-1"}
        )
        again = await api.post(
            shipments, json={"tracking_number": "T-1", "request_id": "s-1"}
        )
        other = await api.post(
            shipments, json={"tracking_number": "OTHER", "request_id": "s-1"}
        )
        state = await world.wait_for(order_id, lambda s: s.shipment is not None)

    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json()
    assert other.status_code == 409, other.text
    assert "'s-1' was already used for a different request" in other.json()["detail"]
    assert state.shipment is not None and state.shipment.tracking_number == "T-1"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {API_TOKEN}x"},
        {"Authorization": f"Basic {API_TOKEN}"},
    ],
    ids=["missing", "wrong", "longer", "not-bearer"],
)
async def test_requests_without_the_right_token_are_401s(
    world: World, api: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    api.headers.pop("Authorization")
    path = orders_path(world, 1)

    read = await api.get(path, headers=headers)
    # Refused before the body is even looked at.
    commit = await api.post(f"{path}/commits", json={}, headers=headers)
    stock = await api.post("/v1/stock", json={}, headers=headers)

    for answer in (read, commit, stock):
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert API_TOKEN not in answer.text


def stock_count(world: World) -> int:
    with world.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(InventoryItem)) or 0)


async def test_stock_is_added_once_and_the_quantity_sync_told(
    world: World, api: httpx.AsyncClient, notified: list[list[int]]
) -> None:
    world.set_settings(quantity_sync=True)
    imei = new_imei()
    before = stock_count(world)

    added = await api.post(
        "/v1/stock",
        json={
            "imei": imei,
            "sku": world.skus[0].lower(),
            "status": "available",
            "warehouse": "Main",
            "cost": "129.50",
        },
    )
    again = await api.post(
        "/v1/stock",
        json={
            "imei": imei,
            "sku": world.skus[1],
            "status": "Reserved",
            "warehouse": "Main",
        },
    )

    assert added.status_code == 201, added.text
    item = added.json()
    assert item["imei"] == imei and item["status"] == "Available"
    assert item["manufacturer"] == "Test" and item["cost"] == "129.50"
    assert item["quantity_sync_notified"] is True
    assert notified == [[world.account_id]]

    assert again.status_code == 409
    assert field_of(again.json()) == ["imei"]
    assert f"item {item['id']}" in again.text
    assert stock_count(world) == before + 1
    with world.session_factory() as session:
        stored = session.get(InventoryItem, item["id"])
        assert stored is not None
        assert stored.variation_id == item["variation_id"]
        assert str(stored.cost) == "129.50"
    assert notified == [[world.account_id]]


async def test_a_device_by_variation_fields_joins_that_variation(
    world: World, api: httpx.AsyncClient, notified: list[list[int]]
) -> None:
    with world.session_factory.begin() as session:
        variation_id = get_or_create_variation(
            session, VariationSpec("Apple", "iPhone 15", storage="128GB")
        ).id

    added = await api.post(
        "/v1/stock",
        json={
            "serial": "F2LXK0ABCDEF",
            "manufacturer": "Apple",
            "model": "iPhone 15",
            "storage": "128GB",
            "status": "Testing",
            "warehouse": "Main",
        },
    )

    same_serial = await api.post(
        "/v1/stock",
        json={
            "serial": "F2LXK0ABCDEF",
            "sku": world.skus[0],
            "status": "Available",
            "warehouse": "Main",
        },
    )

    assert added.status_code == 201, added.text
    assert added.json()["variation_id"] == variation_id
    assert added.json()["model"] == "iPhone 15" and added.json()["imei"] is None
    # Testing stock counts for nobody, and quantity sync is off: nobody to tell.
    assert added.json()["quantity_sync_notified"] is False and notified == []
    assert same_serial.status_code == 409
    assert field_of(same_serial.json()) == ["serial"]


async def test_stock_without_status_or_warehouse_is_available_in_main(
    world: World, api: httpx.AsyncClient
) -> None:
    added = await api.post("/v1/stock", json={"imei": new_imei(), "sku": world.skus[0]})

    assert added.status_code == 201, added.text
    assert (added.json()["status"], added.json()["warehouse"]) == (
        "Available",
        "Main",
    )


@pytest.mark.parametrize(
    ("described", "fields", "said"),
    [
        (
            {"manufacturer": "Apple", "model": "iPhone 99"},
            ["manufacturer", "model"],
            "no product 'Apple' 'iPhone 99' in the catalog",
        ),
        (
            {"manufacturer": "test", "model": "PHONE 0", "storage": "1TB"},
            ["grade", "condition", "storage", "colour", "network"],
            "has no variation with grade '', condition '', storage '1TB'",
        ),
    ],
    ids=["unknown-product", "unknown-variation"],
)
async def test_stock_of_a_variation_not_in_the_catalog_is_refused(
    world: World,
    api: httpx.AsyncClient,
    described: dict[str, str],
    fields: list[str],
    said: str,
) -> None:
    before = stock_count(world), catalog_count(world)

    answer = await api.post(
        "/v1/stock",
        json={"serial": "SERX3", "status": "Available", "warehouse": "Main"}
        | described,
    )

    assert answer.status_code == 422, answer.text
    assert field_of(answer.json()) == fields
    assert said in answer.json()["detail"][0]["msg"]
    assert "bmsync catalog variations add" in answer.json()["detail"][0]["msg"]
    assert (stock_count(world), catalog_count(world)) == before


def catalog_count(world: World) -> tuple[int, int]:
    with world.session_factory() as session:
        return (
            int(session.scalar(select(func.count()).select_from(Product)) or 0),
            int(
                session.scalar(select(func.count()).select_from(ProductVariation)) or 0
            ),
        )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"imei": "356938035643801"}, "imei"),
        ({"imei": "12345"}, "imei"),
        ({"sku": "NO-SUCH-SKU"}, "sku"),
        ({"status": "Lost"}, "status"),
        ({"warehouse": "Moon"}, "warehouse"),
        ({"account": "nobody"}, "account"),
        ({"cost": "0.001"}, "cost"),
        ({"colour_name": "red"}, "colour_name"),
        ({"serial": "S\u001b[31mX2"}, "serial"),
        ({"serial": "S\u200bX2"}, "serial"),
        ({"serial": "S X2"}, "serial"),
    ],
)
async def test_bad_stock_fields_are_named_and_nothing_is_stored(
    world: World, api: httpx.AsyncClient, change: dict[str, str], field: str
) -> None:
    before = stock_count(world)
    body = {
        "imei": new_imei(),
        "sku": world.skus[0],
        "status": "Available",
        "warehouse": "Main",
        **change,
    }

    answer = await api.post("/v1/stock", json=body)

    assert answer.status_code == 422, answer.text
    assert field_of(answer.json()) == [field]
    assert stock_count(world) == before


STOCK_TEXT_FIELDS = [
    "sku",
    "status",
    "warehouse",
    "account",
    "serial",
    "manufacturer",
    "model",
    "grade",
    "condition",
    "storage",
    "colour",
    "network",
]


@pytest.mark.parametrize("field", STOCK_TEXT_FIELDS)
async def test_a_nul_in_any_stock_field_is_a_422_naming_it(
    world: World, api: httpx.AsyncClient, field: str
) -> None:
    before = stock_count(world)
    body = {
        "imei": new_imei(),
        "manufacturer": "Test",
        "model": "Phone",
        "status": "Available",
        "warehouse": "Main",
    }
    if field in ("sku", "account"):
        del body["manufacturer"], body["model"]
        body["sku"] = world.skus[0]
    body[field] = f"{body.get(field, 'x')}\u0000"

    answer = await api.post(
        "/v1/stock",
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )

    assert answer.status_code == 422, answer.text
    assert field_of(answer.json()) == [field]
    assert "NUL" in answer.json()["detail"][0]["msg"]
    assert stock_count(world) == before


async def test_a_received_date_no_device_can_have_is_a_422_naming_it(
    world: World, api: httpx.AsyncClient
) -> None:
    before = stock_count(world)

    def device(received: date) -> dict[str, str]:
        return {
            "imei": new_imei(),
            "sku": world.skus[0],
            "status": "Available",
            "warehouse": "Main",
            "received_date": received.isoformat(),
        }

    ancient = await api.post("/v1/stock", json=device(date(1, 1, 1)))
    future = await api.post("/v1/stock", json=device(date.today() + timedelta(9)))
    today = await api.post("/v1/stock", json=device(date.today()))

    for answer, said in ((ancient, "0001-01-01"), (future, "in the future")):
        assert answer.status_code == 422, answer.text
        assert field_of(answer.json()) == ["received_date"]
        assert "received_date" in answer.json()["detail"][0]["msg"]
        assert said in answer.json()["detail"][0]["msg"]
    assert today.status_code == 201, today.text
    assert stock_count(world) == before + 1


async def test_the_served_api_logs_plain_lines_without_request_bodies(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(ExtrasFormatter("%(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    app = create_app(
        world.session_factory, OrderClient(world.client, world.task_queue), API_TOKEN
    )
    server = uvicorn.Server(server_config(app, "127.0.0.1", free_port()))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        base_url = f"http://127.0.0.1:{server.config.port}"
        async with httpx.AsyncClient(base_url=base_url, headers=AUTH) as api:
            bad = await api.post(
                orders_path(world, 1) + "/commits",
                json={"orderline_id": "BODY-SECRET-1", "identifier": "BODY-SECRET-2"},
            )
            unknown = await api.post(
                "/v1/stock", json={"serial": "BODY-SECRET-3", "sku": "BODY-SECRET-4"}
            )
    finally:
        server.should_exit = True
        await serving
        logging.getLogger().removeHandler(handler)

    assert (bad.status_code, unknown.status_code) == (422, 422)
    logged = lines.getvalue()
    assert "Uvicorn running on" in logged and "POST /v1/stock" in logged
    assert "\x1b" not in logged and "color_message" not in logged
    assert "BODY-SECRET" not in logged


def test_the_api_command_wants_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BMSYNC_API_TOKEN", raising=False)

    result = CliRunner().invoke(cli, ["api", "--port", "8799"])

    assert result.exit_code == 1
    assert "set BMSYNC_API_TOKEN" in result.stderr


def test_the_api_command_wants_a_token_no_one_could_guess(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BMSYNC_API_TOKEN", "x")
    monkeypatch.setenv("COLUMNS", "200")
    # Should the token pass, nothing is there to start or reach.
    monkeypatch.setenv("BMSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    get_settings.cache_clear()

    result = CliRunner().invoke(cli, ["api", "--port", "8799"])
    get_settings.cache_clear()

    assert result.exit_code == 1, result.output
    assert "BMSYNC_API_TOKEN is shorter than 16 characters" in result.stderr
    assert "secrets.token_urlsafe(32)" in result.stderr


async def test_the_app_refuses_a_token_shorter_than_16_characters(
    world: World,
) -> None:
    orders = OrderClient(world.client, world.task_queue)

    with pytest.raises(ValueError, match="shorter than 16 characters"):
        create_app(world.session_factory, orders, "x" * 15)
    create_app(world.session_factory, orders, "x" * 16)
