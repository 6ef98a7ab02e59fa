"""The calculated quantity of every listing of an account, in one query.

    available   = counted devices of the listing's variations, not committed to
                  an open (unreleased) commit
    outstanding = units on open orders' items for those variations, not yet covered
                  by a commit, plus such units sold through the listing under a SKU
                  we did not know
    quantity    = max(0, available - outstanding - buffer)

A device counts when its inventory status and its warehouse are among the account's
counted ones. Stock is shared: open orders from every channel and account count as
outstanding, since they all draw on the same devices.

A listing maps to variations either through its SKU (our SKU code, case-insensitive,
names exactly one variation; an account's own code shadows a global code spelled the
same) or through variations chosen by hand. Each variation is counted once per listing,
however many SKUs lead to it. Two listings mapped to the same variation each see all of
its stock, as with any marketplace integration that maps listings to stock.

A listing mapped to nothing gets no quantity at all, with the reason, never 0: pushing
0 would take a live listing offline because of a catalog gap.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import BigInteger

from database.models import AccountSettings

REASON_SKU_NOT_IN_CATALOG = "sku not in catalog"
REASON_NO_VARIATION_CHOSEN = "no variation chosen"


@dataclass(frozen=True)
class ListingQuantity:
    """A listing's calculated quantity and how it was reached.

    `quantity` is None exactly when the listing maps to no variation; `reason` then
    says why, and `available` and `outstanding` are None too.
    """

    listing_id: int
    available: int | None
    outstanding: int | None
    buffer: int
    quantity: int | None
    reason: str | None


def calculated_quantities(
    session: Session, account_id: int, listing_ids: Sequence[int] | None = None
) -> list[ListingQuantity]:
    """Every listing's calculated quantity for the account (or only `listing_ids`)."""
    rows = session.execute(
        _QUERY,
        {
            "account_id": account_id,
            "listing_ids": None if listing_ids is None else list(listing_ids),
        },
    )
    result = []
    for listing_id, mode, buffer, mapped, available, outstanding in rows:
        if not mapped:
            reason = (
                REASON_SKU_NOT_IN_CATALOG
                if mode == "sku"
                else REASON_NO_VARIATION_CHOSEN
            )
            result.append(ListingQuantity(listing_id, None, None, buffer, None, reason))
            continue
        quantity = max(0, available - outstanding - buffer)
        result.append(
            ListingQuantity(listing_id, available, outstanding, buffer, quantity, None)
        )
    return result


def calculated_quantity(
    session: Session, account_id: int, listing_id: int
) -> ListingQuantity | None:
    """One listing's calculated quantity; None when the account has no such listing."""
    found = calculated_quantities(session, account_id, [listing_id])
    return found[0] if found else None


_QUERY = text(
    """
WITH
listing AS (
    SELECT l.id, l.sku, l.mapping_mode,
           COALESCE(l.safety_buffer, s.safety_buffer) AS buffer
    FROM listings l
    JOIN account_settings s ON s.account_id = l.account_id
    WHERE l.account_id = :account_id
      AND (CAST(:listing_ids AS bigint[]) IS NULL OR l.id = ANY(:listing_ids))
),
sku_variation AS (
    -- The account's own code wins over a global code spelled the same.
    SELECT DISTINCT ON (listing.id) listing.id AS listing_id, k.variation_id
    FROM listing
    JOIN skus k
      ON lower(k.code) = lower(listing.sku)
     AND (k.account_id = :account_id OR k.account_id IS NULL)
    WHERE listing.mapping_mode = 'sku'
    ORDER BY listing.id, k.account_id NULLS LAST
),
listing_variation AS (
    SELECT listing_id, variation_id FROM sku_variation
    UNION
    SELECT lv.listing_id, lv.variation_id
    FROM listing_variations lv
    JOIN listing ON listing.id = lv.listing_id
    WHERE listing.mapping_mode = 'variations'
),
wanted_variation AS (
    SELECT DISTINCT variation_id FROM listing_variation
),
available AS (
    SELECT i.variation_id, count(*) AS units
    FROM inventory_items i
    JOIN wanted_variation w ON w.variation_id = i.variation_id
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
open_item AS (
    SELECT COALESCE(oi.variation_id, k.variation_id) AS variation_id,
           oi.listing_id,
           GREATEST(oi.quantity - COALESCE(committed.units, 0), 0) AS units
    FROM order_items oi
    JOIN sales_orders so ON so.id = oi.sales_order_id
    JOIN sales_order_statuses st ON st.id = so.status_id AND st.counts_as_open
    LEFT JOIN skus k ON k.id = oi.sku_id
    LEFT JOIN LATERAL (
        SELECT count(*) AS units FROM commits c
        WHERE c.order_item_id = oi.id AND c.released_at IS NULL
    ) committed ON true
),
outstanding AS (
    SELECT variation_id, sum(units) AS units
    FROM open_item
    WHERE variation_id IS NOT NULL
    GROUP BY variation_id
),
outstanding_unknown_sku AS (
    -- Sold through the listing under a SKU we could not resolve to a variation.
    SELECT listing_id, sum(units) AS units
    FROM open_item
    WHERE variation_id IS NULL AND listing_id IS NOT NULL
    GROUP BY listing_id
),
per_listing AS (
    SELECT lv.listing_id,
           sum(COALESCE(a.units, 0)) AS available,
           sum(COALESCE(o.units, 0)) AS outstanding
    FROM listing_variation lv
    LEFT JOIN available a ON a.variation_id = lv.variation_id
    LEFT JOIN outstanding o ON o.variation_id = lv.variation_id
    GROUP BY lv.listing_id
)
SELECT listing.id,
       listing.mapping_mode,
       listing.buffer,
       per_listing.listing_id IS NOT NULL AS mapped,
       COALESCE(per_listing.available, 0)::bigint AS available,
       (COALESCE(per_listing.outstanding, 0) + COALESCE(u.units, 0))::bigint
           AS outstanding
FROM listing
LEFT JOIN per_listing ON per_listing.listing_id = listing.id
LEFT JOIN outstanding_unknown_sku u ON u.listing_id = listing.id
ORDER BY listing.id
"""
).bindparams(bindparam("listing_ids", type_=ARRAY(BigInteger)))


def syncing_account_ids(session: Session) -> list[int]:
    """The accounts whose quantity sync is on."""
    return list(
        session.scalars(
            select(AccountSettings.account_id)
            .where(AccountSettings.quantity_sync.is_(True))
            .order_by(AccountSettings.account_id)
        )
    )
