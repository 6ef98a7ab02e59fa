"""Stock CSV rows, Back Market order phases, and the sample catalog.

The stock CSV has a header row; columns may come in any order, unknown columns are
refused so a typo does not silently drop data:

    imei, serial           at least one; the IMEI must be 15 digits with a valid
                           check digit
    sku                    our SKU code; or else the variation columns:
    manufacturer, model    required without a sku
    grade, condition, storage, colour, network
                           optional, blank when not applicable
    status, warehouse      required, by name (case-insensitive)
    cost                   optional, an amount like 129.50 (at most 2 decimals)
    received_date          optional, YYYY-MM-DD, from 2000-01-01 to today

Line numbers count the header as line 1, as a spreadsheet shows them.
"""

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from domain.imei import InvalidImei, parse_imei, parse_serial
from domain.text import quoted, text_problem

STOCK_COLUMNS = (
    "imei",
    "serial",
    "sku",
    "manufacturer",
    "model",
    "grade",
    "condition",
    "storage",
    "colour",
    "network",
    "status",
    "warehouse",
    "cost",
    "received_date",
)
VARIATION_ATTRIBUTES = ("grade", "condition", "storage", "colour", "network")
# Where one device put in stock goes unless told, by the API and the command line
# alike; a stock CSV names both on every line.
DEFAULT_STATUS = "Available"
DEFAULT_WAREHOUSE = "Main"
# Costs are stored as numeric(12, 2).
MAX_COST = Decimal("9999999999.99")
CENT = Decimal("0.01")
# No device in stock was received before this; an earlier date is a typo.
EARLIEST_RECEIVED = date(2000, 1, 1)
# A quoted cell from its opening quote to its closing one, if it has one.
_QUOTED_CELL = re.compile(r'(?:^|(?<=[,\r\n]))"(?:[^"]+|"")*("?)')
# The furthest any time zone is ahead of UTC.
LATEST_UTC_OFFSET = timedelta(hours=14)


@dataclass(frozen=True)
class VariationSpec:
    """A variation named by its product and attributes; blank means not applicable."""

    manufacturer: str
    model: str
    grade: str = ""
    condition: str = ""
    storage: str = ""
    colour: str = ""
    network: str = ""

    def key(self) -> tuple[str, ...]:
        """The case-insensitive identity the database's unique index uses."""
        return tuple(
            value.lower()
            for value in (
                self.manufacturer,
                self.model,
                self.grade,
                self.condition,
                self.storage,
                self.colour,
                self.network,
            )
        )


@dataclass(frozen=True)
class StockRow:
    """One device to put in stock, as read from a line of the CSV."""

    line: int
    imei: str | None
    serial: str | None
    sku: str | None
    variation: VariationSpec | None
    status: str
    warehouse: str
    cost: Decimal | None
    received_date: date | None


@dataclass(frozen=True)
class RowProblem:
    """Why one line of an import cannot be taken."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


class StockImportError(Exception):
    """An import that took nothing because some lines were bad."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s); nothing was imported")
        self.problems = list(problems)


def parse_cost(text: str) -> Decimal:
    """A cost as typed or uploaded, e.g. "129.50"; a ValueError says what is wrong."""
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{quoted(text)} is not an amount like 129.50") from None
    return checked_cost(amount)


def checked_cost(amount: Decimal) -> Decimal:
    """`amount` when a cost column stores it as it is, else a ValueError.

    Postgres would round a third decimal away without a word, so it is refused.
    """
    if not amount.is_finite() or not 0 <= amount <= MAX_COST:
        raise ValueError(f"{quoted(str(amount))} is not from 0 to {MAX_COST}")
    if amount != amount.quantize(CENT):
        raise ValueError(f"{quoted(str(amount))} has more than 2 decimal places")
    return amount


def checked_received_date(value: date) -> date:
    """`value` when a device can have been received on it, else a ValueError."""
    if value < EARLIEST_RECEIVED:
        raise ValueError(
            f"a received_date of {value.isoformat()} is before {EARLIEST_RECEIVED}"
        )
    # Today where the day is furthest on, so a caller ahead of this machine's
    # clock is not refused its own today.
    if value > (datetime.now(UTC) + LATEST_UTC_OFFSET).date():
        raise ValueError(f"a received_date of {value.isoformat()} is in the future")
    return value


