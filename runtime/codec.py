"""Encrypting every Temporal payload, so histories are unreadable without the key.

Our payloads carry ids and states, never addresses; this is the second line of defence,
for whatever someone adds later. Each payload is encrypted with AES-GCM under the
current key and records that key's id in its metadata. Older keys stay listed for
decryption, so a key can be rotated while histories written under the old one are
still being replayed.

The key comes from BMSYNC_PAYLOAD_KEY (base64 of 32 bytes; several comma-separated,
the first encrypting, the others only decrypting) or, when that is unset, from
`<state dir>/payload.key`, created with mode 0600 on first use. Every process that
shares a Temporal namespace (worker, CLI, starter) needs the same key: across machines,
set the variable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

PAYLOAD_KEY_ENV = "BMSYNC_PAYLOAD_KEY"
PAYLOAD_KEY_FILE = "payload.key"
ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_BYTES = 32
NONCE_BYTES = 12


class PayloadKeyError(ValueError):
    """A payload key is malformed, or a payload does not decrypt with the keys held."""


class EncryptionCodec(PayloadCodec):
    """AES-GCM over whole payloads, with the key id in each payload's metadata."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        """`keys[0]` encrypts; every key in `keys` decrypts what it encrypted."""
        if not keys:
            raise PayloadKeyError("at least one payload key is needed")
        for key in keys:
            if len(key) != KEY_BYTES:
                raise PayloadKeyError(
                    f"a payload key must be {KEY_BYTES} bytes, not {len(key)}"
                )
        self._ciphers = {key_id(key): AESGCM(key) for key in keys}
        self.current_key_id = key_id(keys[0])

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        kid = self.current_key_id
        nonce = os.urandom(NONCE_BYTES)
        # The key id is authenticated too, so it cannot be swapped for another.
        sealed = self._ciphers[kid].encrypt(
            nonce, payload.SerializeToString(), kid.encode()
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: kid.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        """The original payload; one that was never encrypted passes unchanged.

        Histories written before encryption was turned on must still replay.
        """
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        kid = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            held = ", ".join(sorted(self._ciphers))
            raise PayloadKeyError(
                f"payload encrypted with key {kid or '(none)'}; this process holds "
                f"{held} (set {PAYLOAD_KEY_ENV} to include the key it was written with)"
            )
        data = payload.data
        try:
            if len(data) < NONCE_BYTES:
                raise InvalidTag
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], kid.encode())
        except InvalidTag:
            raise PayloadKeyError(
                f"payload under key {kid} does not decrypt: altered or truncated"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


def key_id(key: bytes) -> str:
    """A short, stable name for a key that does not reveal it."""
    return hashlib.sha256(b"bmsync-payload-key:" + key).hexdigest()[:12]


def generate_key() -> str:
    """A new key in the form BMSYNC_PAYLOAD_KEY takes."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def parse_keys(text: str) -> list[bytes]:
    """Comma-separated base64 keys, the encrypting one first."""
    keys = []
    for position, part in enumerate(p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            key = base64.b64decode(part, validate=True)
        except (binascii.Error, ValueError):
            # Without the cause or the text: it is the key.
            raise PayloadKeyError(
                f"payload key {position + 1} is not valid base64"
            ) from None
        if len(key) != KEY_BYTES:
            raise PayloadKeyError(
                f"payload key {position + 1} is {len(key)} bytes, not {KEY_BYTES}"
            )
        keys.append(key)
    if not keys:
        raise PayloadKeyError("no payload key given")
    return keys


def load_keys(configured: str | None, state_dir: Path) -> list[bytes]:
    """The configured keys, else the state dir's key file, created on first use."""
    if configured:
        return parse_keys(configured)
    path = state_dir / PAYLOAD_KEY_FILE
    if path.exists():
        return parse_keys(path.read_text())
    state_dir.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    # Written whole under another name with 0600 from the start, then linked into
    # place: a process starting at the same moment sees either no file or all of it.
    partial = state_dir / f".{PAYLOAD_KEY_FILE}.{os.getpid()}"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    try:
        os.link(partial, path)
    except FileExistsError:
        # Another process created it first: use theirs.
        return parse_keys(path.read_text())
    finally:
        partial.unlink()
    return parse_keys(key)
