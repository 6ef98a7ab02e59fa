"""Listings: the import's upsert, mapping, opportunities, and the push bookkeeping.

Like `database.inventory`, these flush but never commit; the caller owns the
transaction.
"""

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import BigInteger

from database.inventory import NotFound, find_sku, log_sync
from database.models import (
    Listing,
    ListingVariation,
    MappingMode,
    Product,
    ProductVariation,
    Sku,
)
from database.quantity import calculated_quantities
from domain.text import quoted

SKIPPED_SKUS_SHOWN = 5


@dataclass(frozen=True)
class ListingData:
    """A listing as Back Market shows it, in the columns we keep."""

    backmarket_uuid: uuid.UUID
    sku: str
    quantity: int
    legacy_listing_id: int | None = None
    product_id: str | None = None
    title: str | None = None
    grade: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    publication_state: int | None = None
    comment: str | None = None


# The columns an import compares and overwrites.
_IMPORTED = (
    "sku",
    "quantity",
    "legacy_listing_id",
    "product_id",
    "title",
    "grade",
    "price",
    "currency",
    "min_price",
    "max_price",
    "publication_state",
    "comment",
)


@dataclass
class ListingImportCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    not_imported: int = 0
    gone: int = 0
    not_imported_skus: list[str] = field(default_factory=list)


def upsert_listings(
    session: Session,
    account_id: int,
    seen: Sequence[ListingData],
    *,
    complete: bool,
    add_new: bool,
    now: datetime,
    unreadable: Collection[uuid.UUID] = (),
) -> ListingImportCounts:
    """Store what an import read, keyed by Back Market's uuid.

    `complete` says the read covered every listing of the account, so a known
    listing missing from it is gone from Back Market; it is marked, never deleted,
    since orders and the sync history point at it. Listings in `unreadable` were
    listed but could not be read, so they are not gone. New listings are added
    only with `add_new`.
    """
    counts = ListingImportCounts()
    known = {
        row.backmarket_uuid: row
        for row in session.scalars(
            select(Listing).where(Listing.account_id == account_id)
        )
    }
    for data in seen:
        row = known.get(data.backmarket_uuid)
        if row is None:
            if not add_new:
                counts.not_imported += 1
                if len(counts.not_imported_skus) < SKIPPED_SKUS_SHOWN:
                    counts.not_imported_skus.append(data.sku)
                continue
            row = Listing(
                account_id=account_id,
                backmarket_uuid=data.backmarket_uuid,
                mapping_mode=MappingMode.SKU.value,
            )
            _copy(row, data)
            row.quantity_seen_at = now
            session.add(row)
            counts.added += 1
            continue
        changed = row.gone_from_backmarket or any(
            getattr(row, name) != getattr(data, name) for name in _IMPORTED
        )
        if changed:
            _copy(row, data)
            row.gone_from_backmarket = False
            row.updated_at = now
            counts.updated += 1
        else:
            counts.unchanged += 1
        row.quantity_seen_at = now
    if complete:
        seen_ids = {data.backmarket_uuid for data in seen} | set(unreadable)
        for key, row in known.items():
            if key not in seen_ids and not row.gone_from_backmarket:
                row.gone_from_backmarket = True
                row.updated_at = now
                counts.gone += 1
                log_sync(
                    session,
                    account_id=account_id,
                    kind="listing_import",
                    direction="pull",
                    result="ok",
                    listing_id=row.id,
                    external_ref=str(row.backmarket_uuid),
                    detail="no longer on Back Market: marked gone",
                )
    session.flush()
    return counts


def _copy(row: Listing, data: ListingData) -> None:
    for name in _IMPORTED:
        setattr(row, name, getattr(data, name))


# --- finding and mapping ------------------------------------------------------------


def find_listing(session: Session, account_id: int, ref: str) -> Listing:
    """As `lookup_listing`, or NotFound."""
    found = lookup_listing(session, account_id, ref)
    if found is None:
        raise NotFound(
            f"no listing {quoted(ref.strip())} in this account (our id, Back Market's "
            "uuid or legacy id, or SKU)"
        )
    return found


def lookup_listing(session: Session, account_id: int, ref: str) -> Listing | None:
    """A listing of the account by Back Market's uuid, our id, Back Market's legacy
    id, or its SKU, tried in that order; a live listing before a gone one."""
    ref = ref.strip()
    clauses = []
    try:
        clauses.append(Listing.backmarket_uuid == uuid.UUID(ref))
    except ValueError:
        pass
    if ref.isdigit() and int(ref) < 2**63:
        clauses += [Listing.id == int(ref), Listing.legacy_listing_id == int(ref)]
    clauses.append(func.lower(Listing.sku) == ref.lower())
    for clause in clauses:
        found = session.scalar(
            select(Listing)
            .where(Listing.account_id == account_id, clause)
            .order_by(Listing.gone_from_backmarket, Listing.id.desc())
            .limit(1)
        )
        if found is not None:
            return found
    return None


