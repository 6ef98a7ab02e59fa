"""The client against generated answers: contract-shaped, spoiled, or not JSON at all.

Whatever Back Market sends, the client returns models (money as finite `Decimal`,
unknown states and grades kept) or raises one of its own errors; a `PayloadError`
names the object and the field. Nothing else escapes.
"""

import asyncio
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backmarket import BackMarketClient
from backmarket.errors import (
    BackMarketError,
    ForbiddenError,
    PayloadError,
    RateLimitedError,
    ServerError,
)
from backmarket.models import (
    CareFolder,
    CompetitorEntry,
    Listing,
    Order,
)
from tests.test_client_helpers import make_client

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# --- contract-shaped values -------------------------------------------------------

ids = st.integers(min_value=1, max_value=10**12)
texts = st.text(max_size=20)
skus = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20
)
money = st.one_of(
    st.none(),
    st.just(""),
    st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False).map(
        str
    ),
    st.integers(min_value=0, max_value=10**6),
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
)
zones = st.sampled_from([None, UTC, timezone(timedelta(hours=2))])
timestamps = st.one_of(
    st.none(),
    st.just(""),
    st.builds(
        lambda moment, zone, z: (
            moment.replace(tzinfo=zone).isoformat().replace("+00:00", "Z" if z else "")
        ),
        st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1)),
        zones,
        st.booleans(),
    ),
)
order_states = st.one_of(st.sampled_from([1, 3, 9, 10]), st.integers(-3, 99))
line_states = st.one_of(st.sampled_from(range(10)), st.integers(-3, 99))
grades = st.one_of(
    st.sampled_from(["PREMIUM", "EXCELLENT", "VERY_GOOD", "GOOD", "FAIR"]), texts
)

addresses = st.fixed_dictionaries(
    {},
    optional={
        name: st.one_of(st.none(), texts)
        for name in (
            "company first_name last_name street street2 city country phone email"
        ).split()
    }
    | {"postal_code": st.one_of(texts, st.integers(0, 99999)), "gender": st.integers()},
)
orderlines = st.fixed_dictionaries(
    {"id": ids, "state": line_states, "listing": skus},
    optional={
        "quantity": st.integers(1, 5),
        "price": money,
        "shipping_price": money,
        "currency": st.sampled_from(["EUR", "USD"]),
        "date_creation": timestamps,
        "imei": st.one_of(st.none(), st.just(""), st.from_regex(r"\A\d{15}\Z")),
        "condition": st.integers(0, 20),
        "brand_new_field": texts,
    },
)
orders = st.fixed_dictionaries(
    {
        "order_id": ids,
        "state": order_states,
        "orderlines": st.lists(orderlines, max_size=3),
    },
    optional={
        "date_creation": timestamps,
        "date_modification": timestamps,
        "shipping_address": st.one_of(addresses, st.just({}), st.just("")),
        "billing_address": st.one_of(st.none(), addresses),
        "price": money,
        "shipping_price": money,
        "currency": st.sampled_from(["EUR", "USD", "JPY"]),
        "country_code": st.sampled_from(["FR", "DE", "US"]),
        "tracking_number": st.one_of(st.none(), texts),
        "installment_payment": st.one_of(st.none(), st.booleans(), texts),
    },
)
listings = st.fixed_dictionaries(
    {"id": st.uuids().map(str), "sku": skus, "quantity": st.integers(0, 10**4)},
    optional={
        "listing_id": ids,
        "price": money,
        "min_price": money,
        "max_price": money,
        "publication_state": st.one_of(st.integers(0, 4), st.integers(5, 99)),
        "state": st.integers(0, 12),
        "grade": grades,
        "warranty_delay": st.integers(12, 36),
        "comment": texts,
        "shippings": st.lists(st.dictionaries(texts, texts, max_size=2), max_size=2),
    },
)
return_labels = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.one_of(
            st.sampled_from(["UNSET", "CUSTOMER_TO_MERCHANT", "MERCHANT_TO_CUSTOMER"]),
            texts,
        ),
        "state": st.sampled_from(["ALIVE", "USED", "EXPIRED", "NEW_STATE"]),
        "date_creation": timestamps,
    },
)
claims = st.fixed_dictionaries(
    {"id": ids, "state": st.sampled_from([0, 9, 4])},
    optional={
        "return_labels": st.lists(return_labels, max_size=2),
        "resolution_choice": st.one_of(st.sampled_from(["REPAIR", "REFUND"]), texts),
        "issues": st.lists(
            st.fixed_dictionaries({"customerIssue": texts, "tag": texts}), max_size=2
        ),
    },
)
care_folders = st.fixed_dictionaries(
    {"id": ids},
    optional={
        "state": st.sampled_from([0, 9, 3]),
        "client": st.fixed_dictionaries(
            {}, optional={"first_name": texts, "email": texts}
        ),
        "orderline": st.fixed_dictionaries(
            {"id": ids},
            optional={
                "price": money,
                "order": st.fixed_dictionaries({"order_id": ids}),
                "snapshot": st.fixed_dictionaries({"sku": skus}),
            },
        ),
        "lines": st.lists(claims, max_size=2),
        "messages": st.lists(st.dictionaries(texts, texts, max_size=2), max_size=2),
        "date_creation": timestamps,
    },
)
prices = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"amount": money.filter(lambda m: m not in (None, ""))},
        optional={"currency": st.sampled_from(["EUR", "USD"])},
    ),
)
backbox_entries = st.fixed_dictionaries(
    {"market": st.sampled_from(["FR", "DE", "US", "XX"])},
    optional={
        "listing_id": st.uuids().map(str),
        "price": prices,
        "min_price": prices,
        "price_to_win": prices,
        "winner_price": prices,
        "is_winning": st.booleans(),
    },
)

