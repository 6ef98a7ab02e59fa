"""`bmsync codec-server`: decrypt payloads for the Temporal UI and CLI of a key holder.

It serves Temporal's remote codec protocol: `POST /encode` and `POST /decode`, each
taking and answering `{"payloads": [...]}` in protobuf JSON (base64 metadata and
data). Anyone who can reach it can read every payload, so it listens on localhost
unless told otherwise.
"""

from collections.abc import Sequence
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from bmsync.commands._tables import make_console
from runtime.codec import EncryptionCodec, PayloadKeyError, load_keys
from runtime.settings import Settings, get_settings

out = make_console()


def register(app: typer.Typer) -> None:
    """Add the `codec-server` command to the CLI."""
    app.command("codec-server")(codec_server)


def codec_server(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8081,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    ui_origin: Annotated[
        list[str] | None,
        typer.Option(help="Origin of a Temporal UI allowed to call it; repeatable."),
    ] = None,
) -> None:
    """Serve the payload codec so the Temporal UI shows decrypted payloads."""
    settings = get_settings()
    codec = settings_codec(settings)
    origins = ui_origin or [settings.ui_url()]
    out.print(
        f"codec server on [bold]http://{host}:{port}[/bold], key "
        f"{codec.current_key_id}, for {', '.join(origins)}"
    )
    uvicorn.run(create_codec_app(codec, origins), host=host, port=port)


def settings_codec(settings: Settings) -> EncryptionCodec:
    """The codec holding the keys these settings name."""
    configured = settings.payload_key
    return EncryptionCodec(
        load_keys(
            configured.get_secret_value() if configured else None, settings.state_dir
        )
    )


def create_codec_app(codec: PayloadCodec, origins: Sequence[str]) -> FastAPI:
    """The remote codec endpoints, callable from the browser at `origins`."""
    app = FastAPI(title="bmsync payload codec", docs_url=None, redoc_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["POST"],
        # The UI names the namespace in X-Namespace and may send its credentials.
        allow_headers=["Content-Type", "X-Namespace", "Authorization"],
        allow_credentials=True,
    )

    @app.post("/encode")
    async def encode(request: Request) -> dict[str, object]:
        payloads = await _payloads_of(request)
        return _as_json(await codec.encode(payloads.payloads))

    @app.post("/decode")
    async def decode(request: Request) -> dict[str, object]:
        payloads = await _payloads_of(request)
        try:
            decoded = await codec.decode(payloads.payloads)
        except PayloadKeyError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        return _as_json(decoded)

    return app


async def _payloads_of(request: Request) -> Payloads:
    body = await request.body()
    try:
        return json_format.Parse(body, Payloads())
    except (json_format.ParseError, UnicodeDecodeError) as exc:
        raise HTTPException(
            status_code=400, detail=f"not a JSON list of payloads: {exc}"
        ) from None


def _as_json(payloads: Sequence[Payload]) -> dict[str, object]:
    return json_format.MessageToDict(Payloads(payloads=payloads))
