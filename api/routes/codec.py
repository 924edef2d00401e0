"""Remote codec endpoint: the Temporal UI shows decrypted histories to authorised staff only.

Point the UI's codec server setting at `<api>/codec` with "pass access token" on; the UI then
sends the user's bearer token, and only caseworkers, supervisors and admins get plaintext.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload

from api.deps import require_role
from api.errors import NotFound, Unprocessable
from db.users import Role

router = APIRouter(prefix="/codec", tags=["codec"])

_staff = Depends(require_role(Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN))


def _payloads(body: dict[str, Any]) -> list[Payload]:
    try:
        return [json_format.ParseDict(p, Payload()) for p in body.get("payloads", [])]
    except json_format.ParseError as exc:
        raise Unprocessable("payloads", str(exc)) from None


def _json(payloads: list[Payload]) -> dict[str, Any]:
    return {"payloads": [json_format.MessageToDict(p) for p in payloads]}


@router.post("/decode", dependencies=[_staff], summary="Decrypt payloads for the Temporal UI")
async def decode(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Decrypt `{"payloads": [...]}` (the Temporal remote codec protocol)."""
    codec = request.app.state.settings.codec()
    if codec is None:
        raise NotFound("no encryption key is configured; payloads are not encrypted")
    return _json(await codec.decode(_payloads(body)))


@router.post("/encode", dependencies=[_staff], summary="Encrypt payloads for the Temporal UI")
async def encode(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Encrypt `{"payloads": [...]}` (e.g. signal input typed in the UI)."""
    codec = request.app.state.settings.codec()
    if codec is None:
        raise NotFound("no encryption key is configured; payloads are not encrypted")
    return _json(await codec.encode(_payloads(body)))
