"""`bmsync log` over a sync history built in Postgres."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bmsync.cli import app
from database import inventory as repo
from database.accounts import create_account
from database.models import Listing, SyncLogEntry
from runtime.settings import get_settings

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def runner(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BMSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "250")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.fixture
def history(session: Session) -> Listing:
    """Two accounts' entries, one a minute apart; the listing the first one has."""
    acme = create_account(
        session, name="acme", platform="eu", locale="fr-fr", token_ref="env:A"
    )
    other = create_account(
        session, name="other", platform="us", locale="en-us", token_ref="env:B"
    )
    listing = Listing(account_id=acme.id, backmarket_uuid=uuid.uuid4(), sku="SKU-L1")
    session.add(listing)
    session.flush()
    sales_order = repo.upsert_backmarket_order(
        session, acme.id, repo.OrderData(8001, 1, [repo.OrderLineData(1, "X", 1, 1)])
    ).sales_order_id
    entries = [
        (acme.id, "order_validate", "ok", {"external_ref": "8001"}, "entry-one"),
        (acme.id, "quantity_push", "ok", {"listing_id": listing.id}, "entry-two"),
        (
            acme.id,
            "quantity_push",
            "failed",
            {"listing_id": listing.id, "error_class": "RateLimited"},
            "entry-three",
        ),
        (acme.id, "shipment", "ok", {"sales_order_id": sales_order}, "entry-four"),
        (other.id, "order_validate", "ok", {"external_ref": "8001"}, "entry-five"),
    ]
    for minutes, (account_id, kind, result, refs, detail) in enumerate(entries):
        session.add(
            SyncLogEntry(
                at=T0 + timedelta(minutes=minutes),
                account_id=account_id,
                kind=kind,
                direction="push",
                result=result,
                detail=detail,
                **refs,
            )
        )
    session.commit()
    return listing


def details(output: str) -> list[str]:
    """The entries' details in the order the table shows them."""
    return [word for word in output.split() if word.startswith("entry-")]


def test_the_log_is_newest_first(runner: CliRunner, history: Listing) -> None:
    shown = runner.invoke(app, ["log"])

    assert shown.exit_code == 0, shown.output
    assert details(shown.output) == [
        "entry-five",
        "entry-four",
        "entry-three",
        "entry-two",
        "entry-one",
    ]
    assert "RateLimited" in shown.output


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--account", "other"], ["entry-five"]),
        (["--account", "acme", "--limit", "2"], ["entry-four", "entry-three"]),
        (["--account", "acme", "--listing", "sku-l1"], ["entry-three", "entry-two"]),
        (["--order", "8001"], ["entry-five", "entry-four", "entry-one"]),
        (["--account", "acme", "--order", "8001"], ["entry-four", "entry-one"]),
        (["--result", "failed"], ["entry-three"]),
        (["--kind", "order_validate"], ["entry-five", "entry-one"]),
        (["--kind", "nothing"], []),
    ],
)
def test_the_log_filters(
    runner: CliRunner, history: Listing, options: list[str], expected: list[str]
) -> None:
    shown = runner.invoke(app, ["log", *options])

    assert shown.exit_code == 0, shown.output
    assert details(shown.output) == expected
    if not expected:
        assert "no matching entries" in shown.output


@pytest.mark.parametrize(
    ("options", "message", "code"),
    [
        (["--account", "nobody"], "no account named 'nobody'", 1),
        (["--account", "acme", "--listing", "NOPE"], "no listing 'NOPE'", 1),
        (["--listing", "SKU-L1"], "--listing needs --account", 2),
        (["--result", "broken"], "--result must be one of", 2),
    ],
)
def test_bad_filters_are_one_clear_line(
    runner: CliRunner, history: Listing, options: list[str], message: str, code: int
) -> None:
    shown = runner.invoke(app, ["log", *options])

    assert shown.exit_code == code
    assert message in shown.stderr
    assert "Traceback" not in shown.output