# --- spoiling a valid answer ------------------------------------------------------

junk = st.one_of(
    st.none(),
    st.just("abc"),
    st.just("<html>"),
    st.text(max_size=5),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def spoil(draw: st.DrawFn, value: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """`value` with one field, at any depth, removed or replaced; and its top key."""
    top = draw(st.sampled_from(sorted(value)))
    return {**value, top: _spoil_below(draw, value, top)}, top


def _spoil_below(draw: st.DrawFn, parent: dict[str, Any], key: str) -> Any:
    child = parent[key]
    descend = draw(st.booleans())
    if descend and isinstance(child, dict) and child:
        inner = draw(st.sampled_from(sorted(child)))
        if draw(st.booleans()):
            return {k: v for k, v in child.items() if k != inner}
        return {**child, inner: _spoil_below(draw, child, inner)}
    if descend and isinstance(child, list) and child:
        index = draw(st.integers(0, len(child) - 1))
        spoiled = list(child)
        spoiled[index] = draw(junk)
        return spoiled
    return draw(junk)


@st.composite
def spoiled(
    draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]
) -> tuple[dict[str, Any], str]:
    value = draw(valid)
    if draw(st.booleans()):
        # A missing field rather than a wrong one.
        top = draw(st.sampled_from(sorted(value)))
        return {k: v for k, v in value.items() if k != top}, top
    return spoil(draw, value)


# --- running a call against a body ------------------------------------------------


def answer(
    body: object, status: int = 200
) -> Callable[[httpx.Request], httpx.Response]:
    # Serialized by hand: NaN and Infinity go over the wire as a lax server sends them.
    content = json.dumps(body).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content)

    return handler


def call(
    handler: Callable[[httpx.Request], httpx.Response],
    action: Callable[[BackMarketClient], Awaitable[Any]],
) -> Any:
    async def run() -> Any:
        async with make_client(handler) as client:
            return await action(client)

    return asyncio.run(run())


def outcome(
    handler: Callable[[httpx.Request], httpx.Response],
    action: Callable[[BackMarketClient], Awaitable[Any]],
) -> Any:
    """The call's result, or the client's own error; any other exception fails."""
    try:
        return call(handler, action)
    except BackMarketError as exc:
        return exc


def assert_names(error: PayloadError, object_id: object, field: str) -> None:
    message = str(error)
    assert str(object_id) in message, message
    assert field in message, message


def assert_money(*amounts: Decimal | None) -> None:
    for amount in amounts:
        assert amount is None or (isinstance(amount, Decimal) and amount.is_finite())


def check_order(order: Order) -> None:
    assert_money(order.price, order.shipping_price)
    for line in order.orderlines:
        assert_money(line.price, line.shipping_price)
        assert isinstance(line.state, int)


# --- orders -----------------------------------------------------------------------


