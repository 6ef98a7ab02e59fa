"""`bmsync demo`: the main job end to end on embedded parts, with a report."""

import asyncio
import shutil
from pathlib import Path
from typing import Annotated

import typer

import starter
import worker
from bmsync.commands._tables import make_console, make_table
from bmsync.commands.codec_cmd import create_codec_app, settings_codec
from bmsync.commands.runtime_cmds import (
    DEMO_DIR,
    LOCK_FILE,
    fail,
    own_state_dir,
    setup_logging,
)
from bmsync.demo import (
    DemoConfig,
    DemoReport,
    DemoWorld,
    demo_sandbox,
    prepare_account,
    run_scenario,
)
from database.session import make_engine, make_session_factory
from runtime.background_server import BackgroundServer
from runtime.embedded import StartError, free_or
from runtime.settings import Settings, get_settings
from runtime.stack import Stack, stop_leftovers, with_state_dir
from sandbox.server import SandboxServer

console = make_console()


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        orders: Annotated[int, typer.Option(min=1, help="Orders to place.")] = 30,
        timeout: Annotated[
            float, typer.Option(help="Seconds to wait for every order.")
        ] = 240.0,
        verbose: bool = False,
    ) -> None:
        """Run the main job against the sandbox on fresh embedded parts; report.

        Always uses its own Postgres and Temporal under the state directory's
        `demo/` folder, started afresh, so that it never touches real data.
        """
        setup_logging(verbose)
        config = DemoConfig(orders=orders, timeout_s=timeout)
        try:
            report = asyncio.run(_demo(get_settings(), config))
        except StartError as exc:
            raise fail(str(exc)) from None
        _print(report)
        if not report.ok:
            raise typer.Exit(1)


async def _demo(settings: Settings, config: DemoConfig) -> DemoReport:
    state_dir = settings.state_dir / DEMO_DIR
    with own_state_dir(state_dir, "bmsync demo"):
        # A demo that was killed left its Postgres and Temporal running on the data
        # about to be wiped, and on the ports this one would use.
        stopped = stop_leftovers(with_state_dir(settings, state_dir))
        if stopped:
            console.print(
                f"stopped what an earlier demo left running: {', '.join(stopped)}"
            )
        _empty(state_dir, keep=LOCK_FILE)
        return await _run_demo(settings, state_dir, config)


def _empty(folder: Path, keep: str) -> None:
    """Remove everything in `folder` but the file named `keep`."""
    for entry in folder.iterdir():
        if entry.name == keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


async def _run_demo(
    settings: Settings, state_dir: Path, config: DemoConfig
) -> DemoReport:
    demo_settings = settings.model_copy(
        update={
            "database_url": None,
            "temporal_address": None,
            "state_dir": state_dir,
            "task_queue": "bmsync-demo",
            "temporal_port": free_or(settings.temporal_port),
            "temporal_ui_port": free_or(settings.temporal_ui_port),
            "temporal_ui_url": None,
        }
    )
    stop = asyncio.Event()
    worker.stop_on_signals(stop)
    console.print(
        "starting Postgres, Temporal and the Back Market sandbox afresh in "
        f"{state_dir.resolve()} ..."
    )
    codec = BackgroundServer(
        create_codec_app(settings_codec(demo_settings), [demo_settings.ui_url()]),
        port=free_or(settings.codec_port),
    )
    async with (
        codec,
        Stack(
            demo_settings,
            ui_codec_endpoint=codec.base_url,
            # New on every run by design, as the line above says.
            on_new_database=lambda notice: None,
        ) as stack,
        SandboxServer(demo_sandbox(config.seed)) as sandbox,
    ):
        console.print(f"Temporal UI: [bold]{demo_settings.ui_url()}[/bold]")
        console.print(f"Sandbox:     {sandbox.base_url}")
        engine = make_engine(stack.database_url)
        world = DemoWorld(
            session_factory=make_session_factory(engine),
            temporal=stack.client,
            task_queue=demo_settings.task_queue,
            sandbox=sandbox.state,
            sandbox_url=sandbox.base_url,
            state_dir=state_dir,
        )
        account_id, skus = prepare_account(world, config)
        console.print(f"account {account_id}: {len(skus)} listings stocked")
        worker_task = asyncio.create_task(worker.run_worker(stack, stop))
        try:
            await starter.apply_for_database(
                stack.client, stack.database_url, demo_settings.task_queue
            )
            return await run_scenario(
                world, account_id, skus, config, progress=console.print
            )
        finally:
            stop.set()
            await worker_task
            engine.dispose()


def _print(report: DemoReport) -> None:
    table = make_table("figure", "value", title="bmsync demo")
    for key, value in report.figures.items():
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)
    if report.ok:
        console.print("[bold green]every figure is right[/bold green]")
        return
    console.print(f"[bold red]{len(report.problems)} problem(s):[/bold red]")
    for problem in report.problems[:50]:
        console.print(f"  - {problem}")
