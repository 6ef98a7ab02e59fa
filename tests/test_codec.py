"""The payload codec: encryption, keys and rotation, histories, the codec server."""

import base64
import stat
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from bmsync.commands.codec_cmd import create_codec_app
from domain.orders import LineObserved, OrderObserved
from runtime.codec import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadKeyError,
    generate_key,
    key_id,
    load_keys,
    parse_keys,
)
from runtime.settings import Settings
from runtime.temporal import data_converter
from tests.payloads import history_proto, history_text, payloads_in
from tests.world import TOKEN, TOKEN_VARIABLE, World, make_world

UI_ORIGIN = "http://127.0.0.1:8233"


def codec_for(*keys: str) -> EncryptionCodec:
    return EncryptionCodec([base64.b64decode(key) for key in keys])


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_a_payload_comes_back_as_it_went_in_and_is_unreadable_between() -> None:
    codec = codec_for(generate_key())
    original = [plain("Jeanne Dupont"), plain(""), Payload()]

    encoded = await codec.encode(original)
    decoded = await codec.decode(encoded)

    assert decoded == original
    for payload in encoded:
        assert payload.metadata["encoding"] == ENCODING
        assert payload.metadata[KEY_ID_METADATA] == codec.current_key_id.encode()
        assert b"Dupont" not in payload.SerializeToString()
    # A fresh nonce each time: the same value never encrypts the same way twice.
    again = await codec.encode(original[:1])
    assert again[0].data != encoded[0].data


async def test_another_key_fails_naming_the_key_it_needs() -> None:
    writer, reader = codec_for(generate_key()), codec_for(generate_key())
    [encoded] = await writer.encode([plain("x")])

    with pytest.raises(PayloadKeyError) as refused:
        await reader.decode([encoded])

    message = str(refused.value)
    assert writer.current_key_id in message and reader.current_key_id in message
    assert "BMSYNC_PAYLOAD_KEY" in message


async def test_an_altered_payload_or_key_id_does_not_decrypt() -> None:
    codec = codec_for(generate_key())
    [encoded] = await codec.encode([plain("x")])
    flipped = Payload(
        metadata=dict(encoded.metadata),
        data=encoded.data[:-1] + bytes([encoded.data[-1] ^ 1]),
    )
    truncated = Payload(metadata=dict(encoded.metadata), data=encoded.data[:5])

    for bad in (flipped, truncated):
        with pytest.raises(PayloadKeyError, match="does not decrypt"):
            await codec.decode([bad])


async def test_a_rotated_key_reads_old_payloads_and_writes_new_ones() -> None:
    old, new = generate_key(), generate_key()
    [written_before] = await codec_for(old).encode([plain("before")])
    rotated = codec_for(new, old)

    [read] = await rotated.decode([written_before])
    [written_after] = await rotated.encode([plain("after")])

    assert read == plain("before")
    assert (
        written_after.metadata[KEY_ID_METADATA]
        == key_id(base64.b64decode(new)).encode()
    )
    with pytest.raises(PayloadKeyError):
        await codec_for(old).decode([written_after])


async def test_a_payload_written_before_encryption_passes_through() -> None:
    codec = codec_for(generate_key())
    assert await codec.decode([plain("old")]) == [plain("old")]


def test_bad_keys_are_refused_without_quoting_them() -> None:
    short = base64.b64encode(b"k" * 16).decode()
    cases = {
        "not-base64!!": "not valid base64",
        short: "16 bytes",
        " , ": "no payload key",
    }
    for text, reason in cases.items():
        with pytest.raises(PayloadKeyError, match=reason) as refused:
            parse_keys(text)
        if text.strip(" ,"):
            assert text not in str(refused.value)


def test_the_key_file_is_created_private_once_and_reused(tmp_path: Path) -> None:
    first = load_keys(None, tmp_path / "state")
    again = load_keys(None, tmp_path / "state")

    key_file = tmp_path / "state" / "payload.key"
    assert first == again and len(first[0]) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert list((tmp_path / "state").iterdir()) == [key_file]

    configured = generate_key()
    assert load_keys(configured, tmp_path / "state") == parse_keys(configured)


async def test_the_data_converter_takes_its_key_from_settings(tmp_path: Path) -> None:
    key = generate_key()
    settings = Settings().model_copy(
        update={"payload_key": SecretStr(key), "state_dir": tmp_path}
    )
    converter = data_converter(settings)
    model = OrderObserved(
        order_id=7, state=1, lines=[LineObserved(orderline_id=8, state=1, sku="S-1")]
    )

    [encoded] = await converter.encode([model])
    [back] = await data_converter(settings).decode([encoded], [OrderObserved])

    assert encoded.metadata[KEY_ID_METADATA] == codec_for(key).current_key_id.encode()
    assert b"S-1" not in encoded.data
    assert back == model
    assert not (tmp_path / "payload.key").exists()


