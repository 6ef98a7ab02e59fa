"""Process settings, read from the environment and an optional `.env` file.

Back Market accounts and their per-account settings live in the database, not here:
these are only what a process needs to find its database and Temporal.
"""

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
        default=Path(".bmsync"), validation_alias=AliasChoices("BMSYNC_STATE_DIR")
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
    # Base64 AES keys for Temporal payloads, the encrypting one first; unset means
    # `<state dir>/payload.key` (see runtime.codec).
    payload_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("BMSYNC_PAYLOAD_KEY")
    )

    def ui_url(self) -> str:
        """Where an operator opens the Temporal UI."""
        if self.temporal_ui_url:
            return self.temporal_ui_url.rstrip("/")
        return f"http://127.0.0.1:{self.temporal_ui_port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
