"""Stock CSV import: all lines or none, every problem reported, re-import idempotent."""

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from database import inventory as repo
from database.models import InventoryItem, ProductVariation
from domain.inventory import StockImportError

SAMPLE = Path(__file__).parent.parent / "samples" / "stock.csv"
HEADER = "imei,serial,sku,manufacturer,model,grade,storage,colour,status,warehouse,cost"
GOOD = [
    "490154203237518,,IP13-128-BLK-GOOD,,,,,,Available,Main,300.00",
    "356938035643809,F2LXK0AB,,Apple,iPhone 15,Good,128GB,Blue,Available,main,510",
    ",SN-ONLY-1,,Google,Pixel 8,Good,128GB,Hazel,Testing,Main,",
]


def _csv(*lines: str) -> str:
    return "\n".join([HEADER, *lines]) + "\n"


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(InventoryItem)) or 0


@pytest.fixture
def catalog(session: Session) -> Session:
    repo.seed_sample_catalog(session)
    return session


def test_a_good_file_imports_and_creates_missing_variations(catalog: Session) -> None:
    before = catalog.scalar(select(func.count()).select_from(ProductVariation))
    result = repo.import_stock_csv(catalog, _csv(*GOOD))

    assert (result.created, result.unchanged, result.variations_created) == (3, 0, 2)
    after = catalog.scalar(select(func.count()).select_from(ProductVariation))
    assert after == (before or 0) + 2


def test_importing_the_same_file_again_changes_nothing(catalog: Session) -> None:
    repo.import_stock_csv(catalog, _csv(*GOOD))
    catalog.commit()
    again = repo.import_stock_csv(catalog, _csv(*GOOD))

    assert (again.created, again.unchanged, again.variations_created) == (0, 3, 0)
    assert _count(catalog) == 3


def test_any_bad_line_imports_nothing_and_every_problem_is_named(
    catalog: Session,
) -> None:
    text = _csv(
        GOOD[0],
        "490154203237519,,IP13-128-BLK-GOOD,,,,,,Available,Main,1",  # check digit
        "35693803564380,,IP13-128-BLK-GOOD,,,,,,Available,Main,1",  # 14 digits
        "356938035643817,,IP13-128-BLK-GOOD,,,,,,Available,Attic,1",  # warehouse
        "356938035643825,,IP13-128-BLK-GOOD,,,,,,Lost,Main,1",  # status
        "356938035643833,,NOPE-1,,,,,,Available,Main,1",  # SKU
        "490154203237518,,IP13-128-BLK-GOOD,,,,,,Available,Main,1",  # dup in file
        "356938035643841,,IP13-128-BLK-GOOD,,,,,,Available,Main,abc",  # cost
        GOOD[1],
    )
    with pytest.raises(StockImportError) as caught:
        repo.import_stock_csv(catalog, text)

    found = {(p.line, p.field) for p in caught.value.problems}
    assert found == {
        (3, "imei"),
        (4, "imei"),
        (5, "warehouse"),
        (6, "status"),
        (7, "sku"),
        (8, "imei"),
        (9, "cost"),
    }
    assert _count(catalog) == 0


def test_a_device_in_stock_with_different_data_is_a_problem(catalog: Session) -> None:
    repo.import_stock_csv(catalog, _csv(GOOD[0]))
    changed = GOOD[0].replace("Available", "Testing").replace("300.00", "280")
    with pytest.raises(StockImportError) as caught:
        repo.import_stock_csv(catalog, _csv(changed, GOOD[1]))

    [problem] = caught.value.problems
    assert (problem.line, problem.field) == (2, "imei")
    assert "status" in problem.message and "cost" in problem.message
    assert _count(catalog) == 1


def test_a_sku_that_disagrees_with_the_variation_columns_is_refused(
    catalog: Session,
) -> None:
    text = _csv(
        "490154203237518,,IP13-128-BLK-GOOD,Apple,iPhone 13,Fair,128GB,"
        "Midnight,Available,Main,1"
    )
    with pytest.raises(StockImportError) as caught:
        repo.import_stock_csv(catalog, text)
    assert [(p.line, p.field) for p in caught.value.problems] == [(2, "sku")]


def test_a_bad_header_is_reported_on_line_one(catalog: Session) -> None:
    with pytest.raises(StockImportError) as caught:
        repo.import_stock_csv(catalog, "imei,sku,colr\n490154203237518,X,Y\n")
    assert {p.line for p in caught.value.problems} == {1}
    assert any("colr" in p.message for p in caught.value.problems)


def test_the_shipped_sample_imports_cleanly_twice(catalog: Session) -> None:
    text = SAMPLE.read_text()
    first = repo.import_stock_csv(catalog, text)
    catalog.commit()
    second = repo.import_stock_csv(catalog, text)

    assert first.created == len(text.splitlines()) - 1 >= 200
    assert first.variations_created == 0
    assert (second.created, second.unchanged) == (0, first.created)


def test_a_line_with_fewer_or_more_cells_than_the_header_is_refused(
    catalog: Session,
) -> None:
    complete = GOOD[0]
    other = complete.replace("490154203237518", "356938035643809")
    short = other.rsplit(",", 1)[0]  # the cost cell left out
    text = _csv(complete, short, complete.replace("490154203237518", "") + ",extra")

    with pytest.raises(StockImportError) as caught:
        repo.import_stock_csv(catalog, text)

    assert [(p.line, p.field) for p in caught.value.problems] == [
        (3, "row"),
        (4, "row"),
    ]
    assert "10 cells, fewer than the header's 11" in caught.value.problems[0].message
    assert "12 cells, more" in caught.value.problems[1].message
    assert _count(catalog) == 0