async def test_failure_messages_ride_encrypted(tmp_path: Path) -> None:
    settings = Settings().model_copy(
        update={"payload_key": SecretStr(generate_key()), "state_dir": tmp_path}
    )
    converter = data_converter(settings)
    failure = Failure()

    await converter.encode_failure(
        ApplicationError("refused for Jeanne Dupont", type="BadData"), failure
    )

    assert "Dupont" not in failure.message
    assert b"Dupont" not in failure.SerializeToString()
    decoded = await converter.decode_failure(failure)
    assert "Jeanne Dupont" in str(decoded)


# --- a workflow's history ---------------------------------------------------------


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
    workflow_env: WorkflowEnvironment,
    task_queue: str,
) -> World:
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    return make_world(session_factory, workflow_env.client, task_queue)


async def test_a_history_read_without_the_key_shows_only_ciphertext(
    world: World,
) -> None:
    sku = world.skus[0]
    order_id = world.place_order((sku, 1))

    async with world.worker():
        await world.run_import()
        await world.wait_for(order_id, lambda s: s.phase == "validated")

    codec = world.client.data_converter.payload_codec
    assert codec is not None
    without_key = Client(
        **{**world.client.config(), "data_converter": pydantic_data_converter}
    )
    handle = without_key.get_workflow_handle(world.order_handle(order_id).id)
    history = await handle.fetch_history()

    payloads = payloads_in(history_proto(history))
    assert payloads, "the order workflow's history holds no payload at all"
    assert all(p.metadata["encoding"] == ENCODING for p in payloads)
    raw = await history_text(history, None)
    decoded = await history_text(history, codec)
    assert sku not in raw and f'"order_id":{order_id}' not in raw
    assert f'"sku":"{sku}"' in decoded and f'"order_id":{order_id}' in decoded


# --- the codec server -------------------------------------------------------------


def codec_server(codec: EncryptionCodec) -> httpx.AsyncClient:
    app = create_codec_app(codec, [UI_ORIGIN])
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://codec.test"
    )


def as_json(*payloads: Payload) -> dict[str, object]:
    return {
        "payloads": [
            {
                "metadata": {
                    k: base64.b64encode(v).decode() for k, v in p.metadata.items()
                },
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


def from_json(body: dict[str, list[dict[str, object]]]) -> list[Payload]:
    return [
        Payload(
            metadata={
                str(k): base64.b64decode(str(v))
                for k, v in dict(item.get("metadata", {})).items()  # type: ignore[call-overload]
            },
            data=base64.b64decode(str(item.get("data", ""))),
        )
        for item in body["payloads"]
    ]


async def test_the_codec_server_encodes_and_decodes_over_http() -> None:
    codec = codec_for(generate_key())
    original = [plain("Jeanne Dupont"), plain("42")]

    async with codec_server(codec) as http:
        encoded = await http.post(
            "/encode", json=as_json(*original), headers={"X-Namespace": "default"}
        )
        assert encoded.status_code == 200, encoded.text
        assert "Dupont" not in encoded.text
        ciphertext = from_json(encoded.json())
        decoded = await http.post("/decode", json=as_json(*ciphertext))

    assert decoded.status_code == 200, decoded.text
    assert from_json(decoded.json()) == original
    assert await codec.decode(ciphertext) == original


async def test_the_codec_server_lets_the_ui_origin_call_it_and_no_other() -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    async with codec_server(codec_for(generate_key())) as http:
        allowed = await http.options(
            "/decode", headers={**preflight, "Origin": UI_ORIGIN}
        )
        other = await http.options(
            "/decode", headers={**preflight, "Origin": "http://evil.test"}
        )

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
    assert "x-namespace" in allowed.headers["access-control-allow-headers"].lower()
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers


async def test_the_codec_server_refuses_bad_bodies_and_foreign_payloads() -> None:
    [foreign] = await codec_for(generate_key()).encode([plain("x")])
    async with codec_server(codec_for(generate_key())) as http:
        not_json = await http.post("/decode", content=b"<html>")
        wrong_shape = await http.post("/decode", json={"payloads": "nope"})
        wrong_key = await http.post("/decode", json=as_json(foreign))

    assert not_json.status_code == 400 and wrong_shape.status_code == 400
    assert wrong_key.status_code == 422
    assert "key" in wrong_key.json()["detail"]
