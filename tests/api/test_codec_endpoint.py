"""The codec endpoint decrypts for authorised staff only; settings refuse unsafe secrets."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr, ValidationError
from temporalio.api.common.v1 import Payload

from core.codec import make_codec, new_key
from core.settings import EXAMPLE_KEYS, Settings
from db.users import Role
from tests.api.helpers import Api


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_codec_endpoint(api: Api) -> None:
    key = new_key()
    api.app.state.settings = Settings(
        _env_file=None,
        ASYLUMFLOW_ENCRYPTION_KEY=SecretStr(key),
        ASYLUMFLOW_ENCRYPTION_KEY_ID="2026",
    )
    api.user("cw", Role.CASEWORKER)
    api.user("la", Role.LEGAL_AID, org="org-a")
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"note": "secret words"}')
    sealed = (await make_codec("2026", key).encode([plain]))[0]
    body = {
        "payloads": [
            {
                "metadata": {k: _b64(v) for k, v in sealed.metadata.items()},
                "data": _b64(sealed.data),
            }
        ]
    }
    assert b"secret words" not in sealed.data

    decoded = await api.http.post("/codec/decode", json=body, headers=api.auth("cw"))
    assert decoded.status_code == 200
    out = decoded.json()["payloads"][0]
    assert base64.b64decode(out["data"]) == b'{"note": "secret words"}'
    assert base64.b64decode(out["metadata"]["encoding"]) == b"json/plain"

    assert (await api.http.post("/codec/decode", json=body)).status_code == 401
    assert (
        await api.http.post("/codec/decode", json=body, headers=api.auth("la"))
    ).status_code == 403

    encoded = await api.http.post("/codec/encode", json={"payloads": [out]}, headers=api.auth("cw"))
    assert encoded.status_code == 200
    again = encoded.json()["payloads"][0]
    assert base64.b64decode(again["metadata"]["encryption-key-id"]) == b"2026"


def test_production_refuses_missing_or_example_secrets() -> None:
    with pytest.raises(ValidationError, match="ENCRYPTION_KEY is required"):
        Settings(_env_file=None, ASYLUMFLOW_ENV="production", DATABASE_URL="postgresql://x/y")
    with pytest.raises(ValidationError, match="example key"):
        Settings(
            _env_file=None,
            ASYLUMFLOW_ENV="production",
            DATABASE_URL="postgresql://x/y",
            ASYLUMFLOW_ENCRYPTION_KEY=SecretStr(next(iter(EXAMPLE_KEYS))),
        )
    with pytest.raises(ValidationError, match="DATABASE_URL is required"):
        Settings(
            _env_file=None,
            ASYLUMFLOW_ENV="production",
            ASYLUMFLOW_ENCRYPTION_KEY=SecretStr(new_key()),
        )
    with pytest.raises(ValidationError, match="32 bytes"):
        Settings(_env_file=None, ASYLUMFLOW_ENCRYPTION_KEY=SecretStr("c2hvcnQ="))
    ok = Settings(
        _env_file=None,
        ASYLUMFLOW_ENV="production",
        DATABASE_URL="postgresql://x/y",
        ASYLUMFLOW_ENCRYPTION_KEY=SecretStr(new_key()),
    )
    assert ok.codec() is not None
    assert Settings(_env_file=None).codec() is None  # development may run in the clear
