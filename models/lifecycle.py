"""The case lifecycle, in one import: state, the one transition table, `apply` and `settle`.

A facade: each concern lives in a module of its own, and every public name is re-exported here so
callers can keep importing from `models.lifecycle`.

- `models.errors`: `DomainError` (409) and `InvalidInput` (422).
- `models.stages`: the stage groups (`OPEN_STAGES`, `TERMINAL_STAGES`, `EXAMINATION`...).
- `models.case_state`: `CaseState`, its history (`CaseEvent`) and `new_case`.
- `models.transitions`: `TRANSITIONS`, its guards, `allowed_actions` and `validate_input`.
- `models.effects`: `apply`, `replay_act` and the effect of each action.
- `models.settling`: what happens when time passes (`next_wakeup`, `settle`, `local_date`).
- `models.case_view`: the case as the API shows it (`as_public_dict`).

`TRANSITIONS` is the single source of truth for what may happen in which stage. The workflow's
update validators, the API's `allowed_actions` and the docs all read it. `apply` never performs I/O
and never reads a clock: the caller passes the recording instant and today's date.
"""

from __future__ import annotations

from models.case_state import CaseCreated, CaseEvent, CaseState, new_case, occur
from models.case_view import as_public_dict, waiting_for
from models.effects import Applied, Effect, apply, replay_act
from models.errors import DomainError, InvalidInput
from models.field_checks import validate_input
from models.guards import StateGuard
from models.settling import local_date, next_wakeup, settle
from models.stages import (
    APPLICANT_SIDE_ACTIONS,
    EXAMINATION,
    IN_PROCEDURE,
    NEGATIVE_FOR_APPEAL,
    OPEN_STAGES,
    PRE_APPLICATION,
    TERMINAL_STAGES,
    WATCHED_STAGES,
)
from models.transitions import (
    CLOCK_ACT_STAGES,
    SYSTEM_ACTIONS,
    TRANSITIONS,
    Transition,
    allowed_actions,
    check_allowed,
    why_not,
)

__all__ = [
    "APPLICANT_SIDE_ACTIONS",
    "CLOCK_ACT_STAGES",
    "EXAMINATION",
    "IN_PROCEDURE",
    "NEGATIVE_FOR_APPEAL",
    "OPEN_STAGES",
    "PRE_APPLICATION",
    "SYSTEM_ACTIONS",
    "TERMINAL_STAGES",
    "TRANSITIONS",
    "WATCHED_STAGES",
    "Applied",
    "CaseCreated",
    "CaseEvent",
    "CaseState",
    "DomainError",
    "Effect",
    "InvalidInput",
    "StateGuard",
    "Transition",
    "allowed_actions",
    "apply",
    "as_public_dict",
    "check_allowed",
    "local_date",
    "new_case",
    "next_wakeup",
    "occur",
    "replay_act",
    "settle",
    "validate_input",
    "waiting_for",
    "why_not",
]