def resolve_variation(session: Session, account_id: int, ref: str) -> int:
    """A variation named by its id or by one of its SKU codes."""
    ref = ref.strip()
    sku = find_sku(session, ref, account_id)
    if sku is not None:
        return sku.variation_id
    if ref.isdigit() and session.get(ProductVariation, int(ref)) is not None:
        return int(ref)
    raise NotFound(f"no variation {quoted(ref)} (a variation id or a SKU code)")


def map_listing(
    session: Session, listing: Listing, variation_ids: Sequence[int] | None
) -> None:
    """Map by SKU (None) or to exactly these variations."""
    session.execute(
        delete(ListingVariation).where(ListingVariation.listing_id == listing.id)
    )
    if variation_ids is None:
        listing.mapping_mode = MappingMode.SKU.value
    else:
        listing.mapping_mode = MappingMode.VARIATIONS.value
        for variation_id in dict.fromkeys(variation_ids):
            session.add(
                ListingVariation(listing_id=listing.id, variation_id=variation_id)
            )
    session.flush()


def unmap_listing(session: Session, listing: Listing) -> None:
    """Map the listing to nothing: it is never pushed until mapped again."""
    map_listing(session, listing, [])


@dataclass(frozen=True)
class VariationView:
    variation_id: int
    label: str
    skus: list[str]


def mapped_variations(session: Session, listing: Listing) -> list[VariationView]:
    """The variations a listing draws its quantity from."""
    if listing.mapping_mode == MappingMode.SKU.value:
        sku = find_sku(session, listing.sku, listing.account_id)
        ids = [] if sku is None else [sku.variation_id]
    else:
        ids = list(
            session.scalars(
                select(ListingVariation.variation_id).where(
                    ListingVariation.listing_id == listing.id
                )
            )
        )
    return [_variation_view(session, variation_id) for variation_id in ids]


def _variation_view(session: Session, variation_id: int) -> VariationView:
    variation = session.get(ProductVariation, variation_id)
    if variation is None:
        raise NotFound(f"no variation {variation_id}")
    product: Product = variation.product
    parts = [product.manufacturer, product.model]
    parts += [
        value
        for value in (
            variation.storage,
            variation.colour,
            variation.grade,
            variation.condition,
            variation.network,
        )
        if value
    ]
    codes = sorted(sku.code for sku in variation.skus)
    return VariationView(variation_id, " ".join(parts), codes)


@dataclass(frozen=True)
class UnmappedListing:
    listing_id: int
    sku: str
    title: str | None
    reason: str


def unmapped_listings(session: Session, account_id: int) -> list[UnmappedListing]:
    """Listings that map to no variation, and why; gone listings left out."""
    reasons = {
        q.listing_id: q.reason
        for q in calculated_quantities(session, account_id)
        if q.quantity is None and q.reason is not None
    }
    if not reasons:
        return []
    rows = session.execute(
        select(Listing.id, Listing.sku, Listing.title)
        .where(Listing.id.in_(reasons), Listing.gone_from_backmarket.is_(False))
        .order_by(Listing.sku)
    )
    return [UnmappedListing(i, sku, title, reasons[i]) for i, sku, title in rows]


# --- opportunities ------------------------------------------------------------------


@dataclass(frozen=True)
class Opportunity:
    variation_id: int
    label: str
    skus: list[str]
    sellable: int


def listing_opportunities(session: Session, account_id: int) -> list[Opportunity]:
    """Variations with sellable stock that no live listing of the account covers."""
    rows = session.execute(_OPPORTUNITIES, {"account_id": account_id})
    return [
        Opportunity(variation_id, label, list(skus or []), int(sellable))
        for variation_id, label, skus, sellable in rows
    ]


