"""Repository functions the order workflows use: import, resolve, commit, ship."""

import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from database import inventory as repo
from database.accounts import (
    TokenUnavailable,
    create_account,
    encrypt_token,
    resolve_token,
    set_setting,
)
from database.models import (
    Account,
    Customer,
    Listing,
    ListingVariation,
    OrderItem,
    Shipment,
)
from domain.inventory import VariationSpec, backmarket_phase


@pytest.fixture
def account(session: Session) -> Account:
    return create_account(
        session, name="acme", platform="eu", locale="fr-fr", token_ref="env:T"
    )


def _variation(session: Session, colour: str) -> int:
    spec = VariationSpec("Apple", "iPhone 13", "Good", "Refurbished", "128GB", colour)
    return repo.get_or_create_variation(session, spec).id


def _order(*lines: tuple[int, str, int], state: int = 1) -> repo.OrderData:
    return repo.OrderData(
        order_id=9001,
        state=state,
        lines=[
            repo.OrderLineData(line_id, sku, 1, line_state, Decimal("199.00"), "EUR")
            for line_id, sku, line_state in lines
        ],
        customer_name="Jane Doe",
    )


@pytest.mark.parametrize(
    ("order_state", "lines", "phase"),
    [
        (0, [0], "new"),
        (10, [8], "new"),
        (1, [1, 1], "paid"),
        (3, [2, 4], "validated"),
        (9, [3], "shipped"),
        (8, [7], "cancelled"),
        (1, [4, 4], "cancelled"),
        (3, [5, 4], "refunded"),
        (9, [6], "refunded"),
    ],
)
def test_backmarket_phases(order_state: int, lines: list[int], phase: str) -> None:
    assert backmarket_phase(order_state, lines) == phase


def test_an_order_imports_once_with_known_and_unknown_skus(
    session: Session, account: Account
) -> None:
    black = _variation(session, "Black")
    repo.add_sku(session, "IP13-128-BLK-GOOD", black)
    order = _order((1, "ip13-128-blk-good", 1), (2, "BMTESTSKU1", 1))

    first = repo.upsert_backmarket_order(session, account.id, order)
    again = repo.upsert_backmarket_order(session, account.id, order)

    assert (first.created, again.created) == (True, False)
    assert first.sales_order_id == again.sales_order_id
    assert first.status == "Open" and first.unknown_skus == ["BMTESTSKU1"]
    items = session.scalars(select(OrderItem).order_by(OrderItem.id)).all()
    assert len(items) == 2
    assert items[0].variation_id == black and items[1].unknown_sku == "BMTESTSKU1"


def test_state_changes_follow_the_status_mapping(
    session: Session, account: Account
) -> None:
    repo.upsert_backmarket_order(session, account.id, _order((1, "X", 1)))
    set_setting(session, account, "status-map.validated", "Open")
    validated = repo.upsert_backmarket_order(
        session, account.id, _order((1, "X", 2), state=3)
    )
    cancelled = repo.upsert_backmarket_order(
        session, account.id, _order((1, "X", 4), state=3)
    )
    assert (validated.status, cancelled.status) == ("Open", "Cancelled")


def test_the_customer_follows_the_organization_type(
    session: Session, account: Account
) -> None:
    repo.upsert_backmarket_order(session, account.id, _order((1, "X", 1)))
    set_setting(session, account, "organization-type", "shipping_name")
    named = repo.OrderData(9002, 1, [repo.OrderLineData(2, "X", 1, 1)], "Jane Doe")
    repo.upsert_backmarket_order(session, account.id, named)
    names = session.scalars(select(Customer.name).order_by(Customer.id)).all()
    assert names == ["Back Market", "Jane Doe"]


def test_a_line_sold_through_a_hand_mapped_listing_gets_its_variation(
    session: Session, account: Account
) -> None:
    black = _variation(session, "Black")
    listing = Listing(
        account_id=account.id,
        backmarket_uuid=uuid.uuid4(),
        sku="BM-ONLY",
        mapping_mode="variations",
    )
    session.add(listing)
    session.flush()
    session.add(ListingVariation(listing_id=listing.id, variation_id=black))
    session.flush()

    resolved = repo.resolve_line(session, account.id, "bm-only")
    assert resolved == repo.LineResolution(None, black, listing.id, None)


