"""Connecting to Temporal with the data converter every worker and client shares."""

import dataclasses
import functools
import logging

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
)
from temporalio.exceptions import ApplicationError
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from runtime.codec import EncryptionCodec, load_keys
from runtime.logs import CORE_LOGGER
from runtime.settings import Settings, get_settings


def data_converter(settings: Settings | None = None) -> DataConverter:
    """Pydantic models in and out of workflows, encrypted, for worker and clients.

    Failure messages and stack traces are moved into the encrypted attributes too: an
    error may quote what it failed on.
    """
    settings = settings or get_settings()
    configured = settings.payload_key
    keys = load_keys(
        configured.get_secret_value() if configured else None, settings.state_dir
    )
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(
    address: str, namespace: str, settings: Settings | None = None
) -> Client:
    return await Client.connect(
        address,
        namespace=namespace,
        data_converter=data_converter(settings),
        runtime=_runtime(),
    )


@functools.cache
def _runtime() -> Runtime:
    """The SDK's core, its lines sent through this process's logging rather than
    written to stderr on their own, so a command can keep its retries quiet."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(
                    logger=logging.getLogger(CORE_LOGGER),
                    append_log_fields_to_message=False,
                ),
            )
        )
    )


def failure_reason(exc: BaseException) -> str:
    """The innermost failure's message: the rule or answer that stopped a run."""
    cause: BaseException = exc
    while True:
        inner = getattr(cause, "cause", None) or cause.__cause__
        if inner is None:
            break
        cause = inner
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause)
