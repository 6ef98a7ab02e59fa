"""Inputs, results and signals of the quantity sync.

Payloads carry ids and counts, never whole listings, so the long-lived workflow's
history stays small however many listings an account has.
"""

from datetime import datetime

from pydantic import BaseModel, Field


def quantity_sync_workflow_id(account_id: int) -> str:
    """The one long-lived quantity workflow of an account."""
    return f"quantity-sync-{account_id}"


class StockChanged(BaseModel):
    """Something that changes a calculated quantity happened; no answer is needed."""

    reason: str | None = None
    at: datetime | None = None


class QuantitySyncInput(BaseModel):
    account_id: int
    # Carried over continue-as-new: a change signalled while the last pass ran.
    pending: bool = True
    passes: int = 0


class ReconcileQuantitiesInput(BaseModel):
    account_id: int
    dry_run: bool = False
    # Run even when the account's quantity sync is off (an operator asked).
    force: bool = False


class QuantitySettings(BaseModel):
    enabled: bool
    overwrite_foreign_writes: bool


class AccountRef(BaseModel):
    account_id: int


class PushQuantitiesInput(BaseModel):
    """One pass over an account's listings.

    `full` reads every listing from Back Market (the reconcile); otherwise only
    listings whose target differs from what we last knew Back Market held are read
    again. With `hold_drops`, listings that lost more units than imported orders
    explain are held back (their orders may not be imported yet) rather than
    treated as written by another system.
    """

    account_id: int
    full: bool = False
    dry_run: bool = False
    force: bool = False
    hold_drops: bool = True
    listing_ids: list[int] | None = None
    # Above this many listings to write, one bulk CSV upload replaces single
    # updates; None takes the default.
    bulk_from: int | None = None


class PlannedPush(BaseModel):
    """What a pass decided for one listing."""

    listing_id: int
    sku: str
    backmarket_quantity: int | None
    target: int | None
    action: str
    note: str | None = None


class PushQuantitiesResult(BaseModel):
    skipped_reason: str | None = None
    pushed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    flagged: int = 0
    gone: int = 0
    deferred: int = 0
    read: int = 0
    bulk: bool = False
    # Listings lowered again after a bulk write for units sold while it waited.
    resold: int = 0
    held: list[int] = Field(default_factory=list)
    # Filled for dry runs only, at most a page of them.
    plan: list[PlannedPush] = Field(default_factory=list)

    def merged(self, later: "PushQuantitiesResult") -> "PushQuantitiesResult":
        """This pass followed by a second look at the listings it held."""
        return PushQuantitiesResult(
            skipped_reason=later.skipped_reason or self.skipped_reason,
            pushed=self.pushed + later.pushed,
            unchanged=self.unchanged + later.unchanged,
            skipped=self.skipped + later.skipped,
            failed=self.failed + later.failed,
            flagged=self.flagged + later.flagged,
            gone=self.gone + later.gone,
            deferred=self.deferred + later.deferred,
            read=self.read + later.read,
            bulk=self.bulk or later.bulk,
            resold=self.resold + later.resold,
            held=later.held,
            plan=self.plan + later.plan,
        )


class NotifyStockChangedInput(BaseModel):
    """Accounts whose quantities may have moved; every syncing account when empty."""

    account_ids: list[int] = Field(default_factory=list)
    reason: str | None = None


class QuantitySyncState(BaseModel):
    account_id: int
    passes: int
    pending: bool
    last_result: PushQuantitiesResult | None = None
    last_pass_at: datetime | None = None