def parse_stock_csv(text: str) -> tuple[list[StockRow], list[RowProblem]]:
    """The rows of a stock CSV and every problem found in them without a database."""
    # The csv module reads an unclosed quote to the end of the file as one cell,
    # which would otherwise be reported as a line with too few cells.
    opened = unclosed_quote_line(text)
    if opened is not None:
        message = "a quote opened on this line is never closed"
        return [], [RowProblem(opened, "row", message)]
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    problems = _header_problems(header)
    if problems:
        return [], problems
    reader.fieldnames = header

    rows: list[StockRow] = []
    seen_imeis: dict[str, int] = {}
    seen_serials: dict[str, int] = {}
    for index, raw in enumerate(reader):
        line = index + 2
        values = {key: (value or "").strip() for key, value in raw.items() if key}
        if None in raw:
            cells = len(header) + len(raw[None])
            problems.append(RowProblem(line, "row", _cell_count(cells, header)))
            continue
        unstorable = [
            RowProblem(line, column, problem)
            for column, value in values.items()
            if (problem := text_problem(value)) is not None
        ]
        if unstorable:
            problems.extend(unstorable)
            continue
        if not any(values.values()):
            continue
        if None in raw.values():
            cells = sum(value is not None for value in raw.values())
            problems.append(RowProblem(line, "row", _cell_count(cells, header)))
            continue
        row, row_problems = _parse_row(line, values)
        problems.extend(row_problems)
        if row is None:
            continue
        if row.imei is not None:
            first = seen_imeis.setdefault(row.imei, line)
            if first != line:
                problems.append(
                    RowProblem(line, "imei", f"{row.imei} also on line {first}")
                )
                continue
        if row.serial is not None:
            first = seen_serials.setdefault(row.serial, line)
            if first != line:
                problems.append(
                    RowProblem(line, "serial", f"{row.serial} also on line {first}")
                )
                continue
        rows.append(row)
    # Found by IMEI first, a device whose serial is another line's IMEI could
    # never be named by its serial.
    for row in rows:
        imei_line = seen_imeis.get(row.serial or "")
        if imei_line is not None and imei_line != row.line:
            problems.append(
                RowProblem(
                    row.line, "serial", f"{row.serial} is the IMEI on line {imei_line}"
                )
            )
    crossed = {problem.line for problem in problems}
    return [row for row in rows if row.line not in crossed], problems


def unclosed_quote_line(text: str) -> int | None:
    """The line on which a quoted cell opens and is never closed, or None.

    As the csv module reads it: a quote opens a cell only at the cell's start, and
    two quotes inside a quoted cell stand for one.
    """
    for cell in _QUOTED_CELL.finditer(text):
        if not cell.group(1):
            return text.count("\n", 0, cell.start()) + 1
    return None


def _cell_count(cells: int, header: list[str]) -> str:
    more_or_fewer = "more" if cells > len(header) else "fewer"
    return f"{cells} cells, {more_or_fewer} than the header's {len(header)} columns"


def _header_problems(header: list[str]) -> list[RowProblem]:
    if not header:
        return [RowProblem(1, "header", "the file is empty")]
    problems = [
        RowProblem(1, "header", f"unknown column {quoted(name)}")
        for name in header
        if name not in STOCK_COLUMNS
    ]
    for required in ("status", "warehouse"):
        if required not in header:
            problems.append(RowProblem(1, "header", f"missing column {required!r}"))
    if "imei" not in header and "serial" not in header:
        problems.append(RowProblem(1, "header", "needs an imei or a serial column"))
    if "sku" not in header and not {"manufacturer", "model"} <= set(header):
        problems.append(
            RowProblem(1, "header", "needs a sku column or manufacturer and model")
        )
    return problems


def _parse_row(
    line: int, values: dict[str, str]
) -> tuple[StockRow | None, list[RowProblem]]:
    problems: list[RowProblem] = []

    imei: str | None = None
    if values.get("imei"):
        try:
            imei = parse_imei(values["imei"])
        except InvalidImei as exc:
            problems.append(RowProblem(line, "imei", str(exc)))
    serial: str | None = None
    if values.get("serial"):
        try:
            serial = parse_serial(values["serial"])
        except ValueError as exc:
            problems.append(RowProblem(line, "serial", str(exc)))
    if not values.get("imei") and not values.get("serial"):
        problems.append(RowProblem(line, "imei", "an imei or a serial is required"))

    sku = values.get("sku") or None
    variation: VariationSpec | None = None
    if values.get("manufacturer") or values.get("model"):
        for column in ("manufacturer", "model"):
            if not values.get(column):
                problems.append(RowProblem(line, column, "required with a variation"))
        variation = VariationSpec(
            values.get("manufacturer", ""),
            values.get("model", ""),
            *(values.get(name, "") for name in VARIATION_ATTRIBUTES),
        )
    elif sku is None:
        problems.append(
            RowProblem(line, "sku", "a sku or manufacturer and model is required")
        )

    for column in ("status", "warehouse"):
        if not values.get(column):
            problems.append(RowProblem(line, column, "required"))

    cost: Decimal | None = None
    if values.get("cost"):
        try:
            cost = parse_cost(values["cost"])
        except ValueError as exc:
            problems.append(RowProblem(line, "cost", str(exc)))

    received: date | None = None
    if values.get("received_date"):
        try:
            received = date.fromisoformat(values["received_date"])
        except ValueError:
            problems.append(
                RowProblem(
                    line,
                    "received_date",
                    f"{quoted(values['received_date'])} is not YYYY-MM-DD",
                )
            )
        else:
            try:
                checked_received_date(received)
            except ValueError as exc:
                problems.append(RowProblem(line, "received_date", str(exc)))

    if problems:
        return None, problems
    return (
        StockRow(
            line=line,
            imei=imei,
            serial=serial,
            sku=sku,
            variation=variation,
            status=values["status"],
            warehouse=values["warehouse"],
            cost=cost,
            received_date=received,
        ),
        [],
    )


