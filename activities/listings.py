"""Activities of the listing import."""

import asyncio
import logging
import uuid
from datetime import UTC, datetime

from temporalio import activity

from activities.deps import ActivityDeps
from activities.errors import backmarket_call
from activities.unreadable import record_unreadable, unreadable_uuids
from backmarket.client import SkippedItem
from backmarket.models import Listing as BackMarketListing
from backmarket.models import PublicationState
from database.inventory import log_sync
from database.listings import ListingData, upsert_listings
from database.models import ListingImportScope
from database.orders import account_settings
from database.quantity import calculated_quantities
from domain.listings import ImportListingsInput, ImportListingsResult

log = logging.getLogger(__name__)


class ListingActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn
    async def import_listings(self, input: ImportListingsInput) -> ImportListingsResult:
        """Read the account's listings (all, or online only) and store them."""
        settings = await asyncio.to_thread(self._settings, input.account_id)
        enabled, scope, add_new = settings
        if not enabled and not input.force:
            return ImportListingsResult(skipped=True)
        online_only = scope == ListingImportScope.ONLINE.value
        client = await self.deps.clients.get(input.account_id)
        skipped: list[SkippedItem] = []
        with backmarket_call():
            listings = await client.list_listings(
                publication_state=PublicationState.ONLINE if online_only else None,
                skipped=skipped,
            )
        data = [d for d in (_listing_data(x) for x in listings) if d is not None]
        result = await asyncio.to_thread(
            self._store, input.account_id, data, not online_only, add_new, skipped
        )
        activity.logger.info(
            "listings imported",
            extra={
                "account_id": input.account_id,
                "seen": result.seen,
                "added": result.added,
                "updated": result.updated,
                "gone": result.gone,
            },
        )
        return result

    def _settings(self, account_id: int) -> tuple[bool, str, bool]:
        with self.deps.session_factory() as session:
            settings = account_settings(session, account_id)
            return (
                settings.listing_import,
                settings.listing_import_scope,
                settings.auto_import_new_listings,
            )

    def _store(
        self,
        account_id: int,
        data: list[ListingData],
        complete: bool,
        add_new: bool,
        skipped: list[SkippedItem],
    ) -> ImportListingsResult:
        unreadable = unreadable_uuids(skipped)
        with self.deps.session_factory.begin() as session:
            record_unreadable(session, account_id, "listing_import", skipped)
            counts = upsert_listings(
                session,
                account_id,
                data,
                # A listing that could not be read, and whose id is unknown, may be
                # any of those missing: none is taken for gone.
                complete=complete and unreadable is not None,
                add_new=add_new,
                now=datetime.now(UTC),
                unreadable=unreadable or (),
            )
            if counts.not_imported:
                log_sync(
                    session,
                    account_id=account_id,
                    kind="listing_import",
                    direction="pull",
                    result="skipped",
                    detail=(
                        f"{counts.not_imported} new listing(s) not imported "
                        "(auto import of new listings is off), e.g. "
                        + ", ".join(counts.not_imported_skus)
                    ),
                )
            if counts.added or counts.updated:
                log_sync(
                    session,
                    account_id=account_id,
                    kind="listing_import",
                    direction="pull",
                    result="ok",
                    detail=(
                        f"read {len(data)}: {counts.added} added, "
                        f"{counts.updated} updated, {counts.gone} gone"
                    ),
                )
            unmapped = sum(
                1
                for q in calculated_quantities(session, account_id)
                if q.quantity is None
            )
        return ImportListingsResult(
            seen=len(data),
            added=counts.added,
            updated=counts.updated,
            unchanged=counts.unchanged,
            not_imported=counts.not_imported,
            gone=counts.gone,
            unmapped=unmapped,
            failed=len(skipped),
        )


def _listing_data(listing: BackMarketListing) -> ListingData | None:
    try:
        key = uuid.UUID(listing.id)
    except ValueError:
        log.warning("listing id is not a uuid", extra={"sku": listing.sku})
        return None
    return ListingData(
        backmarket_uuid=key,
        sku=listing.sku,
        quantity=listing.quantity,
        legacy_listing_id=listing.listing_id,
        product_id=listing.product_id,
        title=listing.title[:500] if listing.title else None,
        grade=listing.grade[:20] if listing.grade else None,
        price=listing.price,
        currency=listing.currency[:3] if listing.currency else None,
        min_price=listing.min_price,
        max_price=listing.max_price,
        publication_state=listing.publication_state,
        comment=listing.comment[:500] if listing.comment else None,
    )
