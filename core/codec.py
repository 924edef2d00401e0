"""Payload encryption for Temporal: AES-256-GCM with key ids, so keys can be rotated.

Every payload leaving a client or worker (workflow inputs, update arguments and results, activity
inputs, query results, failure details) is encrypted before it reaches the Temporal server; the
server and its database only ever see ciphertext. Search attributes are not payloads and are
never encrypted, which is why they hold no personal data.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

ENCODING = b"binary/encrypted-aes-gcm"
_NONCE = 12


class CodecError(ValueError):
    """A payload cannot be decrypted (unknown key id, tampered data)."""


def parse_key(text: str) -> bytes:
    """A 256-bit key from its base64 text (as kept in settings)."""
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        raise CodecError("an encryption key must be base64") from None
    if len(key) != 32:
        raise CodecError("an encryption key must be 32 bytes (AES-256)")
    return key


def new_key() -> str:
    """A fresh random key, base64 (for `ASYLUMFLOW_ENCRYPTION_KEY`)."""
    return base64.b64encode(os.urandom(32)).decode()


class EncryptionCodec(PayloadCodec):
    """Encrypts with the current key; decrypts with any key it knows (old ones after rotation)."""

    def __init__(self, key_id: str, keys: Mapping[str, bytes]) -> None:
        if key_id not in keys:
            raise CodecError(f"no key with id {key_id!r}")
        self.key_id = key_id
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload whole (metadata included), tagged with the key id."""
        cipher = self._ciphers[self.key_id]
        out = []
        for payload in payloads:
            nonce = os.urandom(_NONCE)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), self.key_id.encode())
            out.append(
                Payload(
                    metadata={"encoding": ENCODING, "encryption-key-id": self.key_id.encode()},
                    data=nonce + sealed,
                )
            )
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt what this codec encrypted; pass anything else through unchanged."""
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                out.append(payload)
                continue
            key_id = payload.metadata.get("encryption-key-id", b"").decode()
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise CodecError(f"payload encrypted with unknown key id {key_id!r}")
            try:
                plain = cipher.decrypt(
                    payload.data[:_NONCE], payload.data[_NONCE:], key_id.encode()
                )
            except Exception as exc:  # InvalidTag: tampered or wrong key
                raise CodecError("payload failed authentication") from exc
            decoded = Payload()
            decoded.ParseFromString(plain)
            out.append(decoded)
        return out


def make_codec(key_id: str, current: str, old: Iterable[str] = ()) -> EncryptionCodec:
    """A codec from settings: the current key (base64) and old `id:key` entries still decrypting."""
    keys = {key_id: parse_key(current)}
    for entry in old:
        kid, sep, text = entry.partition(":")
        if not sep:
            raise CodecError("old keys are written `<key id>:<base64 key>`")
        keys[kid] = parse_key(text)
    return EncryptionCodec(key_id, keys)


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """The pydantic data converter, encrypting payloads and failure messages when given a codec."""
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        # Failure messages and stack traces can quote payload data: encode them too.
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