@FUZZ
@given(order=orders)
def test_a_contract_shaped_order_parses(order: dict[str, Any]) -> None:
    parsed = call(answer(order), lambda c: c.get_order(order["order_id"]))

    assert isinstance(parsed, Order)
    check_order(parsed)
    assert parsed.state == order["state"]
    assert [line.state for line in parsed.orderlines] == [
        line["state"] for line in order["orderlines"]
    ]


@FUZZ
@given(case=spoiled(orders))
def test_a_spoiled_order_parses_or_names_its_field(
    case: tuple[dict[str, Any], str],
) -> None:
    order, field = case
    result = outcome(answer(order), lambda c: c.get_order(42))

    if isinstance(result, Order):
        check_order(result)
    else:
        assert isinstance(result, PayloadError), repr(result)
        assert_names(result, 42, field)
        assert not result.retryable


@FUZZ
@given(
    good=st.lists(orders, max_size=4, unique_by=lambda o: o["order_id"]),
    case=spoiled(orders),
)
def test_a_page_with_a_spoiled_order_fails_whole_or_skips_it(
    good: list[dict[str, Any]], case: tuple[dict[str, Any], str]
) -> None:
    bad, field = case
    page = {"count": len(good) + 1, "next": None, "results": [*good, bad]}
    skipped: list[Any] = []

    strict = outcome(answer(page), lambda c: c.list_orders())
    tolerant = call(answer(page), lambda c: c.list_orders(skipped=skipped))

    if isinstance(strict, BackMarketError):
        assert isinstance(strict, PayloadError)
        wanted = bad.get("order_id")
        assert_names(strict, "?" if wanted is None else wanted, field)
        [item] = skipped
        assert item.error.kind == "BackMarketPayloadError"
        assert item.object_id == (None if wanted is None else str(wanted))
    else:
        assert skipped == []
    for order in tolerant:
        check_order(order)
    good_ids = {o["order_id"] for o in good}
    assert good_ids <= {o.order_id for o in tolerant}


# --- listings, care folders, BackBox ----------------------------------------------


@FUZZ
@given(listing=listings)
def test_a_contract_shaped_listing_parses_and_keeps_unknown_values(
    listing: dict[str, Any],
) -> None:
    parsed = call(answer(listing), lambda c: c.get_listing(listing["id"]))

    assert isinstance(parsed, Listing)
    assert_money(parsed.price, parsed.min_price, parsed.max_price)
    assert parsed.grade == listing.get("grade")
    assert parsed.publication_state == listing.get("publication_state")


@FUZZ
@given(case=spoiled(listings))
def test_a_spoiled_listing_parses_or_names_its_field(
    case: tuple[dict[str, Any], str],
) -> None:
    listing, field = case
    result = outcome(answer(listing), lambda c: c.get_listing("L-1"))

    if isinstance(result, Listing):
        assert_money(result.price, result.min_price, result.max_price)
    else:
        assert isinstance(result, PayloadError), repr(result)
        assert_names(result, "L-1", field)


@FUZZ
@given(case=st.one_of(care_folders.map(lambda f: (f, "")), spoiled(care_folders)))
def test_a_care_folder_parses_or_names_its_field(
    case: tuple[dict[str, Any], str],
) -> None:
    folder, field = case
    result = outcome(answer(folder), lambda c: c.get_care_folder(7))

    if isinstance(result, CareFolder):
        assert isinstance(result.return_requested, bool)
        if result.orderline is not None:
            assert_money(result.orderline.price)
    else:
        assert field, "a contract-shaped care folder was refused"
        assert isinstance(result, PayloadError), repr(result)
        assert_names(result, 7, field)


@FUZZ
@given(
    entries=st.lists(backbox_entries, max_size=3),
    spoiled_entry=st.one_of(st.none(), spoiled(backbox_entries)),
)
def test_backbox_entries_parse_or_name_their_field(
    entries: list[dict[str, Any]], spoiled_entry: tuple[dict[str, Any], str] | None
) -> None:
    body = entries + ([spoiled_entry[0]] if spoiled_entry else [])
    result = outcome(answer(body), lambda c: c.get_competitors("uuid-1"))

    if isinstance(result, list):
        for entry in result:
            assert isinstance(entry, CompetitorEntry)
            for price in (entry.price, entry.min_price, entry.winner_price):
                assert price is None or price.amount.is_finite()
    else:
        assert spoiled_entry is not None, "contract-shaped entries were refused"
        assert isinstance(result, PayloadError), repr(result)
        assert_names(result, "uuid-1", spoiled_entry[1])


