"""What a process needs running: a database and Temporal, embedded or configured."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

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