# --- Back Market order phases --------------------------------------------------------

# Order states: 0 new, 10 not paid yet, 1 paid and awaiting acceptance, 3 accepted and
# to ship, 8 payment failed, 9 shipped. Line states 4 and 7 end a line unsold, 5 and 6
# refund it.
_LINE_CANCELLED = frozenset({4, 7})
_LINE_REFUNDED = frozenset({5, 6})


def backmarket_phase(order_state: int, line_states: Sequence[int]) -> str:
    """The phase (a `database.models.BackMarketPhase` value) an order is in.

    An order whose every line ended is cancelled, or refunded if any line was
    refunded; otherwise the order state decides.
    """
    ended = _LINE_CANCELLED | _LINE_REFUNDED
    if order_state == 8:
        return "cancelled"
    if line_states and all(state in ended for state in line_states):
        if any(state in _LINE_REFUNDED for state in line_states):
            return "refunded"
        return "cancelled"
    if order_state == 9:
        return "shipped"
    if order_state == 3:
        return "validated"
    if order_state == 1:
        return "paid"
    return "new"


# --- the sample catalog ------------------------------------------------------------

# (manufacturer, model, model code, storages, colours (name, code)) behind
# samples/stock.csv; SKU codes follow <MODEL>-<STORAGE>-<COLOUR>-<GRADE>.
SAMPLE_MODELS: tuple[
    tuple[str, str, str, tuple[str, ...], tuple[tuple[str, str], ...]], ...
] = (
    (
        "Apple",
        "iPhone 12",
        "IP12",
        ("64GB", "128GB"),
        (("Black", "BLK"), ("Blue", "BLU")),
    ),
    (
        "Apple",
        "iPhone 13",
        "IP13",
        ("128GB", "256GB"),
        (("Midnight", "BLK"), ("Pink", "PNK")),
    ),
    (
        "Apple",
        "iPhone 13 Pro",
        "IP13P",
        ("128GB", "256GB"),
        (("Graphite", "GPH"), ("Sierra Blue", "BLU")),
    ),
    (
        "Apple",
        "iPhone 14",
        "IP14",
        ("128GB",),
        (("Midnight", "BLK"), ("Purple", "PUR")),
    ),
    (
        "Samsung",
        "Galaxy S21",
        "SGS21",
        ("128GB",),
        (("Phantom Gray", "GRY"), ("Phantom White", "WHT")),
    ),
    ("Samsung", "Galaxy S22", "SGS22", ("128GB", "256GB"), (("Phantom Black", "BLK"),)),
    ("Google", "Pixel 7", "PIX7", ("128GB",), (("Obsidian", "BLK"), ("Snow", "WHT"))),
)
SAMPLE_GRADES = (("Excellent", "EXC"), ("Good", "GOOD"), ("Fair", "FAIR"))
SAMPLE_CONDITION = "Refurbished"
SAMPLE_NETWORK = "Unlocked"


@dataclass(frozen=True)
class SampleVariation:
    sku: str
    variation: VariationSpec


def sample_catalog() -> list[SampleVariation]:
    """The variations and SKU codes of the sample catalog."""
    result = []
    for manufacturer, model, code, storages, colours in SAMPLE_MODELS:
        for storage in storages:
            for colour, colour_code in colours:
                for grade, grade_code in SAMPLE_GRADES:
                    size = storage.removesuffix("GB")
                    sku = f"{code}-{size}-{colour_code}-{grade_code}"
                    spec = VariationSpec(
                        manufacturer,
                        model,
                        grade,
                        SAMPLE_CONDITION,
                        storage,
                        colour,
                        SAMPLE_NETWORK,
                    )
                    result.append(SampleVariation(sku, spec))
    return result
