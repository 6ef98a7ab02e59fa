"""Real phone models and the SKU scheme the sandbox's listings use.

SKU scheme: `<MODEL>-<STORAGE>-<COLOUR>-<GRADE>`, upper case, for example
`IP13-128-BLK-GOOD` (iPhone 13, 128 GB, black, good) or `GS23U-1TB-GRN-EXC`.
MODEL is the code in `MODELS`; STORAGE is the size in GB, or `1TB`; COLOUR is a
three-letter code from `COLOURS`; GRADE is a code from `GRADE_CODES`.
"""

import functools
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal

# Namespace for product UUIDs, so one product has the same id for every merchant.
PRODUCT_NAMESPACE = uuid.UUID("6f1c2d4e-5a7b-4c8d-9e0f-112233445566")


@dataclass(frozen=True)
class PhoneModel:
    """A phone model with the storages and colours it was sold in."""

    code: str
    brand: str
    name: str
    base_price: int
    storages: tuple[int, ...]
    colours: tuple[str, ...]


COLOURS: dict[str, str] = {
    "BLK": "Black",
    "WHT": "White",
    "BLU": "Blue",
    "RED": "Red",
    "GRN": "Green",
    "PUR": "Purple",
    "PNK": "Pink",
    "YLW": "Yellow",
    "GRY": "Graphite",
    "SLV": "Silver",
    "GLD": "Gold",
    "NAT": "Natural Titanium",
    "CRM": "Cream",
    "LAV": "Lavender",
}

# grade -> (SKU code, legacy `state`, orderline `condition`, price factor)
GRADES: dict[str, tuple[str, int, int, Decimal]] = {
    "PREMIUM": ("PRM", 9, 9, Decimal("1.00")),
    "EXCELLENT": ("EXC", 0, 10, Decimal("0.92")),
    "VERY_GOOD": ("VGD", 1, 10, Decimal("0.86")),
    "GOOD": ("GOOD", 2, 11, Decimal("0.80")),
    "FAIR": ("FAIR", 3, 12, Decimal("0.72")),
}
GRADE_CODES: dict[str, str] = {code: grade for grade, (code, *_) in GRADES.items()}

# code | brand | name | base price (EUR, 128 GB, premium) | storages (GB) | colours
_MODEL_TABLE = """
IP11  |Apple   |iPhone 11           | 260 | 64 128 256      | BLK WHT RED PUR
IP11P |Apple   |iPhone 11 Pro       | 320 | 64 256 512      | GRY SLV GLD GRN
IP12  |Apple   |iPhone 12           | 330 | 64 128 256      | BLK WHT BLU RED GRN
IP12P |Apple   |iPhone 12 Pro       | 420 | 128 256 512     | GRY SLV GLD BLU
IP13M |Apple   |iPhone 13 mini      | 360 | 128 256 512     | BLK PNK BLU RED
IP13  |Apple   |iPhone 13           | 420 | 128 256 512     | BLK WHT BLU PNK RED GRN
IP13P |Apple   |iPhone 13 Pro       | 520 | 128 256 512 1024| GRY SLV GLD BLU
IP14  |Apple   |iPhone 14           | 500 | 128 256 512     | BLK WHT BLU PUR RED YLW
IP14P |Apple   |iPhone 14 Pro       | 650 | 128 256 512 1024| BLK SLV GLD PUR
IP14PM|Apple   |iPhone 14 Pro Max   | 720 | 128 256 512 1024| BLK SLV GLD PUR
IP15  |Apple   |iPhone 15           | 600 | 128 256 512     | BLK BLU GRN YLW PNK
IP15P |Apple   |iPhone 15 Pro       | 780 | 128 256 512 1024| NAT BLU WHT BLK
IP15PM|Apple   |iPhone 15 Pro Max   | 880 | 256 512 1024    | NAT BLU WHT BLK
IP16  |Apple   |iPhone 16           | 760 | 128 256 512     | BLK WHT PNK GRN BLU
IP16P |Apple   |iPhone 16 Pro       | 950 | 128 256 512 1024| NAT BLK WHT GLD
GS21  |Samsung |Galaxy S21 5G       | 250 | 128 256         | GRY WHT PNK PUR
GS21U |Samsung |Galaxy S21 Ultra 5G | 380 | 128 256 512     | BLK SLV
GS22  |Samsung |Galaxy S22 5G       | 320 | 128 256         | BLK WHT GRN PNK
GS22U |Samsung |Galaxy S22 Ultra 5G | 480 | 128 256 512 1024| BLK WHT GRN RED
GS23  |Samsung |Galaxy S23          | 420 | 128 256 512     | BLK CRM GRN LAV
GS23U |Samsung |Galaxy S23 Ultra    | 620 | 256 512 1024    | BLK CRM GRN LAV
GS24  |Samsung |Galaxy S24          | 560 | 128 256 512     | BLK GRY PUR YLW
GS24U |Samsung |Galaxy S24 Ultra    | 820 | 256 512 1024    | BLK GRY PUR YLW
PX6   |Google  |Pixel 6             | 230 | 128 256         | BLK WHT GRN
PX6P  |Google  |Pixel 6 Pro         | 300 | 128 256 512     | BLK WHT YLW
PX7   |Google  |Pixel 7             | 300 | 128 256         | BLK WHT GRN
PX7P  |Google  |Pixel 7 Pro         | 400 | 128 256 512     | BLK WHT GRN
PX8   |Google  |Pixel 8             | 420 | 128 256         | BLK PNK GRN
PX8P  |Google  |Pixel 8 Pro         | 560 | 128 256 512 1024| BLK BLU WHT
"""


