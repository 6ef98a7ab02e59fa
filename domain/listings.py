"""Inputs and results of the listing import and of BackPricer."""

from decimal import Decimal

from pydantic import BaseModel, Field


class ImportListingsInput(BaseModel):
    account_id: int
    # Run even when the account's listing import is off (an operator asked).
    force: bool = False


class ImportListingsResult(BaseModel):
    skipped: bool = False
    seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    not_imported: int = 0
    gone: int = 0
    # Listings whose SKU our catalog does not know, after this import.
    unmapped: int = 0
    # Listings Back Market sent that do not fit our models: logged, left out.
    failed: int = 0


class RefreshPricingInput(BaseModel):
    account_id: int
    force: bool = False
    listing_ids: list[int] | None = None


class RefreshPricingResult(BaseModel):
    skipped: bool = False
    checked: int = 0
    winning: int = 0
    losing: int = 0
    no_backbox: int = 0
    failed: int = 0


class SetPricingInput(BaseModel):
    """A BackPricer edit of one listing; only the fields given change."""

    account_id: int
    listing_id: int
    min_price: Decimal | None = Field(
        default=None, ge=0, max_digits=10, decimal_places=2
    )
    price: Decimal | None = Field(default=None, gt=0, max_digits=10, decimal_places=2)
    comment: str | None = Field(default=None, max_length=500)
