"""Process settings, read from the environment and an optional `.env` file.

Back Market accounts and their per-account settings live in the database, not here:
these are only what a process needs to find its database and Temporal.
"""

import re
from functools import lru_cache
from pathlib import Path

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.text import error_message

STATE_DIR_NAME = ".bmsync"


def nearest_state_dir(start: Path | None = None) -> Path:
    """The first `.bmsync` folder in the current directory or one of its parents,
    as git finds `.git`; `./.bmsync` when there is none.

    A command run from a subdirectory thus uses the embedded parts and keys of the
    checkout it is in, rather than new, empty ones of its own.
    """
    here = start or Path.cwd()
    for folder in (here, *here.parents):
        candidate = folder / STATE_DIR_NAME
        if candidate.is_dir():
            return candidate
    return here / STATE_DIR_NAME


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL")
    )
    temporal_address: str | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = Field(
        default="default", validation_alias=AliasChoices("TEMPORAL_NAMESPACE")
    )
    task_queue: str = Field(
        default="bmsync", validation_alias=AliasChoices("BMSYNC_TASK_QUEUE")
    )
    state_dir: Path = Field(
        default_factory=nearest_state_dir,
        validation_alias=AliasChoices("BMSYNC_STATE_DIR"),
    )
    temporal_port: int = Field(
        default=7233, validation_alias=AliasChoices("BMSYNC_TEMPORAL_PORT")
    )
    temporal_ui_port: int = Field(
        default=8233, validation_alias=AliasChoices("BMSYNC_TEMPORAL_UI_PORT")
    )
    temporal_ui_url: str | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_UI_URL")
    )
    codec_port: int = Field(
        default=8081, validation_alias=AliasChoices("BMSYNC_CODEC_PORT")
    )
    sandbox_port: int = Field(
        default=8600, validation_alias=AliasChoices("BMSYNC_SANDBOX_PORT")
    )
    shutdown_grace_seconds: float = Field(
        default=30.0, validation_alias=AliasChoices("BMSYNC_SHUTDOWN_GRACE_SECONDS")
    )
    # The User-Agent Back Market asks of every request: BM-<company>-Sync;<email>.
    company: str = Field(
        default="Bmsync", validation_alias=AliasChoices("BMSYNC_COMPANY")
    )
    contact_email: str | None = Field(
        default=None, validation_alias=AliasChoices("BMSYNC_CONTACT_EMAIL")
    )
    # Base64 AES keys for Temporal payloads, the encrypting one first; unset means
    # `<state dir>/payload.key` (see runtime.codec).
    payload_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("BMSYNC_PAYLOAD_KEY")
    )

    @field_validator("company")
    @classmethod
    def _one_word(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9]+", value):
            raise ValueError("letters and digits only, e.g. AcmeRefurb")
        return value

    @field_validator("contact_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@;\s]+@[^@;\s]+", value):
            raise ValueError("an email address, e.g. ops@acme.example")
        return value

    def ui_url(self) -> str:
        """Where an operator opens the Temporal UI."""
        if self.temporal_ui_url:
            return self.temporal_ui_url.rstrip("/")
        return f"http://127.0.0.1:{self.temporal_ui_port}"


class SettingsError(ValueError):
    """A process setting that cannot be used; the message names each variable."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        # Name the variables, never their values: some are passwords and keys.
        problems = [
            f"{'.'.join(str(part) for part in error['loc'])}: {error_message(error)}"
            for error in exc.errors()
        ]
        raise SettingsError("; ".join(problems)) from None
