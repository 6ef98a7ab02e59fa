"""Async client for the Back Market Seller API: models, errors and per-token pacing."""

from backmarket import errors, models
from backmarket.client import (
    BackMarketClient,
    Platform,
    build_catalog_csv,
    count_csv_lines,
)
from backmarket.pacing import Budget, Limits, Pacer, Scope, pacer_for_token

__all__ = [
    "BackMarketClient",
    "Budget",
    "Limits",
    "Pacer",
    "Platform",
    "Scope",
    "build_catalog_csv",
    "count_csv_lines",
    "errors",
    "models",
    "pacer_for_token",
]
