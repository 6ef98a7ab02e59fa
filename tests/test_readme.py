"""The README's steps, in the order a newcomer follows them."""

from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def section(title: str) -> str:
    """The text of one `##`-level section, up to the next one."""
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_trying_by_hand_seeds_the_catalog_before_the_sample_stock() -> None:
    by_hand = section("Trying it by hand")

    imported = by_hand.index("inventory import samples/stock.csv")

    assert "catalog seed-sample" in by_hand[:imported]
    assert "unknown SKU" in by_hand
