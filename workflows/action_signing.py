"""The update validators' check that an action was signed by the API (models.action_signing).

Acts reach a case only through the API: anyone who can reach the Temporal namespace could
otherwise send `act` straight to a case workflow and record an act under any actor's name,
outside the audit log. A refused update leaves nothing in the history.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic_core import to_jsonable_python
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from models.action_signing import SignedAction, action_name, refusal


def require_signed(requests: Iterable[SignedAction]) -> None:
    """In an update validator: refuse the update unless every action is signed by the API.

    Raises:
        ApplicationError: type `Unsigned`, non-retryable; nothing reaches the history.
    """
    info = workflow.info()
    for request in requests:
        reason = refusal(
            info.task_queue,
            info.workflow_id,
            action_name(request),
            to_jsonable_python(request.body),
            request.actor,
            request.signature,
            workflow.now(),
        )
        if reason is not None:
            raise ApplicationError(reason, type="Unsigned", non_retryable=True)
