"""Connecting to Temporal with the data converter every worker and client shares."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter


def data_converter() -> DataConverter:
    """Pydantic models in and out of workflows, for worker and clients alike."""
    return pydantic_data_converter


async def connect(address: str, namespace: str) -> Client:
    return await Client.connect(
        address, namespace=namespace, data_converter=data_converter()
    )
