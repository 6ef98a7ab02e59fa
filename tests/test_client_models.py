"""The Back Market models against recorded-style payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from backmarket.errors import PayloadError, payload_error
from backmarket.models import (
    CareFolder,
    CareFolderSummary,
    CompetitorEntry,
    Grade,
    Listing,
    ListingUpdate,
    Order,
    OrderlineState,
    OrderState,
    Page,
    PublicationState,
    Task,
    known,
)
from tests.test_client_helpers import load

PERSONAL = ("Jeanne", "Durand", "Lilas", "jeanne.durand", "+33612345678", "Bat. B")


def test_listing_parses_money_as_decimal_and_ignores_unknown_fields() -> None:
    listing = Listing.model_validate(load("listing.json"))

    assert listing.price == Decimal("389.00")
    assert isinstance(listing.price, Decimal)
    assert listing.min_price == Decimal("359.50")
    assert listing.max_price == Decimal("520.00")
    assert listing.sku == "IP13-128-MID-A"
    assert known(Grade, listing.grade) is Grade.VERY_GOOD
    assert known(PublicationState, listing.publication_state) is PublicationState.ONLINE
    assert not hasattr(listing, "some_field_added_later")


def test_unknown_states_and_grades_are_kept_raw() -> None:
    page = Page[Listing].model_validate(load("listings_page2.json"))
    listing = page.results[0]

    assert listing.publication_state == 7
    assert listing.grade == "SHINY_NEW_GRADE"
    assert known(PublicationState, listing.publication_state) is None
    assert known(Grade, listing.grade) is None


def test_paging_envelope_parses_generic_results() -> None:
    page = Page[Listing].model_validate(load("listings_page1.json"))

    assert page.count == 3
    assert page.next is not None and page.next.startswith("https://")
    assert [item.sku for item in page.results] == ["SKU-A", "SKU-B"]
    assert page.results[1].price == Decimal("250")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "2025-04-29T09:35:24.123456Z",
            datetime(2025, 4, 29, 9, 35, 24, 123456, tzinfo=UTC),
        ),
        (
            "2025-04-29T11:35:24+02:00",
            datetime(2025, 4, 29, 9, 35, 24, tzinfo=UTC),
        ),
        ("2025-04-29T09:35:24", datetime(2025, 4, 29, 9, 35, 24, tzinfo=UTC)),
        (
            "2025-04-29T09:35:24.123456789Z",
            datetime(2025, 4, 29, 9, 35, 24, 123456, tzinfo=UTC),
        ),
        (
            "2025-04-29T09:35:24.5Z",
            datetime(2025, 4, 29, 9, 35, 24, 500000, tzinfo=UTC),
        ),
        ("2025-04-29", datetime(2025, 4, 29, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_timestamp_variants(raw: str | None, expected: datetime | None) -> None:
    line = {"id": 1, "state": 1, "date_creation": raw}

    order = Order.model_validate({"order_id": 1, "state": 1, "orderlines": [line]})
    parsed = order.orderlines[0].date_creation

    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None


def test_offset_is_kept_not_converted() -> None:
    order = Order.model_validate(load("order_single.json"))

    assert order.date_modification is not None
    assert order.date_modification.utcoffset() == timedelta(hours=2)
    assert order.date_modification == datetime(
        2025, 4, 29, 11, 2, tzinfo=timezone(timedelta(hours=2))
    )
    assert order.date_payment == datetime(2025, 4, 29, 9, 36, 10, tzinfo=UTC)
    assert order.date_shipping is None


def test_unparseable_timestamp_is_refused() -> None:
    with pytest.raises(ValidationError, match="date_creation"):
        Order.model_validate({"order_id": 1, "state": 1, "date_creation": "yesterday"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("389.00", Decimal("389.00")),
        (" 12.5 ", Decimal("12.5")),
        (38.9, Decimal("38.9")),
        (0, Decimal("0")),
        ("", None),
        (None, None),
    ],
)
def test_money_accepts_strings_and_numbers(
    raw: object, expected: Decimal | None
) -> None:
    order = Order.model_validate({"order_id": 1, "state": 1, "shipping_price": raw})

    assert order.shipping_price == expected


@pytest.mark.parametrize("raw", ["abc", "NaN", True, [1]])
def test_money_refuses_what_is_not_an_amount(raw: object) -> None:
    with pytest.raises(ValidationError, match="shipping_price"):
        Order.model_validate({"order_id": 1, "state": 1, "shipping_price": raw})


def test_single_line_order() -> None:
    order = Order.model_validate(load("order_single.json"))

    assert known(OrderState, order.state) is OrderState.TO_ACCEPT
    assert order.is_single_device
    line = order.line_for_sku("ip13-128-mid-a")
    assert line is not None and line.id == 9000001
    assert line.sku == "IP13-128-MID-A"
    assert line.product_id == "771234"
    assert line.orderline_fee == Decimal("38.9")
    assert line.shipping_price == Decimal("0")
    assert order.shipping_address is not None
    assert order.shipping_address.postal_code == "75011"
    assert order.shipping_address.last_name == "Durand"


def test_multi_line_order_keeps_unknown_codes() -> None:
    order = Order.model_validate(load("order_multi.json"))

    assert not order.is_single_device
    assert order.billing_address is None
    assert order.expected_dispatch_date == datetime(2025, 5, 5, tzinfo=UTC)
    first, second = order.orderlines
    assert known(OrderlineState, first.state) is OrderlineState.ACCEPTED
    assert second.state == 42
    assert known(OrderlineState, second.state) is None
    assert second.condition == 99
    assert second.return_reason == 77
    assert order.line_for_sku("missing") is None


def test_order_repr_and_str_hide_personal_data() -> None:
    order = Order.model_validate(load("order_single.json"))

    shown = repr(order) + str(order) + repr(order.shipping_address)
    shown += str(order.billing_address)

    assert "51234567" in shown
    assert "country='FR'" in shown
    for secret in PERSONAL:
        assert secret not in shown


def test_care_folder_detail_detects_a_return_request() -> None:
    folder = CareFolder.model_validate(load("care_folder.json"))

    assert folder.return_requested
    assert folder.date_closed is None
    assert folder.orderline is not None and folder.orderline.order is not None
    assert folder.orderline.order.order_id == 51234567
    assert folder.orderline.snapshot is not None
    assert folder.orderline.snapshot.listing == "4812345"
    claim = folder.lines[0]
    assert claim.issues[0].customer_issue == "SCREEN_FLICKERS"
    assert claim.resolution_choice == "REPAIR_REPLACE"
    assert folder.client is not None and folder.client.email is not None

    shown = repr(folder) + str(folder)
    for secret in (*PERSONAL, "0612345678", "clignote"):
        assert secret not in shown


def test_care_folder_without_customer_label_is_not_a_return() -> None:
    data = load("care_folder.json")
    data["lines"][0]["return_labels"][0]["kind"] = "MERCHANT_TO_CUSTOMER"

    assert not CareFolder.model_validate(data).return_requested


def test_care_folder_summary() -> None:
    item = CareFolderSummary.model_validate(load("care_list.json")["results"][0])

    assert item.orderline == 9000001
    assert item.date_modification == datetime(2025, 5, 11, 9, 30, 0, 250000, tzinfo=UTC)


def test_backbox_prices() -> None:
    fr, de = (CompetitorEntry.model_validate(e) for e in load("backbox.json"))

    assert fr.market == "FR"
    assert fr.price_to_win is not None
    assert fr.price_to_win.amount == Decimal("379.00")
    assert fr.price_to_win.currency == "EUR"
    assert fr.is_winning is False
    assert de.price is not None and de.price.amount == Decimal("395")
    assert de.min_price is None
    assert de.price_to_win is None


def test_task_status() -> None:
    task = Task.model_validate(load("task.json"))

    assert task.task_id == "3141592"
    assert task.finished and task.succeeded and not task.failed
    assert not Task.model_validate({"task_id": "x", "action_status": 2}).finished
    assert Task.model_validate({"task_id": "x", "action_status": 8}).failed


def test_listing_update_sends_only_set_fields_with_amounts_as_strings() -> None:
    update = ListingUpdate(quantity=3, price=Decimal("160.99"))

    assert update.to_body() == {"quantity": 3, "price": "160.99"}
    assert ListingUpdate(price=Decimal("1E+2")).to_body() == {"price": "100"}
    assert ListingUpdate(min_price=None).to_body() == {"min_price": None}


@pytest.mark.parametrize(
    "fields",
    [
        {"quantiy": 3},
        {"comment": "x" * 501},
        {"warranty_delay": 6},
        {"quantity": -1},
    ],
)
def test_listing_update_refuses_bad_input(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ListingUpdate.model_validate(fields)


def test_payload_error_names_object_and_field_without_echoing_values() -> None:
    data = load("order_single.json")
    data["orderlines"][0]["price"] = "three hundred"
    data["shipping_address"]["city"] = ["Paris", "Durand-secret"]

    with pytest.raises(ValidationError) as caught:
        Order.model_validate(data)
    error = payload_error(caught.value, what="order", object_id=data["order_id"])

    assert isinstance(error, PayloadError)
    assert not error.retryable
    assert error.kind == "BackMarketPayloadError"
    assert "order 51234567" in str(error)
    assert "orderlines.0.price" in str(error)
    assert "shipping_address.city" in str(error)
    assert "three hundred" not in str(error)
    assert "Durand-secret" not in str(error)
