"""The `bmsync sandbox` command: a stand-in Back Market served on this machine."""

from pathlib import Path
from typing import Annotated

import typer

from bmsync.commands._tables import make_console, make_table
from sandbox.config import MarketConfig, MerchantConfig, SandboxConfig
from sandbox.server import run

console = make_console()


def register(app: typer.Typer) -> None:
    """Add the `sandbox` command to the CLI."""
    app.command("sandbox")(sandbox)


def sandbox(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8600,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    seed: Annotated[int | None, typer.Option(help="Seed of the catalog.")] = None,
    merchants: Annotated[
        int | None, typer.Option(help="How many merchants to make up.", min=1)
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="A JSON file of SandboxConfig; options override it."),
    ] = None,
    time_scale: Annotated[
        float | None, typer.Option(help="0.01 makes every window 100x shorter.")
    ] = None,
    orders_per_minute: Annotated[
        float | None, typer.Option(help="Simulated orders a minute; 0 for none.")
    ] = None,
) -> None:
    """Serve a Back Market sandbox with made-up merchants, listings and customers."""
    settings = _load(config)
    if seed is not None:
        settings.seed = seed
    if merchants is not None:
        settings.merchants = _made_up_merchants(merchants)
    if time_scale is not None:
        settings.time_scale = time_scale
    if orders_per_minute is not None:
        settings.market = MarketConfig(
            **{
                **settings.market.model_dump(),
                "orders_per_minute": orders_per_minute,
                "enabled": orders_per_minute > 0,
            }
        )
    _show(settings, host, port)
    run(settings, host=host, port=port)


def _load(path: Path | None) -> SandboxConfig:
    if path is None:
        return SandboxConfig(market=MarketConfig(enabled=True))
    try:
        return SandboxConfig.model_validate_json(path.read_text())
    except (OSError, ValueError) as error:
        raise typer.BadParameter(f"{path}: {error}") from error


def _made_up_merchants(count: int) -> list[MerchantConfig]:
    platforms = ("eu", "us", "ap")
    return [
        MerchantConfig(
            name=f"Merchant {n}",
            token=f"sandbox-token-{n}",
            platform=platforms[(n - 1) % len(platforms)],
            company=f"Refurb{n}",
        )
        for n in range(1, count + 1)
    ]


def _show(settings: SandboxConfig, host: str, port: int) -> None:
    console.print(f"Back Market sandbox on [bold]http://{host}:{port}[/bold]")
    table = make_table("merchant", "platform", "token (made up)")
    for merchant in settings.merchants:
        table.add_row(merchant.name, merchant.platform, merchant.token)
    console.print(table)
    market = settings.market
    rate = f"{market.orders_per_minute:g}/min" if market.enabled else "off"
    console.print(
        f"seed {settings.seed}, time scale {settings.time_scale:g}, market {rate}; "
        f"admin API under /_sandbox/ (docs at /_sandbox/docs)"
    )
