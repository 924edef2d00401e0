"""Signing actions: the API signs each act, the case workflow checks it (pure HMAC).

Anyone who can reach the Temporal namespace could otherwise send `act` straight to a case
workflow (`temporal workflow update`) and record an act under any actor's name, outside the
audit log. The API signs each action with a key it shares with the workers (`sign`); the
update validators refuse an unsigned, wrongly signed or stale one (`refusal`), and a refused
update leaves nothing in the history.

Pure and deterministic apart from the key registry: a worker registers its key for its task
queue (`register_key`) before it starts. Validators are never run on replay, so reading the
registry there cannot make a replay differ. The case workflow runs unsandboxed (and `models`
is passed through any sandbox, worker.PASSTHROUGH), so the registry a worker fills is the one
its workflows read.
A task queue without a key (tests, development without keys) signs and checks nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any, Protocol

from pydantic_core import to_jsonable_python

VERSION = "v1"
MAX_AGE_SECONDS = 15 * 60
"""How long a signature stays good: a captured signed action cannot be replayed later."""

_keys: dict[str, bytes] = {}


def register_key(task_queue: str, key: bytes | None) -> None:
    """Check actions on `task_queue` against `key` (None: stop checking them)."""
    if key is None:
        _keys.pop(task_queue, None)
    else:
        _keys[task_queue] = key


def _message(workflow_id: str, action: str, body: Any, actor: str, signed_at: int) -> bytes:
    canonical = json.dumps(
        {"workflow": workflow_id, "action": action, "body": body, "actor": actor, "at": signed_at},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return canonical.encode()


def sign(key: bytes, workflow_id: str, action: str, body: Any, actor: str, signed_at: int) -> str:
    """The signature of one action (`body` as JSON-ready data, `signed_at` in Unix seconds)."""
    mac = hmac.new(key, _message(workflow_id, action, body, actor, signed_at), hashlib.sha256)
    return f"{VERSION}.{signed_at}.{mac.hexdigest()}"


def refusal(
    task_queue: str,
    workflow_id: str,
    action: str,
    body: Any,
    actor: str,
    signature: str | None,
    now: datetime,
) -> str | None:
    """Why an action may not be applied (unsigned, wrongly signed, stale), or None."""
    key = _keys.get(task_queue)
    if key is None:
        return None
    if not signature:
        return "the action is not signed by the API"
    version, _, rest = signature.partition(".")
    stamp, _, _digest = rest.partition(".")
    if version != VERSION or not stamp.isdigit():
        return "the action's signature is malformed"
    signed_at = int(stamp)
    if abs(now.timestamp() - signed_at) > MAX_AGE_SECONDS:
        return "the action's signature has expired"
    expected = sign(key, workflow_id, action, body, actor, signed_at)
    if not hmac.compare_digest(expected, signature):
        return "the action's signature does not match"
    return None


class SignedAction(Protocol):
    """What is signed of an action (`models.messages.ActionRequest`)."""

    @property
    def action(self) -> Any: ...  # noqa: D102
    @property
    def body(self) -> dict[str, Any]: ...  # noqa: D102
    @property
    def actor(self) -> str: ...  # noqa: D102
    @property
    def signature(self) -> str | None: ...  # noqa: D102


def action_name(request: SignedAction) -> str:
    """The action's name (an `Action` enum or its value)."""
    return str(getattr(request.action, "value", request.action))


def sign_request(key: bytes, workflow_id: str, request: SignedAction, signed_at: int) -> str:
    """The signature of `request` for the case workflow `workflow_id`."""
    body = to_jsonable_python(request.body)
    return sign(key, workflow_id, action_name(request), body, request.actor, signed_at)
