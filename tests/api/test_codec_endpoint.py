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


async def test_codec_only_for_case_readers_audited_and_bad_payloads_422(api: Api) -> None:
    """Issue 21 finding 3: admins are refused, each call is audited, bad payloads are 422."""
    key = new_key()
    api.app.state.settings = Settings(
        _env_file=None,
        ASYLUMFLOW_ENCRYPTION_KEY=SecretStr(key),
        ASYLUMFLOW_ENCRYPTION_KEY_ID="2026",
    )
    api.user("cw", Role.CASEWORKER)
    api.user("sup", Role.SUPERVISOR)
    api.user("admin", Role.ADMIN)
    api.user("officer", Role.BORDER_OFFICER)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"note": "fled from X"}')
    sealed = (await make_codec("2026", key).encode([plain]))[0]

    def wire(metadata: dict[str, bytes], data: bytes) -> dict[str, object]:
        return {"metadata": {k: _b64(v) for k, v in metadata.items()}, "data": _b64(data)}

    good = {"payloads": [wire(dict(sealed.metadata), sealed.data)]}
    for who in ("admin", "officer"):
        refused = await api.http.post("/codec/decode", json=good, headers=api.auth(who))
        assert refused.status_code == 403, (who, refused.text)
    assert (
        await api.http.post("/codec/decode", json=good, headers=api.auth("sup"))
    ).status_code == 200

    tampered = bytearray(sealed.data)
    tampered[-1] ^= 1
    unknown_key = {**sealed.metadata, "encryption-key-id": b"nope"}
    bad_bodies = {
        "tampered": {"payloads": [wire(dict(sealed.metadata), bytes(tampered))]},
        "unknown key id": {"payloads": [wire(unknown_key, sealed.data)]},
        "empty data": {"payloads": [{**wire(dict(sealed.metadata), b""), "data": ""}]},
        "not an object": {"payloads": ["AAAA"]},
        "not a list": {"payloads": "AAAA"},
    }
    for label, body in bad_bodies.items():
        answer = await api.http.post("/codec/decode", json=body, headers=api.auth("cw"))
        assert answer.status_code == 422, (label, answer.status_code, answer.text)
        assert answer.json()["field"] == "payloads", label

    log = (await api.http.get("/audit?user=sup", headers=api.auth("admin"))).json()["items"]
    assert [(e["route"], e["kind"], e["status"]) for e in log] == [("/codec/decode", "read", 200)]
    log = (await api.http.get("/audit?user=cw", headers=api.auth("admin"))).json()["items"]
    assert len(log) == len(bad_bodies)
    assert {(e["route"], e["status"]) for e in log} == {("/codec/decode", 422)}
