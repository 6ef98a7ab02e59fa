"""Reading every payload out of a workflow history, raw or through a codec."""

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadCodec


def payloads_in(message: Message) -> list[Payload]:
    """Every `Payload` anywhere in `message`: inputs, results, failures, memos."""
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        if field.message_type.GetOptions().map_entry:
            items = list(value.values())
        elif field.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, Payload):
                found.append(item)
            elif isinstance(item, Message):
                found.extend(payloads_in(item))
    return found


def history_proto(history: WorkflowHistory) -> History:
    return History(events=history.events)


async def history_text(history: WorkflowHistory, codec: PayloadCodec | None) -> str:
    """The history as JSON, then every payload's data as text, decoded by `codec`.

    Payload data is base64 in the JSON, so a name inside a payload would not show in
    the JSON alone: the data is appended in the clear (or as decrypted).
    """
    proto = history_proto(history)
    payloads = payloads_in(proto)
    if codec is not None:
        payloads = await codec.decode(payloads)
    texts = [json_format.MessageToJson(proto)]
    for payload in payloads:
        texts.append(payload.data.decode("utf-8", errors="replace"))
    return "\n".join(texts)
