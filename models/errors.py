"""The two ways the domain refuses an action: a conflict with the case (409) or a bad field (422).

Raised by the transition table's checks (`models.transitions`) and by a few effects
(`models.effects`) that can only tell once they look at the act; the API maps them to HTTP.
"""

from __future__ import annotations

from typing import Any

from models.enums import Action, Stage


class DomainError(Exception):
    """An action the case's current stage or state does not allow (HTTP 409)."""

    def __init__(self, detail: str, stage: Stage, allowed_actions: list[Action]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.stage = stage
        self.allowed_actions = allowed_actions

    conflict: dict[str, Any] | None = None
    """The recorded act that stands in the way (`seq`, `action`, `on`), where one does."""
    index: int | None = None
    """In a batch, the item refused."""

    def to_dict(self) -> dict[str, Any]:
        """The 409 body: detail, current stage, allowed actions (and the conflicting act)."""
        body: dict[str, Any] = {
            "detail": self.detail,
            "stage": self.stage.value,
            "allowed_actions": [a.value for a in self.allowed_actions],
        }
        if self.conflict is not None:
            body["conflict"] = self.conflict
        return body


class InvalidInput(Exception):
    """A field of an action's body is wrong for this case (HTTP 422 naming the field)."""

    index: int | None = None
    """In a batch, the item refused."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class OutOfTime(InvalidInput):
    """An act dated after the period the law gives it, which the law takes as not done.

    422 on `on`: a take-charge request out of time (Dublin III Art 21(1) third subparagraph).
    """

    def __init__(self, detail: str) -> None:
        super().__init__("on", detail)
