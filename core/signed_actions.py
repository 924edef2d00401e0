"""The Temporal client side of `workflows.action_signing`: sign every action the API sends.

A client interceptor rather than code at each call site: every `act` and `act_batch` update
any API process, the demo seeder or the CLI sends through `core.temporal.connect` is signed,
and nothing that skips it (a `temporal workflow update` typed by hand) is.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from temporalio.client import (
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    StartWorkflowUpdateWithStartInput,
    WorkflowUpdateHandle,
)

from models.action_signing import sign_request
from models.messages import ActionBatch, ActionRequest


def signed(key: bytes, workflow_id: str, arg: Any, now: int) -> Any:
    """`arg` with its action(s) signed, when it is an `ActionRequest` or an `ActionBatch`."""
    if isinstance(arg, ActionRequest):
        return arg.model_copy(update={"signature": sign_request(key, workflow_id, arg, now)})
    if isinstance(arg, ActionBatch):
        actions = [signed(key, workflow_id, a, now) for a in arg.actions]
        return arg.model_copy(update={"actions": actions})
    return arg


class SigningInterceptor(Interceptor):
    """Signs the actions of every update the client sends (see `workflows.action_signing`)."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        """Wrap the client's outbound calls."""
        return _Signing(next, self.key)


class _Signing(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, key: bytes) -> None:
        super().__init__(next)
        self.key = key

    def _args(self, workflow_id: str, args: Any) -> list[Any]:
        now = int(time.time())
        return [signed(self.key, workflow_id, a, now) for a in args]

    async def start_workflow_update(
        self, input: StartWorkflowUpdateInput
    ) -> WorkflowUpdateHandle[Any]:
        input.args = self._args(input.id, input.args)
        return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(
        self, input: StartWorkflowUpdateWithStartInput
    ) -> WorkflowUpdateHandle[Any]:
        update = input.update_workflow_input
        workflow_id = input.start_workflow_input.id
        input.update_workflow_input = replace(update, args=self._args(workflow_id, update.args))
        return await super().start_update_with_start_workflow(input)
