"""Field checks that depend on the case (422): `validate_input` of the transition table.

Beside `models.transitions`, which re-exports `validate_input`; a refused field is an
`InvalidInput` naming the field, never a conflict with the case.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from models.actions import (
    SEALED_DETAIL,
    ActionInput,
    CorrectEventInput,
    DecideAppealInput,
    DecideInput,
    ExtendDeadlineInput,
    IssueDocumentInput,
    MigrateRulesInput,
    OrderDetentionInput,
    PauseClockInput,
    RecordReturnDecisionInput,
    ReferralOutcomeInput,
    ResponsibilityRequestInput,
    ScheduleInterviewInput,
    input_model,
)
from models.enums import Action, AppealResult, ClockName, DocumentKind, Outcome
from models.errors import InvalidInput
from models.guards import EXTENDABLE
from models.rules import PackError, get_pack
from models.stages import IN_PROCEDURE
from models.track_guards import validate_departure_days

if TYPE_CHECKING:
    from models.case_state import CaseState


def validate_input(state: CaseState, action: Action, payload: ActionInput, today: date) -> None:
    """Field checks that depend on the case: raise InvalidInput (422) naming the field."""
    if not isinstance(payload, input_model(action)):
        raise InvalidInput("body", f"{action.value} takes {input_model(action).__name__}")
    if getattr(payload, SEALED_DETAIL, None) is not None:
        # Special-category detail never enters a workflow (its history, its state): the API
        # keeps it in SQL, sealed, and sends the act without it.
        raise InvalidInput(SEALED_DETAIL, "detail is kept in SQL by the API, never in the case")
    if payload.on > today:
        raise InvalidInput("on", f"{payload.on.isoformat()} is in the future")
    if payload.on < state.identified_on:
        raise InvalidInput(
            "on",
            f"{payload.on.isoformat()} is before the person was identified "
            f"({state.identified_on.isoformat()})",
        )
    match payload:
        case ScheduleInterviewInput() if payload.interview_on < payload.on:
            raise InvalidInput("interview_on", "the interview cannot be before it is scheduled")
        case ScheduleInterviewInput() if payload.interpreter and not payload.language:
            raise InvalidInput("language", "an interpreter is assigned for a language: give it")
        case ReferralOutcomeInput() if not any(r.id == payload.referral for r in state.referrals):
            raise InvalidInput("referral", f"the case has no referral {payload.referral}")
        case ReferralOutcomeInput() if any(
            r.id == payload.referral and payload.on < r.on for r in state.referrals
        ):
            raise InvalidInput("on", "a referral is answered after it is made")
        case DecideAppealInput() if (payload.result is AppealResult.SUBSTITUTED) != (
            payload.outcome is not None
        ):
            raise InvalidInput(
                "outcome", "give an outcome exactly when the appeal body substitutes its decision"
            )
        case DecideInput() if payload.outcome is Outcome.IMPLICITLY_WITHDRAWN:
            raise InvalidInput("outcome", "implicit withdrawal is recorded with discontinue")
        case IssueDocumentInput():
            _validate_document(state, payload)
        case OrderDetentionInput() if payload.ground is not None:
            raise InvalidInput(
                "ground",
                "a detention ground is special-category data: the API keeps it sealed in SQL "
                "and it never reaches the workflow",
            )
        case CorrectEventInput() if payload.date > today:
            raise InvalidInput("date", f"{payload.date.isoformat()} is in the future")
        case ExtendDeadlineInput():
            _validate_extension(state, payload)
        case MigrateRulesInput():
            _validate_migration(state, payload)
        case RecordReturnDecisionInput() if payload.departure_days is not None:
            validate_departure_days(state, payload.departure_days)
        case ResponsibilityRequestInput() if (
            payload.eurodac_hit_on is not None and payload.eurodac_hit_on > payload.on
        ):
            raise InvalidInput("eurodac_hit_on", "the hit cannot be after the request")
        case PauseClockInput() if payload.clocks:
            unknown = [c for c in payload.clocks if c not in state.pack.clock_names()]
            if unknown:
                raise InvalidInput(
                    "clocks", f"pack {state.pack_id} has no clock {unknown[0].value}"
                )
        case _:
            pass
    if action is Action.RESUME_CLOCK:
        pause = state.open_pause()
        if pause is not None and payload.on < pause.start:
            raise InvalidInput("on", "a pause cannot end before it started")


def _validate_document(state: CaseState, payload: IssueDocumentInput) -> None:
    in_procedure = state.stage in IN_PROCEDURE
    if (payload.kind is DocumentKind.APPLICANT_DOCUMENT) != in_procedure:
        raise InvalidInput(
            "kind",
            "during the procedure only the applicant's document (applicant_document) is issued; "
            "it is not issued once the procedure has ended"
            if in_procedure
            else "the applicant's document is issued during the procedure only",
        )


def _validate_migration(state: CaseState, payload: MigrateRulesInput) -> None:
    if payload.pack not in state.pack_pins and payload.pack != state.pack_id:
        raise InvalidInput(
            "pack",
            f"the case is pinned to {state.pack_id}, not {payload.pack}: a migration never "
            "moves a case across pack ids",
        )
    try:
        get_pack(payload.pack, payload.to_digest)
    except PackError as exc:
        raise InvalidInput("to_digest", str(exc)) from None
    if state.pack_pins.get(payload.pack, state.pack.digest) == payload.to_digest:
        raise InvalidInput("to_digest", f"the case already uses this content of {payload.pack}")


def _validate_extension(state: CaseState, payload: ExtendDeadlineInput) -> None:
    rule = state.pack.clock_for(payload.clock, state.situation())
    current = state.deadline(payload.clock, payload.on)
    if rule is None or current is None:
        raise InvalidInput("clock", f"the case has no {payload.clock.value} clock to extend")
    if current.status not in EXTENDABLE:
        raise InvalidInput("clock", f"the {payload.clock.value} clock is {current.status.value}")
    if not rule.can_extend(state.extensions.get(payload.clock, 0)):
        raise InvalidInput("clock", f"no extension of {payload.clock.value} is left")
    if (
        payload.clock is ClockName.TRANSFER
        and state.extensions.get(ClockName.TRANSFER, 0) >= 1
        and not state.absconded
    ):
        # 604/2013 Art 29(2): one year at most on imprisonment, 18 months only on absconding.
        raise InvalidInput(
            "clock",
            "the transfer period goes beyond one year only if the person absconded "
            "(report_absconded first; Regulation 604/2013 Art 29(2))",
        )