_OPPORTUNITIES = text(
    """
WITH
sellable AS (
    SELECT i.variation_id, count(*) AS units
    FROM inventory_items i
    JOIN account_counted_statuses cs
      ON cs.inventory_status_id = i.status_id AND cs.account_id = :account_id
    JOIN account_counted_warehouses cw
      ON cw.warehouse_id = i.warehouse_id AND cw.account_id = :account_id
    WHERE NOT EXISTS (
        SELECT 1 FROM commits c
        WHERE c.inventory_item_id = i.id AND c.released_at IS NULL
    )
    GROUP BY i.variation_id
),
live AS (
    SELECT id, sku, mapping_mode FROM listings
    WHERE account_id = :account_id AND NOT gone_from_backmarket
),
covered AS (
    SELECT k.variation_id
    FROM live
    JOIN skus k
      ON lower(k.code) = lower(live.sku)
     AND (k.account_id = :account_id OR k.account_id IS NULL)
    WHERE live.mapping_mode = 'sku'
    UNION
    SELECT lv.variation_id
    FROM live
    JOIN listing_variations lv ON lv.listing_id = live.id
    WHERE live.mapping_mode = 'variations'
)
SELECT v.id,
       concat_ws(' ', p.manufacturer, p.model, NULLIF(v.storage, ''),
                 NULLIF(v.colour, ''), NULLIF(v.grade, ''),
                 NULLIF(v.condition, ''), NULLIF(v.network, '')) AS label,
       ARRAY(
           SELECT k.code FROM skus k
           WHERE k.variation_id = v.id
             AND (k.account_id = :account_id OR k.account_id IS NULL)
           ORDER BY k.code
       ) AS skus,
       s.units
FROM sellable s
JOIN product_variations v ON v.id = s.variation_id
JOIN products p ON p.id = v.product_id
WHERE s.variation_id NOT IN (SELECT variation_id FROM covered)
ORDER BY s.units DESC, label
"""
)


# --- quantity push bookkeeping --------------------------------------------------------


def sold_since_baseline(session: Session, listing_ids: Sequence[int]) -> dict[int, int]:
    """Units ordered through each listing since the baseline of its quantity.

    The baseline is our last push, else our last read: Back Market lowers a
    listing's quantity itself for every unit ordered after it, so these units are
    what explains Back Market holding less than the baseline.
    """
    if not listing_ids:
        return {}
    rows = session.execute(_SOLD_SINCE, {"listing_ids": list(listing_ids)})
    return {listing_id: int(units) for listing_id, units in rows}


# Order items sold through a listing: by it, or by its SKU while unknown to us.
_SALES_THROUGH_LISTING = """
FROM listings l
JOIN order_items oi
  ON oi.listing_id = l.id
  OR (oi.listing_id IS NULL AND lower(oi.unknown_sku) = lower(l.sku))
JOIN sales_orders so
  ON so.id = oi.sales_order_id AND so.account_id = l.account_id
"""

_SOLD_SINCE = text(
    f"""
SELECT l.id, COALESCE(sum(oi.quantity), 0)
{_SALES_THROUGH_LISTING}
WHERE l.id = ANY(:listing_ids)
  AND so.created_at > COALESCE(l.last_pushed_at, l.quantity_seen_at, l.created_at)
GROUP BY l.id
"""
).bindparams(bindparam("listing_ids", type_=ARRAY(BigInteger)))


_SOLD_AFTER = text(
    f"""
SELECT COALESCE(sum(oi.quantity), 0)
{_SALES_THROUGH_LISTING}
WHERE l.id = :listing_id AND so.created_at > :since
"""
)


def record_push(
    session: Session,
    listing: Listing,
    quantity: int,
    *,
    before: int | None,
    how: str,
    at: datetime,
) -> None:
    """Back Market now holds `quantity`: the new baseline, logged.

    `at` is when we read the listing right before writing it: orders imported
    after that moment count as sales since the push, which errs towards
    explaining a drop rather than calling it another system's write.
    """
    listing.quantity = quantity
    listing.last_pushed_quantity = quantity
    listing.last_pushed_at = at
    listing.quantity_seen_at = at
    listing.push_intent_quantity = None
    listing.push_intent_at = None
    log_sync(
        session,
        account_id=listing.account_id,
        kind="quantity_push",
        direction="push",
        result="ok",
        listing_id=listing.id,
        external_ref=str(listing.backmarket_uuid),
        detail=f"{before} -> {quantity} ({how})",
    )


def record_push_intents(
    session: Session, quantities: dict[int, int], at: datetime
) -> None:
    """These listings are about to be written with these quantities.

    Recorded before the write is sent, so that a write that applied though its
    answer was lost (or the worker died waiting for it) is known for ours.
    """
    if quantities:
        session.execute(
            update(Listing),
            [
                {"id": listing_id, "push_intent_quantity": q, "push_intent_at": at}
                for listing_id, q in quantities.items()
            ],
        )


def settle_push_intent(
    session: Session, listing: Listing, current: int, *, keep_for: timedelta
) -> bool:
    """Take a write whose answer never came for ours when Back Market shows it.

    True when it did: `current` fits the written quantity less the units ordered
    since, and does not fit our last push. A write that did not show is forgotten
    once older than `keep_for` (a bulk task may apply it minutes later).
    """
    intended, at = listing.push_intent_quantity, listing.push_intent_at
    if intended is None or at is None:
        return False
    if _fits(session, listing, intended, at, current) and not (
        listing.last_pushed_quantity is not None
        and listing.last_pushed_at is not None
        and _fits(
            session,
            listing,
            listing.last_pushed_quantity,
            listing.last_pushed_at,
            current,
        )
    ):
        before = listing.quantity
        record_push(
            session,
            listing,
            intended,
            before=before,
            how="applied, its answer lost",
            at=at,
        )
        return True
    if datetime.now(UTC) - at > keep_for:
        listing.push_intent_quantity = None
        listing.push_intent_at = None
    return False


