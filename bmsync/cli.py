"""The `bmsync` command line."""

import typer

from bmsync.commands import runtime_cmds, sandbox_cmd

app = typer.Typer(
    help="Sync a refurbisher's inventory with Back Market, durably, on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

runtime_cmds.register(app)
sandbox_cmd.register(app)
