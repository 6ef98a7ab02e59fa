"""Activities of the quantity sync: one pass over an account's listings, and notify.

A pass computes every listing's target with the one set-based quantity query, reads
Back Market only where it must, and writes only listings whose target differs from
what Back Market holds. Before each write the listing is read again, and what it
holds is checked against our last push and the orders imported since:

- fewer units than orders explain may be sales we have not imported yet, so the
  listing is held back for a second look after the workflow imports orders again;
  still unexplained then, the orders Back Market itself lists are counted too (an
  order placed after that import, or one still being stored), and only a drop they
  do not explain either is another system's write;
- more units than we pushed: another system wrote it.

Every write is recorded as intended before it is sent, so that one which applied
though its answer was lost (a timeout, a worker killed mid-call) is recognised as
ours on the next read rather than taken for another system's.

A listing written by another system is flagged and logged, and overwritten only
when the account says so. A listing that maps to no stock is never written: a
catalog gap must not become a quantity of 0.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.errors import backmarket_call
from activities.unreadable import record_unreadable, unreadable_ids
from backmarket import BackMarketClient
from backmarket.client import SkippedItem, build_catalog_csv
from backmarket.errors import BackMarketError, NotFoundError, RetryableError
from backmarket.models import ListingUpdate, Orderline, Task, TaskStatus
from database.inventory import imported_orderline_ids, log_sync
from database.listings import (
    clear_foreign_write,
    flag_foreign_write,
    listings_by_id,
    mark_gone,
    record_push,
    record_push_failure,
    record_push_intents,
    record_seen,
    settle_push_intent,
    sold_since_baseline,
)
from database.models import AccountSettings, Listing
from database.orders import account_settings
from database.quantity import calculated_quantities, syncing_account_ids
from domain.quantities import (
    AccountRef,
    NotifyStockChangedInput,
    PlannedPush,
    PushQuantitiesInput,
    PushQuantitiesResult,
    QuantitySettings,
)
from runtime.quantity_client import notify_stock_changed

log = logging.getLogger(__name__)

# Up to this many writes go one by one (each read again right before it is
# written); more go as one bulk CSV, which spares the catalog budget.
BULK_FROM = 25
# Attempts at one listing when Back Market answers 429, 5xx or times out; past
# them the activity fails and Temporal runs the pass again, which re-reads first.
LISTING_ATTEMPTS = 3
# The SKU-line budget is hourly: writes that would wait longer than this for it
# are left for a later pass rather than holding the activity for an hour.
BUDGET_WAIT_MAX_S = 5.0
# Back Market's clock is not ours: orders created shortly before a read are taken
# for sales after it, which errs towards listing less, never more.
SALES_CLOCK_SKEW = timedelta(minutes=1)
# How far back Back Market's orders are looked through for sales not imported yet:
# the import runs every few seconds to minutes, so older ones are imported.
UNIMPORTED_SALES_WINDOW = timedelta(minutes=15)
TASK_POLL_S = 5.0
TASK_TIMEOUT_S = 1800.0
# A write that has not shown on Back Market is looked for this long: a bulk task
# whose upload answer was lost may still run.
INTENT_KEPT = timedelta(seconds=TASK_TIMEOUT_S)
PLAN_SHOWN = 200
# Namespace of the advisory lock that keeps two passes of one account apart.
LOCK_NAMESPACE = 0x51_5459


class QuantityActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn
    def load_quantity_settings(self, input: AccountRef) -> QuantitySettings:
        with self.deps.session_factory() as session:
            settings = account_settings(session, input.account_id)
            return QuantitySettings(
                enabled=settings.quantity_sync,
                overwrite_foreign_writes=settings.overwrite_foreign_writes,
            )

    @activity.defn
    async def push_quantities(self, input: PushQuantitiesInput) -> PushQuantitiesResult:
        """One pass: read what must be read, write what differs, report counts."""
        client = await self.deps.clients.get(input.account_id)
        result = await QuantityPass(
            self.deps.session_factory, client, input, beat=activity.heartbeat
        ).run()
        activity.logger.info(
            "quantity pass",
            extra={
                "account_id": input.account_id,
                "full": input.full,
                "pushed": result.pushed,
                "skipped": result.skipped,
                "failed": result.failed,
                "flagged": result.flagged,
                "held": len(result.held),
            },
        )
        return result

    @activity.defn
    async def notify_stock_changed(self, input: NotifyStockChangedInput) -> int:
        """Wake the quantity sync of every account that syncs quantities.

        Stock is shared by every account, so a change seen through one account's
        order may move the quantities of all of them; accounts that do not sync
        are left alone rather than woken to find nothing to do.
        """
        account_ids = await asyncio.to_thread(self._syncing_accounts)
        await notify_stock_changed(
            self.deps.temporal, self.deps.task_queue, account_ids, input.reason
        )
        return len(account_ids)

    def _syncing_accounts(self) -> list[int]:
        with self.deps.session_factory() as session:
            return syncing_account_ids(session)


@dataclass
class _Candidate:
    listing_id: int
    uuid: str
    sku: str
    target: int
    known: int | None
    pushed: int | None
    flagged: bool
    # What a complete read of Back Market showed, when this pass made one.
    listed: int | None = None


class QuantityPass:
    """One pass over an account's listings; usable outside Temporal for dry runs."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        client: BackMarketClient,
        input: PushQuantitiesInput,
        beat: Callable[[], None] = lambda: None,
    ) -> None:
        self.session_factory = session_factory
        self.client = client
        self.input = input
        self.account_id = input.account_id
        self.beat = beat
        self.result = PushQuantitiesResult()
        self.overwrite = False
        self.read_at = datetime.now(UTC)
        # When Back Market's orders were last listed, and what they held that we
        # have not imported.
        self._sales: tuple[datetime, dict[str, int]] | None = None

    async def run(self) -> PushQuantitiesResult:
        settings = await asyncio.to_thread(self._settings)
        if not settings.quantity_sync and not self.input.force:
            return PushQuantitiesResult(skipped_reason="quantity sync is off")
        self.overwrite = settings.overwrite_foreign_writes
        if self.input.dry_run:
            await self._pass()
        else:
            async with self._account_lock():
                await self._pass()
        return self.result

    def _settings(self) -> AccountSettings:
        with self.session_factory() as session:
            return account_settings(session, self.account_id)

    @asynccontextmanager
    async def _account_lock(self) -> AsyncIterator[None]:
        """Hold the account's advisory lock: a reconcile and a pass never overlap.

        Two overlapping passes could each take the other's push for a foreign
        write, so the second waits for the first.
        """
        key = {"ns": LOCK_NAMESPACE, "account": self.account_id}
        with self.session_factory() as session:
            while not await asyncio.to_thread(session.scalar, _TRY_LOCK, key):
                self.beat()
                await asyncio.sleep(0.2)
            try:
                yield
            finally:
                await asyncio.to_thread(session.execute, _UNLOCK, key)
                await asyncio.to_thread(session.commit)

    async def _pass(self) -> None:
        candidates = await asyncio.to_thread(self._candidates_from_database)
        if self.input.full:
            candidates = await self._candidates_from_backmarket(candidates)
        if not candidates:
            return
        bulk_from = self.input.bulk_from or BULK_FROM
        if len(candidates) > bulk_from:
            await self._write_in_bulk(candidates)
        else:
            for candidate in candidates:
                await self._write_one(candidate)
                self.beat()

    # --- choosing ----------------------------------------------------------------

    def _candidates_from_database(self) -> list[_Candidate]:
        """Listings whose target differs from what we last knew Back Market held.

        A full pass takes every mapped listing and compares after reading.
        """
        with self.session_factory() as session:
            targets = calculated_quantities(
                session, self.account_id, self.input.listing_ids
            )
            # Plain rows, not ORM objects: a pass may look at tens of thousands.
            rows = {
                row.id: row
                for row in session.execute(
                    select(
                        Listing.id,
                        Listing.backmarket_uuid,
                        Listing.sku,
                        Listing.quantity,
                        Listing.last_pushed_quantity,
                        Listing.gone_from_backmarket,
                        Listing.foreign_write_at,
                    ).where(Listing.account_id == self.account_id)
                )
            }
        candidates = []
        for quantity in targets:
            row = rows[quantity.listing_id]
            if row.gone_from_backmarket:
                continue
            if quantity.quantity is None:
                self.result.skipped += 1
                self._plan(row.id, row.sku, row.quantity, None, "skip", quantity.reason)
                continue
            flagged = row.foreign_write_at is not None
            if not self.input.full:
                # Listings named by the caller are read whatever we last knew.
                if quantity.quantity == row.quantity and self.input.listing_ids is None:
                    self.result.unchanged += 1
                    continue
                if flagged and not self.overwrite:
                    # Left to the other system until the reconcile looks again.
                    self.result.skipped += 1
                    self._plan(
                        row.id,
                        row.sku,
                        row.quantity,
                        quantity.quantity,
                        "skip",
                        "foreign write",
                    )
                    continue
            candidates.append(
                _Candidate(
                    listing_id=row.id,
                    uuid=str(row.backmarket_uuid),
                    sku=row.sku,
                    target=quantity.quantity,
                    known=row.quantity,
                    pushed=row.last_pushed_quantity,
                    flagged=flagged,
                )
            )
        return candidates

    async def _candidates_from_backmarket(
        self, candidates: list[_Candidate]
    ) -> list[_Candidate]:
        """Read every listing; keep those whose target differs from Back Market's."""
        self.read_at = datetime.now(UTC)
        listed, unreadable = await self._read_every_listing()
        differing: list[_Candidate] = []
        missing: list[int] = []
        seen: dict[int, int] = {}
        for candidate in candidates:
            quantity = listed.get(candidate.uuid)
            if quantity is None:
                if _unreadable(candidate, unreadable):
                    self._unread(candidate)
                else:
                    missing.append(candidate.listing_id)
                continue
            candidate.listed = quantity
            if quantity != candidate.known:
                seen[candidate.listing_id] = quantity
            if quantity == candidate.target:
                self.result.unchanged += 1
                continue
            differing.append(candidate)
        if not self.input.dry_run:
            await asyncio.to_thread(self._record_read, seen, missing, len(differing))
        self.result.gone += len(missing)
        return differing

    async def _read_every_listing(self) -> tuple[dict[str, int], set[str] | None]:
        """Every listing's quantity by uuid, and the ids of those that did not fit.

        The second is None when a listing that did not fit came without an id.
        """
        skipped: list[SkippedItem] = []
        with backmarket_call():
            listings = await self.client.list_listings(skipped=skipped)
        listed = {x.id: x.quantity for x in listings}
        self.result.read += len(listed)
        self.beat()
        if skipped and not self.input.dry_run:
            await asyncio.to_thread(self._record_unreadable, skipped)
        return listed, unreadable_ids(skipped)

    def _record_unreadable(self, skipped: list[SkippedItem]) -> None:
        with self.session_factory.begin() as session:
            record_unreadable(session, self.account_id, "quantity_reconcile", skipped)

    def _unread(self, candidate: _Candidate) -> None:
        """A listing Back Market sent in a form we cannot read: left as it is."""
        self.result.failed += 1
        self._plan_entry(candidate, None, "failed", "unreadable on Back Market")

    def _record_read(
        self, seen: dict[int, int], missing: list[int], differing: int
    ) -> None:
        now = datetime.now(UTC)
        with self.session_factory.begin() as session:
            rows = listings_by_id(session, [*seen, *missing])
            for listing_id, quantity in seen.items():
                _note_seen(rows[listing_id], quantity, now)
            for listing_id in missing:
                mark_gone(session, rows[listing_id], "quantity_reconcile")
            log_sync(
                session,
                account_id=self.account_id,
                kind="quantity_reconcile",
                direction="pull",
                result="ok",
                detail=(
                    f"read every listing: {len(seen)} changed since last seen, "
                    f"{differing} differ from their target, {len(missing)} gone"
                ),
            )

    # --- deciding ------------------------------------------------------------------

    def _decide(
        self,
        session: Session,
        row: Listing,
        candidate: _Candidate,
        current: int,
        unimported: int | None = None,
    ) -> tuple[str, int, str | None]:
        """What to do with a listing Back Market says holds `current` units.

        Answers an action (write, unchanged, hold, recount, wait, foreign) and the
        quantity to write. `unimported` is the units Back Market lists as ordered
        through the listing that we have not imported; None until they are counted,
        which the caller does when asked to recount.
        """
        target = candidate.target
        if candidate.listed is not None and current < candidate.listed:
            # Sold on Back Market since our complete read: those units are not in
            # the target yet, and writing the target would undo the sale.
            target = max(0, target - (candidate.listed - current))
        if current == target:
            return "unchanged", target, None
        baseline, since = _baseline(row)
        if baseline is None:
            return "write", target, None
        sold = sold_since_baseline(session, [row.id]).get(row.id, 0)
        sold += unimported or 0
        explained = max(0, baseline - sold)
        pushed_by_us = row.last_pushed_quantity is not None
        if current < explained:
            stamp = since.strftime("%Y-%m-%d %H:%M:%S")
            note = (
                f"Back Market holds {current}, but it held {baseline} at {stamp} "
                f"and {sold} unit(s) were ordered since, which leaves {explained}"
            )
            if self.input.hold_drops:
                return "hold", target, note
            if unimported is None:
                return "recount", target, note
            if not pushed_by_us:
                return "write", min(target, current), note
            return "foreign", target, note
        if pushed_by_us and current > baseline:
            note = f"Back Market holds {current}; we pushed {baseline}"
            return "foreign", target, note
        if unimported:
            # The target does not count those sales yet; their import wakes the
            # next pass, which writes with them counted.
            return "wait", target, f"{unimported} unit(s) ordered, not imported yet"
        return "write", target, None

    # --- writing one by one ----------------------------------------------------------

    async def _write_one(self, candidate: _Candidate) -> None:
        for attempt in range(1, LISTING_ATTEMPTS + 1):
            try:
                await self._try_one(candidate)
                return
            except NotFoundError:
                await asyncio.to_thread(self._gone, candidate)
                return
            except RetryableError as exc:
                if attempt == LISTING_ATTEMPTS:
                    raise ApplicationError(
                        f"listing {candidate.listing_id}: {exc}",
                        exc.details(),
                        type=exc.kind,
                    ) from None
                log.warning(
                    "retrying listing",
                    extra={"listing_id": candidate.listing_id, "error": exc.kind},
                )
                # A 429 has already blocked the pacer for Back Market's penalty.
                await asyncio.sleep(0.2 * attempt)
            except BackMarketError as exc:
                await asyncio.to_thread(self._failed, candidate, exc)
                return

    async def _try_one(self, candidate: _Candidate) -> None:
        """Read the listing again, decide, write."""
        read_at = datetime.now(UTC)
        current = (await self.client.get_listing(candidate.uuid)).quantity
        if not await asyncio.to_thread(self._refresh_targets, [candidate]):
            return
        action, value = await self._decide_for(candidate, current, read_at)
        if action != "write":
            return
        if self.client.pacer.wait_for_sku_lines(1) > BUDGET_WAIT_MAX_S:
            self.result.deferred += 1
            return
        await asyncio.to_thread(
            self._record_intents, {candidate.listing_id: value}, read_at
        )
        await self.client.update_listing(candidate.uuid, ListingUpdate(quantity=value))
        await asyncio.to_thread(
            self._pushed, candidate, current, value, read_at, "single"
        )

    def _refresh_targets(self, candidates: list[_Candidate]) -> list[_Candidate]:
        """The candidates, each with its target computed again now.

        Called after Back Market was read: orders imported since the pass began
        are in Back Market's quantity already, and must be in the target too, or
        writing it would undo their sales. A listing that maps to nothing any more
        is dropped.
        """
        with self.session_factory() as session:
            fresh = {
                row.listing_id: row.quantity
                for row in calculated_quantities(
                    session, self.account_id, [c.listing_id for c in candidates]
                )
            }
        kept = []
        for candidate in candidates:
            target = fresh.get(candidate.listing_id)
            if target is None:
                self.result.skipped += 1
                continue
            candidate.target = target
            kept.append(candidate)
        return kept

    async def _decide_for(
        self, candidate: _Candidate, current: int, read_at: datetime
    ) -> tuple[str, int]:
        """Decide for one listing; Back Market's orders count when ours fall short."""
        action, value, _ = await asyncio.to_thread(
            self._decide_and_note, candidate, current, read_at
        )
        if action == "recount":
            sold = await self._unimported_sales(read_at)
            action, value, _ = await asyncio.to_thread(
                self._decide_and_note,
                candidate,
                current,
                read_at,
                sold.get(candidate.sku.casefold(), 0),
            )
        return action, value

    async def _unimported_sales(self, read_at: datetime) -> dict[str, int]:
        """Units per SKU (in lower case) ordered on Back Market and not imported.

        Counted after `read_at`, so every sale a listing read then shows is in it;
        one read of the orders serves every listing read before it was made.
        """
        if self._sales is not None and self._sales[0] >= read_at:
            return self._sales[1]
        asked_at = datetime.now(UTC)
        sold = await self._sales_not_imported(asked_at - UNIMPORTED_SALES_WINDOW)
        self._sales = (asked_at, sold)
        return sold

    async def _sales_not_imported(self, since: datetime) -> dict[str, int]:
        """Units per SKU on orders created since `since` and not stored by us."""
        with backmarket_call():
            orders = await self.client.list_orders(date_creation=since)
        lines = [line for order in orders for line in order.orderlines]
        known = await asyncio.to_thread(self._imported_orderlines, lines)
        sold: dict[str, int] = {}
        for line in lines:
            if line.id not in known and line.listing:
                key = line.listing.casefold()
                sold[key] = sold.get(key, 0) + max(line.quantity, 1)
        return sold

    def _decide_and_note(
        self,
        candidate: _Candidate,
        current: int,
        read_at: datetime,
        unimported: int | None = None,
    ) -> tuple[str, int, str | None]:
        """Decide for one listing and record what the decision needs recorded.

        In a dry run nothing is recorded, and a write is answered as "planned".
        """
        dry = self.input.dry_run
        with self.session_factory() as session:
            row = session.get(Listing, candidate.listing_id)
            assert row is not None
            if settle_push_intent(session, row, current, keep_for=INTENT_KEPT):
                # Ours, from an earlier attempt or pass that never heard back.
                self.result.pushed += 1
            action, value, note = self._decide(
                session, row, candidate, current, unimported
            )
            if action == "recount":
                return action, value, note
            self._plan(row.id, row.sku, current, value, action, note)
            if action == "foreign":
                self.result.flagged += 1
                if not dry:
                    flag_foreign_write(
                        session,
                        row,
                        current,
                        note or "",
                        overwrite=self.overwrite,
                        at=read_at,
                    )
                if self.overwrite:
                    action = "write"
                else:
                    self.result.skipped += 1
            elif action == "hold":
                self.result.held.append(candidate.listing_id)
            elif action == "wait":
                # What we believe Back Market holds is left as it is: importing
                # those orders takes their units off it.
                self.result.skipped += 1
            elif action == "unchanged":
                self.result.unchanged += 1
                if not dry:
                    _note_seen(row, current, read_at)
            elif not dry:
                clear_foreign_write(row)
            if dry:
                session.rollback()
                if action == "write":
                    self.result.pushed += 1
                    return "planned", value, note
            else:
                session.commit()
            return action, value, note

    def _record_intents(self, quantities: dict[int, int], read_at: datetime) -> None:
        with self.session_factory.begin() as session:
            record_push_intents(session, quantities, read_at)

    def _pushed(
        self,
        candidate: _Candidate,
        before: int,
        value: int,
        read_at: datetime,
        how: str,
    ) -> None:
        self._record_push(candidate, before, value, read_at, how)
        self.result.pushed += 1

    def _record_push(
        self,
        candidate: _Candidate,
        before: int,
        value: int,
        read_at: datetime,
        how: str,
    ) -> None:
        with self.session_factory.begin() as session:
            row = session.get(Listing, candidate.listing_id)
            assert row is not None
            record_push(session, row, value, before=before, how=how, at=read_at)

    def _gone(self, candidate: _Candidate) -> None:
        self.result.gone += 1
        self.result.failed += 1
        self._plan_entry(candidate, None, "gone", "404 from Back Market")
        if self.input.dry_run:
            return
        with self.session_factory.begin() as session:
            row = session.get(Listing, candidate.listing_id)
            assert row is not None
            mark_gone(session, row, "quantity_push")

    def _failed(self, candidate: _Candidate, exc: BackMarketError) -> None:
        self.result.failed += 1
        self._plan_entry(candidate, None, "failed", exc.kind)
        if self.input.dry_run:
            return
        with self.session_factory.begin() as session:
            row = session.get(Listing, candidate.listing_id)
            assert row is not None
            record_push_failure(session, row, exc.kind, str(exc))

    # --- writing in bulk ------------------------------------------------------------

    async def _write_in_bulk(self, candidates: list[_Candidate]) -> None:
        self.result.bulk = True
        read_at = self.read_at
        unreadable: set[str] | None = set()
        if not self.input.full:
            read_at = datetime.now(UTC)
            # Many listings to write: one complete read is cheaper than one each.
            listed, unreadable = await self._read_every_listing()
        else:
            listed = {c.uuid: c.listed for c in candidates if c.listed is not None}
        candidates = await asyncio.to_thread(self._refresh_targets, candidates)
        writes: list[tuple[_Candidate, int, int]] = []
        for candidate in candidates:
            current = listed.get(candidate.uuid)
            if current is None:
                if _unreadable(candidate, unreadable):
                    self._unread(candidate)
                else:
                    await asyncio.to_thread(self._gone, candidate)
                continue
            action, value = await self._decide_for(candidate, current, read_at)
            if action in ("write", "planned"):
                writes.append((candidate, current, value))
        if self.input.dry_run or not writes:
            return

        fits = self._lines_that_fit(len(writes))
        self.result.deferred += len(writes) - fits
        writes = writes[:fits]
        if not writes:
            return
        await asyncio.to_thread(
            self._record_intents,
            {c.listing_id: value for c, _, value in writes},
            read_at,
        )
        catalog = build_catalog_csv(
            ({"sku": c.sku, "quantity": value} for c, _, value in writes),
            columns=["sku", "quantity"],
        )
        with backmarket_call():
            task_id = await self.client.bulk_update_listings(catalog)
            task = await self._wait_for(task_id)
        outcomes = _task_outcomes(task)
        written: list[tuple[_Candidate, int]] = []
        for candidate, before, value in writes:
            ok, message = outcomes.get(candidate.sku.casefold(), (task.finished, None))
            if ok and task.action_status == TaskStatus.DONE:
                await asyncio.to_thread(
                    self._pushed, candidate, before, value, read_at, f"bulk {task_id}"
                )
                written.append((candidate, value))
            else:
                await self._bulk_line_failed(candidate, message or "task failed")
        await self._take_off_sales_made_meanwhile(written, read_at)

    async def _take_off_sales_made_meanwhile(
        self, written: list[tuple[_Candidate, int]], read_at: datetime
    ) -> None:
        """Lower again the listings that sold while the bulk task was pending.

        The task sets absolute quantities decided on a read made minutes before it
        ran: a unit Back Market sold in between, from an order not imported yet, was
        written back over. Every such order since the read is taken off; counting
        one that sold after the task ran too errs low, and the next pass, woken by
        that order's import, puts it right.
        """
        if not written:
            return
        sold = await self._sales_not_imported(read_at - SALES_CLOCK_SKEW)
        for candidate, value in written:
            units = sold.get(candidate.sku.casefold(), 0)
            if units == 0:
                continue
            with backmarket_call():
                seen_at = datetime.now(UTC)
                current = (await self.client.get_listing(candidate.uuid)).quantity
                lowered = min(current, max(0, value - units))
                if lowered == current:
                    continue
                await asyncio.to_thread(
                    self._record_intents, {candidate.listing_id: lowered}, seen_at
                )
                await self.client.update_listing(
                    candidate.uuid, ListingUpdate(quantity=lowered)
                )
            await asyncio.to_thread(
                self._record_push,
                candidate,
                current,
                lowered,
                seen_at,
                f"{units} unit(s) sold while the bulk task waited",
            )
            self.result.resold += 1

    def _imported_orderlines(self, lines: list[Orderline]) -> set[int]:
        with self.session_factory() as session:
            return imported_orderline_ids(session, [line.id for line in lines])

    def _lines_that_fit(self, wanted: int) -> int:
        """How many SKU lines the hourly budget takes without a long wait."""
        pacer = self.client.pacer
        wanted = min(wanted, pacer.sku_lines_capacity())
        if pacer.wait_for_sku_lines(wanted) <= BUDGET_WAIT_MAX_S:
            return wanted
        low, high = 0, wanted
        while low < high:
            middle = (low + high + 1) // 2
            if pacer.wait_for_sku_lines(middle) <= BUDGET_WAIT_MAX_S:
                low = middle
            else:
                high = middle - 1
        return low

    async def _wait_for(self, task_id: str) -> Task:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TASK_TIMEOUT_S
        while True:
            task = await self.client.get_task(task_id)
            self.beat()
            if task.finished or loop.time() > deadline:
                return task
            await asyncio.sleep(TASK_POLL_S * self.client.pacer.limits.time_scale)

    async def _bulk_line_failed(self, candidate: _Candidate, message: str) -> None:
        try:
            await self.client.get_listing(candidate.uuid)
        except NotFoundError:
            await asyncio.to_thread(self._gone, candidate)
            return
        except BackMarketError:
            pass
        error = BackMarketError(f"bulk line refused: {message}")
        await asyncio.to_thread(self._failed, candidate, error)

    # --- dry-run plan ----------------------------------------------------------------

    def _plan(
        self,
        listing_id: int,
        sku: str,
        backmarket_quantity: int | None,
        target: int | None,
        action: str,
        note: str | None,
    ) -> None:
        if not self.input.dry_run or len(self.result.plan) >= PLAN_SHOWN:
            return
        self.result.plan.append(
            PlannedPush(
                listing_id=listing_id,
                sku=sku,
                backmarket_quantity=backmarket_quantity,
                target=target,
                action=action,
                note=note,
            )
        )

    def _plan_entry(
        self, candidate: _Candidate, target: int | None, action: str, note: str
    ) -> None:
        self._plan(
            candidate.listing_id, candidate.sku, candidate.known, target, action, note
        )