# --- answers that are not what JSON endpoints send --------------------------------


@FUZZ
@given(
    body=st.one_of(
        junk,
        st.lists(junk, max_size=3),
        st.fixed_dictionaries({"results": junk}),
        st.fixed_dictionaries(
            {"results": st.lists(junk, max_size=3), "next": junk, "count": junk}
        ),
    )
)
def test_any_json_page_is_a_list_or_a_payload_error(body: object) -> None:
    result = outcome(answer(body), lambda c: c.list_orders())

    if not isinstance(result, list):
        assert isinstance(result, PayloadError), repr(result)


@FUZZ
@given(data=st.binary(max_size=200), status=st.sampled_from([200, 201]))
def test_any_bytes_answered_with_success_give_a_model_or_a_payload_error(
    data: bytes, status: int
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=data)

    result = outcome(handler, lambda c: c.get_order(1))

    if not isinstance(result, Order):
        assert isinstance(result, PayloadError), repr(result)


HTML = b"<!DOCTYPE html><html><body>Attention Required! | Cloudflare</body></html>"
TRUNCATED = json.dumps({"order_id": 1, "state": 1, "orderlines": []}).encode()[:20]


@pytest.mark.parametrize(
    ("status", "content", "cls", "retryable"),
    [
        (200, HTML, PayloadError, False),
        (200, b"", PayloadError, False),
        (200, b"   ", PayloadError, False),
        (200, TRUNCATED, PayloadError, False),
        (200, b"null", PayloadError, False),
        (403, HTML, ForbiddenError, False),
        (429, HTML, RateLimitedError, True),
        (502, HTML, ServerError, True),
        (503, b"", ServerError, True),
        (500, TRUNCATED, ServerError, True),
    ],
    ids=[
        "html-200",
        "empty-200",
        "blank-200",
        "truncated-200",
        "null-200",
        "html-403",
        "html-429",
        "html-502",
        "empty-503",
        "truncated-500",
    ],
)
async def test_bodies_that_are_not_json_become_the_right_error(
    status: int, content: bytes, cls: type[BackMarketError], retryable: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, content=content, headers={"content-type": "text/html"}
        )

    async with make_client(handler) as client:
        with pytest.raises(BackMarketError) as failed:
            await client.get_order(1)

    assert type(failed.value) is cls
    assert failed.value.retryable is retryable
    if status == 403:
        assert isinstance(failed.value, ForbiddenError) and failed.value.firewall


class CutShort(httpx.AsyncByteStream):
    """A body that breaks off half way, as when the connection drops."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield TRUNCATED
        raise httpx.RemoteProtocolError("peer closed connection")


async def test_a_body_cut_short_by_the_connection_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=CutShort())

    async with make_client(handler) as client:
        with pytest.raises(BackMarketError) as failed:
            await client.get_order(1)

    assert failed.value.retryable, repr(failed.value)


async def test_a_huge_page_is_read_whole() -> None:
    page = {
        "count": 5000,
        "next": None,
        "results": [
            {"order_id": n, "state": 1, "orderlines": [{"id": n, "state": 1}]}
            for n in range(1, 5001)
        ],
    }

    async with make_client(answer(page)) as client:
        found = await client.list_orders()

    assert len(found) == 5000


@pytest.mark.parametrize("moment", [2**70, -(2**70), 1e300, math.inf, math.nan])
def test_a_number_out_of_range_is_not_a_timestamp(moment: float) -> None:
    order = {"order_id": 5, "state": 1, "date_modification": moment}
    result = outcome(answer(order), lambda c: c.get_order(5))

    assert isinstance(result, PayloadError), result
    assert_names(result, 5, "date_modification")


def test_not_a_number_is_not_money() -> None:
    for amount in (math.nan, math.inf, "NaN", "-Infinity"):
        result = outcome(
            answer({"id": "L", "sku": "S", "quantity": 1, "price": amount}),
            lambda c: c.get_listing("L"),
        )
        assert isinstance(result, PayloadError), (amount, result)
        assert_names(result, "L", "price")
