"""Request body limits: an oversized body is 413, an over-deep JSON body 422, before parsing.

Both are refused here rather than where the body is parsed: FastAPI answers any failure to
read or parse a body with its own 400 (a body cut off mid-stream, or `json.loads` running out
of stack on `[[[[…]]]]`), while the contract says 413 and 422.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024
"""No action or case body comes near this; a larger one is a mistake or an attack."""

MAX_JSON_DEPTH = 32
"""Nesting of arrays and objects; the deepest body the API takes (a batch of actions) has 3."""

_OPENERS = (ord("["), ord("{"))
_CLOSERS = (ord("]"), ord("}"))
_QUOTE, _BACKSLASH = ord('"'), ord("\\")


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `body`, read as JSON, nests arrays and objects deeper than `limit`.

    Brackets inside strings do not count. A body with fewer brackets than `limit` is not
    scanned at all (every ordinary request).
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif byte in _CLOSERS:
            depth -= 1
    return False


class BodyLimit:
    """Refuses bodies larger than `limit` bytes (declared or streamed) with 413.

    A body that arrives complete and nests JSON deeper than `MAX_JSON_DEPTH` is refused with
    422. Once a body is refused, whatever the app answered to it is dropped.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count (and look into) what actually arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send, 413, f"request body larger than {self.limit} bytes")
            return
        chunks: list[bytes] = []
        received = 0
        refusal: tuple[int, str] | None = None
        started = False

        async def counting_receive() -> Message:
            nonlocal received, refusal
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > self.limit:
                    refusal = (413, f"request body larger than {self.limit} bytes")
                    raise _Refused
                chunks.append(chunk)
                if not message.get("more_body", False) and too_deep(b"".join(chunks)):
                    refusal = (422, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
                    raise _Refused
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refusal is not None and not started:
                return  # the app's answer to a body it could not read (FastAPI's 400)
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_Refused):
            await self.app(scope, counting_receive, guarded_send)
        if refusal is not None and not started:
            await self._refuse(send, *refusal)

    async def _refuse(self, send: Send, status: int, detail: str) -> None:
        fields: dict[str, Any] = {"detail": detail, "field": "body"}
        if status == 422:
            fields["errors"] = [{"loc": ["body"], "msg": detail, "type": "json_too_deep"}]
        body = json.dumps(fields).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _Refused(Exception):
    pass