def _parse_models(table: str) -> tuple[PhoneModel, ...]:
    models = []
    for row in table.strip().splitlines():
        code, brand, name, price, storages, colours = (
            cell.strip() for cell in row.split("|")
        )
        models.append(
            PhoneModel(
                code,
                brand,
                name,
                int(price),
                tuple(int(size) for size in storages.split()),
                tuple(colours.split()),
            )
        )
    return tuple(models)


MODELS = _parse_models(_MODEL_TABLE)

STORAGE_FACTOR: dict[int, Decimal] = {
    64: Decimal("0.90"),
    128: Decimal("1.00"),
    256: Decimal("1.12"),
    512: Decimal("1.28"),
    1024: Decimal("1.45"),
}

CURRENCY = {"eu": "EUR", "us": "USD", "ap": "JPY"}
MARKETS = {"eu": ("FR", "DE", "ES", "IT"), "us": ("US",), "ap": ("JP",)}


@dataclass(frozen=True)
class Product:
    """One sellable variant: model, storage, colour and grade."""

    model: PhoneModel
    storage: int
    colour: str
    grade: str

    @property
    def sku(self) -> str:
        """The SKU, per the scheme in the module docstring."""
        storage = "1TB" if self.storage == 1024 else str(self.storage)
        return f"{self.model.code}-{storage}-{self.colour}-{GRADES[self.grade][0]}"

    @property
    def title(self) -> str:
        """Back Market's title of the product, without the grade."""
        size = "1 TB" if self.storage == 1024 else f"{self.storage} GB"
        return f"{self.model.name} {size} - {COLOURS[self.colour]} - Unlocked"

    @property
    def product_id(self) -> str:
        """The product UUID, shared by every grade and merchant."""
        key = f"{self.model.code}-{self.storage}-{self.colour}"
        return str(uuid.uuid5(PRODUCT_NAMESPACE, key))

    @property
    def backmarket_id(self) -> int:
        """A stable legacy product number."""
        return 100000 + uuid.UUID(self.product_id).int % 900000

    def price(self, platform: str) -> Decimal:
        """A plausible price in the platform's currency, ending in .99."""
        base = Decimal(self.model.base_price) * STORAGE_FACTOR[self.storage]
        value = base * GRADES[self.grade][3]
        if platform == "ap":
            return (value * 150).quantize(Decimal("1"))
        return value.quantize(Decimal("1")) - Decimal("0.01")


def all_products() -> list[Product]:
    """Every variant in a fixed order."""
    return [
        Product(model, storage, colour, grade)
        for model in MODELS
        for storage in model.storages
        for colour in model.colours
        for grade in GRADES
    ]


def product_for_id(product_id: str, grade: str) -> Product | None:
    """The variant with this product UUID and grade, if the catalog knows it."""
    return _products_by_id().get((product_id, grade))


@functools.cache
def _products_by_id() -> dict[tuple[str, str], Product]:
    return {(p.product_id, p.grade): p for p in all_products()}


def pick_products(rng: random.Random, count: int) -> list[Product]:
    """`count` distinct variants chosen by `rng`."""
    products = all_products()
    rng.shuffle(products)
    return products[:count]
