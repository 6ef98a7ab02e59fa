"""BackPricer: the scheduled read of each listing's BackBox standing."""

from temporalio import workflow

from domain.listings import RefreshPricingInput, RefreshPricingResult
from workflows.policies import (
    IMPORT_RETRY,
    LISTING_READ_HEARTBEAT,
    LISTING_READ_TIMEOUT,
)
from workflows.runs import logged_run

with workflow.unsafe.imports_passed_through():
    from activities.pricing import PricingActivities


@workflow.defn
class RefreshPricingWorkflow:
    """Read the BackBox standing of the listings checked longest ago.

    BackBox allows 2 reads a second, so one run reads one batch; the listings
    checked longest ago come first, and successive runs go round the catalog.
    """

    @workflow.run
    async def run(self, input: RefreshPricingInput) -> RefreshPricingResult:
        return await logged_run(input.account_id, "pricing", "pull", self._run(input))

    async def _run(self, input: RefreshPricingInput) -> RefreshPricingResult:
        return await workflow.execute_activity_method(
            PricingActivities.refresh_backbox,
            input,
            start_to_close_timeout=LISTING_READ_TIMEOUT,
            heartbeat_timeout=LISTING_READ_HEARTBEAT,
            retry_policy=IMPORT_RETRY,
        )
