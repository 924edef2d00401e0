"""Sealing special-category detail kept in SQL (GDPR Art 9: health, age assessment, detention).

The workflow never sees such detail (issue #19): only the flags its rules need reach it. The
detail itself is kept in read-model tables, and where `ASYLUMFLOW_ENCRYPTION_KEY` is set it is
sealed there with AES-GCM, so that a copy of the database yields no diagnosis or detention
ground. The sealing key is derived from the payload key (as the action-signing key is), one per
key id, so that rotating the payload key (`ASYLUMFLOW_ENCRYPTION_OLD_KEYS`) keeps old rows
readable. Each value is bound to its column (`purpose`, the AES-GCM associated data): a sealed
value copied into another column does not open.

Without a key (development) values are stored as given: `unseal` returns them unchanged, and
also opens sealed values once a key is configured, so a database that started in the clear can
be sealed later by rewriting its rows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.codec import CodecError, parse_key
from core.settings import Settings, get_settings

PREFIX = "sealed:v1:"
"""Marks a sealed value: `sealed:v1:<key id>:<base64 nonce + ciphertext>`."""

_NONCE = 12


def _field_key(codec_key: bytes) -> bytes:
    # A key of its own: the payload key never encrypts anything but payloads.
    return hmac.new(codec_key, b"asylumflow sql field sealing v1", hashlib.sha256).digest()


class Sealer:
    """Seals with the current key; opens with any key it knows (old ones after rotation)."""

    def __init__(self, key_id: str, keys: Mapping[str, bytes]) -> None:
        if key_id not in keys:
            raise CodecError(f"no key with id {key_id!r}")
        self.key_id = key_id
        self._ciphers = {kid: AESGCM(_field_key(key)) for kid, key in keys.items()}

    def seal(self, value: str, purpose: str) -> str:
        """`value` sealed for the column `purpose` (e.g. "detention.ground")."""
        nonce = os.urandom(_NONCE)
        sealed = self._ciphers[self.key_id].encrypt(nonce, value.encode(), purpose.encode())
        return f"{PREFIX}{self.key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def unseal(self, stored: str, purpose: str) -> str:
        """The value behind `stored`; a value stored in the clear is returned as it is."""
        if not stored.startswith(PREFIX):
            return stored
        key_id, _, text = stored[len(PREFIX) :].partition(":")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecError(f"value sealed with unknown key id {key_id!r}")
        raw = base64.b64decode(text)
        try:
            return cipher.decrypt(raw[:_NONCE], raw[_NONCE:], purpose.encode()).decode()
        except InvalidTag:  # tampered, or moved from another column
            raise CodecError(f"sealed value for {purpose!r} failed authentication") from None


def sealer(settings: Settings | None = None) -> Sealer | None:
    """The sealer for these settings (default: the process's), or None without a key."""
    settings = settings or get_settings()
    if settings.encryption_key is None:
        return None
    keys = {settings.encryption_key_id: parse_key(settings.encryption_key.get_secret_value())}
    for entry in settings.encryption_old_keys:
        kid, sep, text = entry.get_secret_value().partition(":")
        if sep:
            keys[kid] = parse_key(text)
    return Sealer(settings.encryption_key_id, keys)


def seal(value: str | None, purpose: str, settings: Settings | None = None) -> str | None:
    """`value` as it is to be stored: sealed where a key is set, else unchanged."""
    if value is None:
        return None
    box = sealer(settings)
    return value if box is None else box.seal(value, purpose)


def unseal(stored: str | None, purpose: str, settings: Settings | None = None) -> str | None:
    """The value behind what is stored (sealed or in the clear)."""
    if stored is None or not stored.startswith(PREFIX):
        return stored
    box = sealer(settings)
    if box is None:
        raise CodecError(f"{purpose!r} is sealed but no ASYLUMFLOW_ENCRYPTION_KEY is set")
    return box.unseal(stored, purpose)