def _note_seen(row: Listing, quantity: int, at: datetime) -> None:
    """Back Market holds `quantity`; a push of ours stays the baseline, so that
    another system's write still shows against it."""
    if row.last_pushed_quantity is None:
        record_seen(row, quantity, at)
    else:
        row.quantity = quantity


def _baseline(row: Listing) -> tuple[int | None, datetime]:
    """The quantity Back Market held by our own knowledge, and since when."""
    if row.last_pushed_quantity is not None and row.last_pushed_at is not None:
        return row.last_pushed_quantity, row.last_pushed_at
    since = row.quantity_seen_at or row.created_at
    return row.quantity, since


def _unreadable(candidate: _Candidate, unreadable: set[str] | None) -> bool:
    """Whether a listing missing from a read may be one that did not fit."""
    return unreadable is None or candidate.uuid in unreadable


def _task_outcomes(task: Task) -> dict[str, tuple[bool, str | None]]:
    """Per-SKU outcome of a bulk task, keyed by the SKU in lower case."""
    found: dict[str, tuple[bool, str | None]] = {}
    result: Any = task.result
    if not isinstance(result, dict):
        return found
    for sku, outcome in result.items():
        if isinstance(outcome, dict):
            status = str(outcome.get("status", "")).upper()
            message = outcome.get("message")
            found[str(sku).casefold()] = (
                status in ("OK", "SUCCESS", "DONE"),
                None if message is None else str(message),
            )
    return found


# Session-level, so the lock outlives the transactions of the pass.
_TRY_LOCK = text("SELECT pg_try_advisory_lock(:ns, CAST(:account % 2147483647 AS int))")
_UNLOCK = text("SELECT pg_advisory_unlock(:ns, CAST(:account % 2147483647 AS int))")
