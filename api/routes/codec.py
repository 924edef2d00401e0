"""Remote codec endpoint: the Temporal UI shows decrypted histories to authorised staff only.

Point the UI's codec server setting at `<api>/codec` with "pass access token" on; the UI then
sends the user's bearer token, and only caseworkers and supervisors get plaintext: the roles
that may read every case (a payload does not say whose case it is, so the roles scoped to some
cases, and admins, who read none, are refused). Every call is in the audit log (`api.audit`).
A payload that is not one, is tampered with or names an unknown key is `422`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload

from api.deps import require_role
from api.errors import NotFound, Unprocessable
from core.codec import CodecError, EncryptionCodec
from db.users import Role

router = APIRouter(prefix="/codec", tags=["codec"])

_staff = Depends(require_role(Role.CASEWORKER, Role.SUPERVISOR))


def _payloads(body: dict[str, Any]) -> list[Payload]:
    items = body.get("payloads", [])
    if not isinstance(items, list) or not all(isinstance(p, dict) for p in items):
        raise Unprocessable("payloads", "a list of payload objects")
    try:
        return [json_format.ParseDict(p, Payload()) for p in items]
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise Unprocessable("payloads", str(exc)) from None


async def _decoded(codec: EncryptionCodec, payloads: list[Payload]) -> list[Payload]:
    try:
        return await codec.decode(payloads)
    except (CodecError, DecodeError) as exc:
        # Tampered, truncated (`data: ""`), or sealed with a key this server does not know.
        raise Unprocessable("payloads", f"a payload cannot be decrypted: {exc}") from None


def _json(payloads: list[Payload]) -> dict[str, Any]:
    return {"payloads": [json_format.MessageToDict(p) for p in payloads]}


@router.post("/decode", dependencies=[_staff], summary="Decrypt payloads for the Temporal UI")
async def decode(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Decrypt `{"payloads": [...]}` (the Temporal remote codec protocol)."""
    codec = request.app.state.settings.codec()
    if codec is None:
        raise NotFound("no encryption key is configured; payloads are not encrypted")
    return _json(await _decoded(codec, _payloads(body)))


@router.post("/encode", dependencies=[_staff], summary="Encrypt payloads for the Temporal UI")
async def encode(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Encrypt `{"payloads": [...]}` (e.g. signal input typed in the UI)."""
    codec = request.app.state.settings.codec()
    if codec is None:
        raise NotFound("no encryption key is configured; payloads are not encrypted")
    return _json(await codec.encode(_payloads(body)))
