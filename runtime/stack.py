"""What a process needs running: a database and Temporal, embedded or configured."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from temporalio.client import Client

from database.migrate import upgrade
from runtime.embedded import (
    EmbeddedPostgres,
    EmbeddedTemporal,
    StartError,
    stop_process_group,
)
from runtime.settings import Settings
from runtime.temporal import connect

log = logging.getLogger(__name__)

T = TypeVar("T")

# How often a watched part is looked at: the SDK starts warning about a Temporal that
# went away after a few seconds of retries.
WATCH_INTERVAL_S = 0.5


def embedded_temporal(
    settings: Settings, ui_codec_endpoint: str | None = None
) -> EmbeddedTemporal:
    """The embedded dev server of the settings' state directory and ports."""
    return EmbeddedTemporal(
        settings.state_dir / "temporal",
        port=settings.temporal_port,
        ui_port=settings.temporal_ui_port,
        namespace=settings.temporal_namespace,
        ui_codec_endpoint=ui_codec_endpoint,
    )


def stop_leftovers(settings: Settings) -> list[str]:
    """Stop the embedded Temporal and Postgres a killed process left running on the
    settings' state directory; say what was stopped, e.g. `temporal (pid 12)`.

    The caller owns the state directory, so nothing else may be using them.
    """
    stopped = []
    temporal = embedded_temporal(settings)
    leftover = temporal.owner_pid()
    if leftover is not None:
        stop_process_group(leftover)
        temporal.pid_file.unlink(missing_ok=True)
        stopped.append(f"temporal (pid {leftover})")
    pid = EmbeddedPostgres(settings.state_dir / "postgres").stop_leftover()
    if pid is not None:
        stopped.append(f"postgres (pid {pid})")
    return stopped


def with_state_dir(settings: Settings, state_dir: Path) -> Settings:
    """The same settings on another state directory."""
    return settings.model_copy(update={"state_dir": state_dir})


class PartStopped(StartError):
    """A part this process runs on stopped on its own; the message says which."""


async def while_parts_run(
    main: Coroutine[Any, Any, T],
    parts: Mapping[str, Callable[[], str | None]],
    on_stopped: Callable[[str], None],
) -> T:
    """Run `main` while every part runs; `parts` tells how each stopped, or None.

    Should one stop first, `on_stopped` is told which and how at once, `main` is
    cancelled and left to wind down, and PartStopped raised.
    """
    main_task = asyncio.create_task(main)
    watch_task = asyncio.create_task(_first_stopped(parts))
    try:
        await asyncio.wait({main_task, watch_task}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        main_task.cancel()
        watch_task.cancel()
        raise
    if main_task.done():
        watch_task.cancel()
        return main_task.result()
    stopped = watch_task.result()
    on_stopped(stopped)
    main_task.cancel()
    await asyncio.wait({main_task})
    # Winding down without the part may fail too; the part is the cause.
    error = None if main_task.cancelled() else main_task.exception()
    raise PartStopped(stopped) from error


async def _first_stopped(parts: Mapping[str, Callable[[], str | None]]) -> str:
    while True:
        for name, stopped in parts.items():
            how = stopped()
            if how is not None:
                return f"{name} {how}"
        await asyncio.sleep(WATCH_INTERVAL_S)


class NotRunning(StartError):
    """A part a command needs is not running, and the command does not start it."""


async def running_temporal(settings: Settings) -> Client:
    """A client of the configured Temporal, or of the embedded one already running.

    Only the embedded server of this state directory counts: another one on the same
    port belongs to another setup, with its own payload key.
    """
    address = settings.temporal_address
    if address is None:
        embedded = embedded_temporal(settings)
        if embedded.owner_pid() is None or not await embedded.is_serving():
            raise NotRunning("the stack is not running: start it with `bmsync up`")
        address = embedded.address
    try:
        return await connect(address, settings.temporal_namespace, settings)
    except RuntimeError as exc:
        # What the Temporal client raises when it cannot connect.
        raise NotRunning(f"cannot reach Temporal at {address}: {exc}") from None


class Stack:
    """Finds or starts Postgres and Temporal; stops on exit only what it started."""

    def __init__(
        self,
        settings: Settings,
        *,
        with_temporal: bool = True,
        ui_codec_endpoint: str | None = None,
        adopt: bool = False,
        on_new_database: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.with_temporal = with_temporal
        # The owner of the embedded parts (bmsync up) stops leftovers on exit too.
        self.adopt = adopt
        self.postgres = EmbeddedPostgres(
            settings.state_dir / "postgres", on_create=on_new_database
        )
        self.temporal = embedded_temporal(settings, ui_codec_endpoint)
        self.database_url = ""
        self.temporal_address = ""
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        assert self._client is not None, "the stack has no Temporal client"
        return self._client

    @property
    def embedded_temporal(self) -> bool:
        return self.settings.temporal_address is None

    def watched(self) -> dict[str, Callable[[], str | None]]:
        """The embedded parts, each with how it stopped (None while it runs, or
        while it is not this process's to run)."""
        parts = {}
        if self.settings.database_url is None:
            parts["the embedded Postgres"] = self.postgres.stopped
        if self.with_temporal and self.embedded_temporal:
            parts["the embedded Temporal"] = self.temporal.stopped
        return parts

    async def __aenter__(self) -> Stack:
        try:
            self.database_url = self.settings.database_url or self.postgres.start(
                adopt=self.adopt
            )
            upgrade(self.database_url)
            if self.with_temporal:
                self.temporal_address = (
                    self.settings.temporal_address
                    or await self.temporal.start(adopt=self.adopt)
                )
                self._client = await connect(
                    self.temporal_address,
                    self.settings.temporal_namespace,
                    self.settings,
                )
        except BaseException:
            self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.temporal.stop()
        self.postgres.stop()
