"""Settings of the Back Market sandbox: merchants, limits, market, faults, clock."""

from typing import Literal

from pydantic import BaseModel, Field

Platform = Literal["eu", "us", "ap"]


class MerchantConfig(BaseModel):
    """One merchant account and the API token it signs in with."""

    name: str
    token: str
    platform: Platform = "eu"
    company: str = "Refurb"


class RateWindow(BaseModel):
    """At most `requests` in any sliding window of `per_s` seconds (real time)."""

    requests: int = Field(ge=1)
    per_s: float = Field(gt=0)


class SandboxLimits(BaseModel):
    """Back Market's budgets, per token; every duration is scaled by `time_scale`."""

    enabled: bool = True
    general: RateWindow = RateWindow(requests=200, per_s=10)
    general_block_s: float = Field(default=10, ge=0)
    # Every /ws/listings path counts here: the contract calls them "sensitive" without
    # naming which, and the stricter reading keeps clients honest.
    catalog: RateWindow = RateWindow(requests=20, per_s=10)
    sku_lines: RateWindow = RateWindow(requests=2000, per_s=3600)
    sav_list: list[RateWindow] = [
        RateWindow(requests=520, per_s=60),
        RateWindow(requests=4000, per_s=86400),
    ]
    sav_detail: list[RateWindow] = [
        RateWindow(requests=600, per_s=60),
        RateWindow(requests=40000, per_s=86400),
    ]
    backbox: RateWindow = RateWindow(requests=2, per_s=1)


class MarketConfig(BaseModel):
    """The simulated customers who order, cancel and open care folders."""

    enabled: bool = False
    orders_per_minute: float = Field(default=2.0, ge=0)
    multi_line_share: float = Field(default=0.15, ge=0, le=1)
    cancel_share: float = Field(default=0.05, ge=0, le=1)
    care_folder_share: float = Field(default=0.05, ge=0, le=1)


class FaultRule(BaseModel):
    """Misbehaviour for requests whose method and path match.

    `path` is a regular expression matched against the whole path. The rates split one
    seeded draw per matching request: first `error_rate`, then `timeout_rate`, then
    `lost_response_rate`. Latency and hang times are real seconds, not scaled, because
    they are measured against the client's own (unscaled) timeout.
    """

    method: str = "*"
    path: str = "/ws/.*"
    error_rate: float = Field(default=0, ge=0, le=1)
    error_status: int = Field(default=500, ge=500, le=599)
    latency_s: float = Field(default=0, ge=0)
    timeout_rate: float = Field(default=0, ge=0, le=1)
    hang_s: float = Field(default=30, ge=0)
    lost_response_rate: float = Field(default=0, ge=0, le=1)
    lost_response_status: int = Field(default=502, ge=500, le=599)
    remaining: int | None = Field(default=None, ge=0)


def _default_merchants() -> list[MerchantConfig]:
    return [
        MerchantConfig(
            name="Demo Refurb", token="sandbox-demo-token", company="DemoRefurb"
        )
    ]


class SandboxConfig(BaseModel):
    """Everything the sandbox needs to start; defaults behave like Back Market."""

    merchants: list[MerchantConfig] = Field(default_factory=_default_merchants)
    limits: SandboxLimits = SandboxLimits()
    time_scale: float = Field(default=1.0, gt=0)
    seed: int = 42
    catalog_size: int = Field(default=60, ge=0)
    market: MarketConfig = MarketConfig()
    task_delay_s: float = Field(default=120, ge=0)
    faults: list[FaultRule] = Field(default_factory=list)
    # When set, /_sandbox/ calls need the header `X-Sandbox-Admin: <admin_token>`.
    admin_token: str | None = None
    # Added to order, orderline and care-folder ids, so that a sandbox started
    # again does not reuse the ids an earlier one handed to the same database.
    id_base: int = Field(default=0, ge=0)