def _fits(
    session: Session, listing: Listing, held: int, since: datetime, current: int
) -> bool:
    """Whether Back Market holding `current` is `held` at `since` less its sales."""
    sold = session.scalar(_SOLD_AFTER, {"listing_id": listing.id, "since": since})
    return max(0, held - int(sold or 0)) <= current <= held


def record_seen(listing: Listing, quantity: int, at: datetime) -> None:
    """What Back Market holds, read at `at`; the baseline of an unpushed listing."""
    listing.quantity = quantity
    listing.quantity_seen_at = at


def record_push_failure(
    session: Session, listing: Listing, error_class: str, detail: str
) -> None:
    log_sync(
        session,
        account_id=listing.account_id,
        kind="quantity_push",
        direction="push",
        result="failed",
        listing_id=listing.id,
        external_ref=str(listing.backmarket_uuid),
        error_class=error_class,
        detail=detail,
    )


def mark_gone(session: Session, listing: Listing, kind: str) -> None:
    """Back Market answered 404 for the listing: gone, kept, and logged."""
    listing.gone_from_backmarket = True
    log_sync(
        session,
        account_id=listing.account_id,
        kind=kind,
        direction="push",
        result="failed",
        listing_id=listing.id,
        external_ref=str(listing.backmarket_uuid),
        error_class="BackMarketNotFound",
        detail="Back Market does not know the listing any more: marked gone",
    )


def flag_foreign_write(
    session: Session,
    listing: Listing,
    seen: int,
    note: str,
    *,
    overwrite: bool,
    at: datetime,
) -> bool:
    """Note that another system wrote the listing; True when it is news.

    The same foreign value seen again is not logged again, so a listing left to the
    other system does not fill the sync history.
    """
    news = listing.foreign_write_at is None or listing.foreign_write_quantity != seen
    listing.foreign_write_at = at
    listing.foreign_write_quantity = seen
    listing.foreign_write_note = note[:300]
    if news:
        log_sync(
            session,
            account_id=listing.account_id,
            kind="quantity_foreign_write",
            direction="pull",
            result="ok" if overwrite else "skipped",
            listing_id=listing.id,
            external_ref=str(listing.backmarket_uuid),
            error_class="ForeignWrite",
            detail=note + ("; overwriting" if overwrite else "; left as is"),
        )
    return news


def clear_foreign_write(listing: Listing) -> None:
    if listing.foreign_write_at is not None:
        listing.foreign_write_at = None
        listing.foreign_write_quantity = None
        listing.foreign_write_note = None


def listings_by_id(session: Session, ids: Iterable[int]) -> dict[int, Listing]:
    wanted = list(ids)
    if not wanted:
        return {}
    return {
        row.id: row
        for row in session.scalars(select(Listing).where(Listing.id.in_(wanted)))
    }


# --- BackPricer -----------------------------------------------------------------------


@dataclass(frozen=True)
class BackBoxStanding:
    price_to_win: Decimal | None
    winner_price: Decimal | None
    winning: bool | None
    note: str | None = None


def store_backbox(
    session: Session, listing_id: int, standing: BackBoxStanding, at: datetime
) -> None:
    session.execute(
        update(Listing)
        .where(Listing.id == listing_id)
        .values(
            price_to_win=standing.price_to_win,
            winner_price=standing.winner_price,
            winning=standing.winning,
            backbox_checked_at=at,
            backbox_note=standing.note,
        )
    )


def pricing_rows(session: Session, account_id: int) -> list[Listing]:
    """The account's live listings, by SKU, for the BackPricer view."""
    return list(
        session.scalars(
            select(Listing)
            .where(
                Listing.account_id == account_id,
                Listing.gone_from_backmarket.is_(False),
            )
            .order_by(Listing.sku)
        )
    )


def sku_codes(session: Session, variation_id: int) -> list[str]:
    return list(
        session.scalars(
            select(Sku.code).where(Sku.variation_id == variation_id).order_by(Sku.code)
        )
    )


def forget_backmarket_quantities(session: Session, account_id: int) -> None:
    """Drop what we believed Back Market holds for the account's listings.

    For an account pointed at a new Back Market (a fresh sandbox): the next read
    sets the baselines again, and no difference is taken for another system's write.
    """
    session.execute(
        update(Listing)
        .where(Listing.account_id == account_id)
        .values(
            last_pushed_quantity=None,
            last_pushed_at=None,
            foreign_write_at=None,
            foreign_write_quantity=None,
            foreign_write_note=None,
        )
    )
