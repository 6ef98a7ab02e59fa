"""The `bmsync` command line."""

import logging

import typer

from bmsync.commands import (
    accounts,
    api_cmd,
    catalog,
    codec_cmd,
    demo_cmd,
    doctor,
    inventory,
    listings,
    log,
    orders,
    pricing,
    quantities,
    returns,
    runtime_cmds,
    sandbox_cmd,
    settings_cmd,
)
from bmsync.commands._db import fail, stop_started_parts
from bmsync.commands._text import TextCheckedGroup
from runtime.logs import CORE_LOGGER
from runtime.process import run_then_exit
from runtime.settings import SettingsError, get_settings

app = typer.Typer(
    cls=TextCheckedGroup,
    help="Sync a refurbisher's inventory with Back Market, durably, on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def check_settings(ctx: typer.Context) -> None:
    """Refuse a bad environment before any command acts on it."""
    try:
        get_settings()
    except SettingsError as exc:
        fail(f"bad setting in the environment or .env: {exc}", 2)
    # However the command ends, it leaves the parts as it found them.
    ctx.call_on_close(stop_started_parts)


runtime_cmds.register(app)
sandbox_cmd.register(app)
codec_cmd.register(app)
demo_cmd.register(app)
app.add_typer(accounts.app, name="accounts")
app.add_typer(settings_cmd.app, name="settings")
app.add_typer(inventory.app, name="inventory")
app.add_typer(catalog.app, name="catalog")
app.add_typer(doctor.app, name="doctor")
log.register(app)
app.add_typer(orders.app, name="orders")
app.add_typer(listings.app, name="listings")
app.add_typer(quantities.app, name="quantities")
app.add_typer(pricing.app, name="pricing")
app.add_typer(returns.app, name="returns")
api_cmd.register(app)


def main() -> None:
    """The `bmsync` command."""
    # A command that waits on Temporal says itself what came of it; the core's
    # retry warnings on the way would bury that line. Long-running commands turn
    # them back on (setup_logging).
    logging.getLogger(CORE_LOGGER).setLevel(logging.ERROR)
    run_then_exit(app)
