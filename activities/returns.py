"""Activities of the RMA import from Back Market's customer care."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from temporalio import activity

from activities.deps import ActivityDeps
from activities.errors import backmarket_call
from activities.heartbeat import heartbeats
from activities.unreadable import record_unreadable, unreadable_ids
from backmarket.client import SkippedItem
from backmarket.errors import PayloadError
from backmarket.models import CareFolder, ReturnLabelKind
from database.inventory import get_checkpoint, set_checkpoint
from database.orders import account_settings
from database.returns import ReturnClaim, upsert_rma
from domain.returns import (
    FetchCareFoldersInput,
    FetchCareFoldersResult,
    ImportReturnsInput,
    ReturnsPlan,
    SaveReturnsCheckpointInput,
    StoreReturnsInput,
    StoreReturnsResult,
)

log = logging.getLogger(__name__)

CHECKPOINT_KIND = "care_folders"
# Care dates are to the minute and Back Market's clock is not ours: every run reads
# again what changed shortly before the checkpoint.
OVERLAP = timedelta(minutes=10)
# The first run looks this far back rather than through every folder ever opened.
FIRST_RUN_WINDOW = timedelta(days=60)


class ReturnActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn
    def plan_returns_import(self, input: ImportReturnsInput) -> ReturnsPlan:
        with self.deps.session_factory() as session:
            settings = account_settings(session, input.account_id)
            checkpoint = get_checkpoint(session, input.account_id, CHECKPOINT_KIND)
            since = checkpoint.value_at if checkpoint is not None else None
            return ReturnsPlan(enabled=settings.rma_import or input.force, since=since)

    @activity.defn
    @heartbeats
    async def fetch_changed_care_folders(
        self, input: FetchCareFoldersInput
    ) -> FetchCareFoldersResult:
        """The ids of care folders changed since the checkpoint, all pages."""
        client = await self.deps.clients.get(input.account_id)
        since = (
            input.since - OVERLAP
            if input.since is not None
            else datetime.now(UTC) - FIRST_RUN_WINDOW
        )
        skipped: list[SkippedItem] = []
        with backmarket_call():
            folders = await client.list_care_folders(
                last_modification_date=since, skipped=skipped
            )
        newest = max(
            (f.date_modification for f in folders if f.date_modification),
            default=None,
        )
        # A folder whose summary does not fit is still read in full by its id.
        ids = {f.id for f in folders} | _numeric(unreadable_ids(skipped) or set())
        if skipped:
            await asyncio.to_thread(self._record_unreadable, input.account_id, skipped)
        return FetchCareFoldersResult(
            folder_ids=sorted(ids), newest_modification=newest
        )

    def _record_unreadable(self, account_id: int, skipped: list[SkippedItem]) -> None:
        with self.deps.session_factory.begin() as session:
            record_unreadable(session, account_id, "rma_import", skipped)

    @activity.defn
    async def store_returns(self, input: StoreReturnsInput) -> StoreReturnsResult:
        """Read each folder; each claim with a return label becomes one RMA."""
        client = await self.deps.clients.get(input.account_id)
        result = StoreReturnsResult()
        for folder_id in input.folder_ids:
            with backmarket_call():
                try:
                    folder = await client.get_care_folder(folder_id)
                except PayloadError as exc:
                    # Logged and left out; the others are imported.
                    skipped = [SkippedItem(object_id=str(folder_id), error=exc)]
                    await asyncio.to_thread(
                        self._record_unreadable, input.account_id, skipped
                    )
                    result.failed += 1
                    continue
            result.read += 1
            claims = _return_claims(folder)
            if not claims:
                result.not_returns += 1
                continue
            outcomes = await asyncio.to_thread(self._store, input.account_id, claims)
            result.created += outcomes.count("created")
            result.updated += outcomes.count("updated")
            result.unchanged += outcomes.count("same")
            activity.heartbeat()
        activity.logger.info(
            "care folders read",
            extra={
                "account_id": input.account_id,
                "read": result.read,
                # Not "created": LogRecord has that attribute, and logging refuses
                # an extra that would overwrite it, failing the activity.
                "rmas_created": result.created,
                "rmas_updated": result.updated,
            },
        )
        return result

    def _store(self, account_id: int, claims: list[ReturnClaim]) -> list[str]:
        now = datetime.now(UTC)
        with self.deps.session_factory.begin() as session:
            return [upsert_rma(session, account_id, claim, now) for claim in claims]

    @activity.defn
    def save_returns_checkpoint(self, input: SaveReturnsCheckpointInput) -> None:
        with self.deps.session_factory.begin() as session:
            set_checkpoint(
                session, input.account_id, CHECKPOINT_KIND, value_at=input.value
            )


def _numeric(ids: set[str]) -> set[int]:
    return {int(object_id) for object_id in ids if object_id.isdigit()}


def _return_claims(folder: CareFolder) -> list[ReturnClaim]:
    """The folder's claims whose customer got a label to send the device back."""
    claims = []
    orderline_id = folder.orderline.id if folder.orderline is not None else None
    for claim in folder.lines:
        labels = [
            label
            for label in claim.return_labels
            if label.kind == ReturnLabelKind.CUSTOMER_TO_MERCHANT
        ]
        if not labels:
            continue
        latest = max(
            labels,
            key=lambda label: label.date_creation or datetime.min.replace(tzinfo=UTC),
        )
        claims.append(
            ReturnClaim(
                care_folder_id=folder.id,
                claim_id=claim.id,
                orderline_id=orderline_id,
                claim_state=claim.state,
                label_state=latest.state,
                resolution_choice=claim.resolution_choice,
            )
        )
    return claims
