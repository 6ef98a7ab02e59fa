"""BackPricer: read each listing's BackBox standing, and edit prices and comments."""

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.errors import backmarket_call, rejected
from backmarket import BackMarketClient
from backmarket.errors import BackMarketError, NotFoundError, RetryableError
from backmarket.models import CompetitorEntry, ListingUpdate
from database.inventory import log_sync
from database.listings import BackBoxStanding, store_backbox
from database.models import Account, Listing
from database.orders import account_settings
from domain.listings import RefreshPricingInput, RefreshPricingResult, SetPricingInput

log = logging.getLogger(__name__)

# Listings read per activity run; at BackBox's 2 a second this is about 4 minutes.
REFRESH_BATCH = 500
ATTEMPTS = 3


class PricingActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn
    async def refresh_backbox(self, input: RefreshPricingInput) -> RefreshPricingResult:
        """Read the BackBox of the listings checked longest ago, one batch of them."""
        enabled, market, listings = await asyncio.to_thread(self._due, input)
        if not enabled and not input.force:
            return RefreshPricingResult(skipped=True)
        client = await self.deps.clients.get(input.account_id)
        result = RefreshPricingResult()
        for listing_id, listing_uuid in listings:
            standing = await _standing(client, listing_uuid, market, result)
            if standing is not None:
                await asyncio.to_thread(self._store, listing_id, standing)
            activity.heartbeat()
        return result

    def _due(
        self, input: RefreshPricingInput
    ) -> tuple[bool, str | None, list[tuple[int, str]]]:
        with self.deps.session_factory() as session:
            settings = account_settings(session, input.account_id)
            account = session.get(Account, input.account_id)
            market = _market(account.locale if account else None)
            query = (
                select(Listing.id, Listing.backmarket_uuid)
                .where(
                    Listing.account_id == input.account_id,
                    Listing.gone_from_backmarket.is_(False),
                )
                .order_by(Listing.backbox_checked_at.asc().nulls_first(), Listing.id)
                .limit(REFRESH_BATCH)
            )
            if input.listing_ids is not None:
                query = query.where(Listing.id.in_(input.listing_ids))
            rows = [(i, str(u)) for i, u in session.execute(query)]
            return settings.backpricer, market, rows

    def _store(self, listing_id: int, standing: BackBoxStanding) -> None:
        with self.deps.session_factory.begin() as session:
            store_backbox(session, listing_id, standing, datetime.now(UTC))

    @activity.defn
    async def set_pricing(self, input: SetPricingInput) -> None:
        """Write a BackPricer edit to Back Market, then keep what it answered."""
        client = await self.deps.clients.get(input.account_id)
        try:
            await apply_pricing(self.deps.session_factory, client, input)
        except LookupError as exc:
            raise rejected(str(exc), "BadData") from None


async def apply_pricing(
    session_factory: sessionmaker[Session],
    client: BackMarketClient,
    input: SetPricingInput,
) -> Listing:
    """Send the edit to Back Market, store the listing as it answered, and log it."""
    update = ListingUpdate.model_validate(
        input.model_dump(include={"min_price", "price", "comment"}, exclude_none=True)
    )
    if not update.to_body():
        raise LookupError("give a min price, a price or a comment")
    with session_factory() as session:
        row = session.get(Listing, input.listing_id)
        if row is None or row.account_id != input.account_id:
            raise LookupError(f"no listing {input.listing_id} in this account")
        listing_uuid = str(row.backmarket_uuid)
    with backmarket_call():
        answered = await client.update_listing(listing_uuid, update)
    with session_factory.begin() as session:
        row = session.get(Listing, input.listing_id)
        assert row is not None
        row.price = answered.price
        row.min_price = answered.min_price
        row.comment = answered.comment[:500] if answered.comment else None
        row.quantity = answered.quantity
        log_sync(
            session,
            account_id=input.account_id,
            kind="pricing",
            direction="push",
            result="ok",
            listing_id=row.id,
            external_ref=listing_uuid,
            detail="set " + ", ".join(sorted(update.to_body())),
        )
    return row


async def _standing(
    client: BackMarketClient,
    listing_uuid: str,
    market: str | None,
    result: RefreshPricingResult,
) -> BackBoxStanding | None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            entries = await client.get_competitors(listing_uuid)
            break
        except NotFoundError:
            result.no_backbox += 1
            result.checked += 1
            return BackBoxStanding(None, None, None, "no BackBox for this listing")
        except RetryableError as exc:
            if attempt == ATTEMPTS:
                raise ApplicationError(str(exc), type=exc.kind) from None
            await asyncio.sleep(0.5 * attempt)
        except BackMarketError as exc:
            result.failed += 1
            log.warning(
                "backbox read failed",
                extra={"listing_uuid": listing_uuid, "error": exc.kind},
            )
            return None
    entry = _entry_for(entries, market)
    result.checked += 1
    if entry is None:
        result.no_backbox += 1
        return BackBoxStanding(None, None, None, "no BackBox entry")
    if entry.is_winning:
        result.winning += 1
    else:
        result.losing += 1
    return BackBoxStanding(
        price_to_win=entry.price_to_win.amount if entry.price_to_win else None,
        winner_price=entry.winner_price.amount if entry.winner_price else None,
        winning=entry.is_winning,
        note=f"market {entry.market}" if entry.market else None,
    )


def _entry_for(
    entries: list[CompetitorEntry], market: str | None
) -> CompetitorEntry | None:
    """The entry of the account's own market, else the first one."""
    for entry in entries:
        if market is not None and (entry.market or "").upper() == market:
            return entry
    return entries[0] if entries else None


def _market(locale: str | None) -> str | None:
    """The market a locale sells in: fr-fr is FR, en-us is US."""
    if not locale or "-" not in locale:
        return None
    return locale.split("-", 1)[1].upper()