def test_commit_checks_the_variation_and_the_count(
    session: Session, account: Account
) -> None:
    black, blue = _variation(session, "Black"), _variation(session, "Blue")
    repo.add_sku(session, "IP13-128-BLK-GOOD", black)
    repo.upsert_backmarket_order(
        session, account.id, _order((1, "IP13-128-BLK-GOOD", 1))
    )
    line = repo.order_item_by_orderline(session, 1)
    assert line is not None
    status = repo.inventory_status_by_name(session, "Available")
    assert status is not None

    def device(variation: int, imei: str) -> int:
        return repo.add_inventory_item(
            session, imei=imei, variation_id=variation, status_id=status.id,
            warehouse_id=None,
        ).id  # fmt: skip

    right, wrong, extra = (
        device(black, "490154203237518"),
        device(blue, "356938035643809"),
        device(black, "356938035643817"),
    )
    with pytest.raises(repo.CommitRefused, match="not the variation"):
        repo.commit_item(session, line.id, wrong)
    outcome = repo.commit_item(session, line.id, right)
    assert outcome.fulfils_line and outcome.imei == "490154203237518"
    assert repo.commit_item(session, line.id, right).commit_id == outcome.commit_id
    with pytest.raises(repo.CommitRefused, match="fully committed"):
        repo.commit_item(session, line.id, extra)

    assert repo.release_commits(session, line.id) == 1
    mismatch = repo.commit_item(session, line.id, wrong, allow_mismatch=True)
    assert not mismatch.fulfils_line
    assert repo.find_item_by_identifier(session, " 356938035643809 ") is not None


def test_an_order_holds_one_shipment_and_takes_no_other_once_it_is_sent(
    session: Session, account: Account
) -> None:
    order = repo.upsert_backmarket_order(session, account.id, _order((1, "X", 1)))
    repo.add_shipment(session, order.sales_order_id, "1Z-TYPO", "UPS")
    repo.add_shipment(session, order.sales_order_id, "1Z-RIGHT", "UPS")
    corrected = repo.add_shipment(session, order.sales_order_id, "1Z-RIGHT", "DHL")
    repo.add_shipment(session, order.sales_order_id, "1Z-OTHER", "UPS")
    # Back Market took 1Z-RIGHT (an attempt whose answer was lost): its word wins.
    repo.mark_shipment_sent(session, order.sales_order_id, "1Z-RIGHT", "DHL")

    with pytest.raises(repo.ShipmentRefused, match="1Z-RIGHT"):
        repo.add_shipment(session, order.sales_order_id, "1Z-LATE")
    again = repo.add_shipment(session, order.sales_order_id, "1Z-RIGHT")

    stored = session.scalars(
        select(Shipment).where(Shipment.sales_order_id == order.sales_order_id)
    ).all()
    assert [(s.tracking_number, s.carrier) for s in stored] == [("1Z-RIGHT", "DHL")]
    assert stored[0].sent_at is not None
    assert corrected.carrier == "DHL" and again.id == stored[0].id


def test_shipments_checkpoints_and_log_are_idempotent_and_short(
    session: Session, account: Account
) -> None:
    order = repo.upsert_backmarket_order(session, account.id, _order((1, "X", 1)))
    first = repo.add_shipment(session, order.sales_order_id, "1Z999", "UPS")
    again = repo.add_shipment(session, order.sales_order_id, "1Z999", "UPS")
    assert first.id == again.id

    repo.set_checkpoint(session, account.id, "orders", value_text="a")
    repo.set_checkpoint(session, account.id, "orders", value_text="b")
    checkpoint = repo.get_checkpoint(session, account.id, "orders")
    assert checkpoint is not None and checkpoint.value_text == "b"

    repo.log_sync(
        session, account_id=account.id, kind="order_import", direction="pull",
        result="ok", detail="x" * 2000,
    )  # fmt: skip


def test_token_errors_never_carry_the_token(
    session: Session, account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BMSYNC_SECRET_KEY", raising=False)
    account.token_ref = encrypt_token("top-secret-token", tmp_path / "a")
    with pytest.raises(TokenUnavailable) as caught:
        resolve_token(account, tmp_path / "b")
    assert "top-secret" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert resolve_token(account, tmp_path / "a") == "top-secret-token"


def test_two_imports_meeting_the_same_new_order_store_it_once(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        account_id = create_account(
            session, name="acme", platform="eu", locale="fr-fr", token_ref="env:T"
        ).id
    first_stored = threading.Event()
    outcomes: list[str] = []

    def second_import() -> None:
        first_stored.wait(10)
        with session_factory.begin() as session:
            result = repo.upsert_backmarket_order(
                session, account_id, _order((1, "X", 1))
            )
            outcomes.append("created" if result.created else "updated")

    other = threading.Thread(target=second_import)
    other.start()
    with session_factory.begin() as session:
        result = repo.upsert_backmarket_order(session, account_id, _order((1, "X", 1)))
        outcomes.append("created" if result.created else "updated")
        first_stored.set()
        # The second import runs now, before this transaction commits.
        time.sleep(0.5)
    other.join(10)

    assert outcomes == ["created", "updated"]
    with session_factory() as session:
        assert len(session.scalars(select(OrderItem)).all()) == 1
