"""What an accepted action does to a case: `apply`, `replay_act` and one effect per action.

`apply` never performs I/O and never reads a clock: the caller passes the recording instant and
today's date. The table (`models.transitions`) says whether an action may be taken; the effect
of each action (`_EFFECTS`) and the table's target stage say what it changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from models import track_effects as tracks
from models.actions import (
    ActionInput,
    AssignCaseworkerInput,
    AssignLegalAidInput,
    AssignProcedureInput,
    DecideAdmissibilityInput,
    DecideAppealInput,
    DecideFurtherAppealInput,
    DecideInput,
    ExtendDeadlineInput,
    IssueDocumentInput,
    LodgeInput,
    MakeApplicationInput,
    MigrateRulesInput,
    MonitorConsentInput,
    PauseClockInput,
    RecordInterviewInput,
    ReviewAbandonmentInput,
    RiskAssessmentInput,
    ScheduleInterviewInput,
)
from models.case_state import (
    CaseEvent,
    CaseState,
    amend,
    fork,
    occur,
    record_event,
    set_stage,
)
from models.deadlines import Pause
from models.enums import (
    Action,
    AppealResult,
    ClockName,
    ClockStatus,
    DocumentKind,
    LegalEvent,
    MissedBy,
    Outcome,
    Procedure,
    Stage,
)
from models.errors import DomainError
from models.field_checks import validate_input
from models.reception_effects import RECEPTION_EFFECTS
from models.responsibility import (
    record_responsibility_reply,
    record_transfer,
    request_responsibility,
)
from models.rules import get_pack, governing_pack
from models.safeguards import PROTECTION_EFFECTS
from models.stages import APPLICANT_SIDE_ACTIONS, EXAMINATION
from models.transitions import TRANSITIONS, allowed_actions, check_allowed

# --------------------------------------------------------------------------------------------
# Applying an action


@dataclass
class Applied:
    """The result of an accepted action: the new state and what it appended to history."""

    state: CaseState
    events: list[CaseEvent]


def apply(
    state: CaseState,
    action: Action,
    payload: ActionInput,
    *,
    actor: str,
    recorded_at: datetime,
    today: date,
) -> Applied:
    """Apply an action to a copy of `state` (which is left as it was), as the latest act.

    The building block of `models.legal_record.record`, which places an act by its legal date
    and handles corrections and retractions (acts about the record itself): callers record
    through it.

    The copy shares the recorded events, occurrences and pauses with `state` (see `fork`), so
    the cost does not grow with the case's history: a dry run (the update validator's) is cheap.

    Raises:
        DomainError: the stage or state does not allow the action (names stage and allowed ones).
        InvalidInput: a field is wrong for this case (future date, date before the last act...).
    """
    check_allowed(state, action)
    validate_input(state, action, payload, today)
    new = fork(state)
    start = len(new.history)
    entry = record_event(
        new,
        actor=actor,
        action=action.value,
        event=TRANSITIONS[action].event,
        on=payload.on,
        recorded_at=recorded_at,
        note=payload.note,
        data=payload.model_dump(mode="json", exclude={"on", "note"}, exclude_none=True),
    )
    _take_effect(new, action, payload, entry)
    return Applied(new, new.history[start:])


def replay_act(state: CaseState, entry: CaseEvent, payload: ActionInput, today: date) -> CaseState:
    """Apply an act already in the record (same `seq`) to a copy of `state`.

    Used when the case is re-derived from its legal record: the act is checked against the state
    at its legal date exactly as when it was first recorded.

    Raises:
        DomainError: the act is not allowed at its place in the legal record.
        InvalidInput: a field of the act is wrong for the case at that place.
    """
    action = Action(entry.action)
    check_allowed(state, action)
    validate_input(state, action, payload, today)
    new = fork(state)
    new.seq = max(new.seq, entry.seq)
    new.history.append(entry)
    event = TRANSITIONS[action].event
    if event is not None:
        occur(new, event, entry.on, entry.recorded_at)
    _take_effect(new, action, payload, entry)
    return new


def _take_effect(new: CaseState, action: Action, payload: ActionInput, entry: CaseEvent) -> None:
    """The act's consequences on the state, once its entry is in the history."""
    new.last_action_on = max(new.last_action_on, payload.on)
    # Effects see the stage the action was taken in (discontinue remembers it for reopening).
    effect = _EFFECTS.get(action)
    if effect is not None:
        effect(new, payload, entry, entry.actor, entry.recorded_at)
    target = TRANSITIONS[action].target
    if target is not None:
        set_stage(new, target, payload.on)
    if action in APPLICANT_SIDE_ACTIONS:
        _applicant_engaged(new, payload.on, entry.actor, entry.recorded_at)


# --------------------------------------------------------------------------------------------
# The effect of each action

Effect = Callable[[CaseState, Any, CaseEvent, str, datetime], None]


def _applicant_engaged(state: CaseState, on: date, actor: str, recorded_at: datetime) -> None:
    """A contact or applicant-side act: resets the no-contact watch and lifts a presumption."""
    state.last_contact_on = max(state.last_contact_on, on)
    if state.absconded:
        state.absconded = False
        state.pauses = [
            p.model_copy(update={"end": on}) if p.end is None and p.reason == "absconded" else p
            for p in state.pauses
        ]
    if state.presumed_abandoned:
        state.presumed_abandoned = False
        state.abandoned_since = None
        record_event(
            state,
            actor="system",
            action="abandonment_lifted",
            on=on,
            recorded_at=recorded_at,
            note="the applicant engaged again; presumption of abandonment lifted",
            data={"recorded_by": actor},
            derived=True,
        )


def _make_application(state: CaseState, p: MakeApplicationInput, *_: Any) -> None:
    for fact, on in (("to_other_authority", p.to_other_authority), ("mass_influx", p.mass_influx)):
        if on and fact not in state.facts:
            state.facts.append(fact)
    if not state.pack_pinned:
        pack = governing_pack(state.family, made=p.on, lodged=None, fallback=p.on)[0]
        state.pack_id, state.pack_version = pack.id, pack.version
        state.pack_digest = pack.digest
        state.provisional_pack_id = pack.id


def _lodge(state: CaseState, p: LodgeInput, entry: CaseEvent, *_: Any) -> None:
    if p.subsequent and "subsequent" not in state.facts:
        state.facts.append("subsequent")
    _pin_pack(state, entry)


def _pin_pack(state: CaseState, entry: CaseEvent | None = None) -> None:
    """Lodging pins the pack in force on the lodging date; clocks are recomputed under it.

    The pin is the pack's id and the digest of its content, written into the lodging's entry
    (`data.rule_pack`): a re-derivation of the case replays it, so a pack file corrected since
    does not move the case. Which version is in force is judged with the contents the case is
    already bound to (`pack_pins`).
    """
    made, lodged = state.last(LegalEvent.MADE), state.last(LegalEvent.LODGED)
    if lodged is None:
        return
    recorded = entry.data.get("rule_pack") if entry is not None else None
    if isinstance(recorded, dict) and {"id", "digest"} <= recorded.keys():
        state.pack_pins[str(recorded["id"])] = str(recorded["digest"])
    _repin(state, made.on if made else None, lodged.on)
    pin = {"id": state.pack_id, "digest": state.pack_digest}
    if entry is not None and recorded != pin:
        amend(state, entry, data={**entry.data, "rule_pack": pin})


def _repin(state: CaseState, made: date | None, lodged: date) -> None:
    """Pin the version in force on `lodged`, judged with the case's pinned contents."""
    pack, _ = governing_pack(
        state.family,
        made=made,
        lodged=lodged,
        fallback=state.identified_on,
        pins=state.pack_pins,
    )
    state.pack_pins[pack.id] = pack.digest
    state.pack_id, state.pack_version, state.pack_pinned = pack.id, pack.version, True
    state.pack_digest = pack.digest


def _migrate_rules(state: CaseState, p: MigrateRulesInput, entry: CaseEvent, *_: Any) -> None:
    """Bind the case to another content of a pack it is pinned under (same id only).

    The pack in force on the lodging date is then judged again with that content: a corrected
    `valid_from` can leave the lodging date to the version before (`rs-2023` from 1 February
    2024: a case lodged in between falls to `rs-2018`), which is pinning by lodging date, not a
    move across ids chosen by anyone.
    """
    made, lodged = state.last(LegalEvent.MADE), state.last(LegalEvent.LODGED)
    before = {"id": state.pack_id, "digest": state.pack_digest}
    from_digest = state.pack_pins.get(p.pack, state.pack.digest)
    state.pack_pins[p.pack] = get_pack(p.pack, p.to_digest).digest
    if lodged is not None:
        _repin(state, made.on if made else None, lodged.on)
    amend(
        state,
        entry,
        data={
            **entry.data,
            "from_digest": from_digest,
            "to_digest": state.pack_pins[p.pack],
            "rule_pack_before": before,
            "rule_pack": {"id": state.pack_id, "digest": state.pack_digest},
        },
    )


def _withdraw_entitlement(state: CaseState, on: date, recorded_at: datetime) -> None:
    """Labour-market access reached is withdrawn where the pack says so (RCD 2024 Art 17(1))."""
    rule = state.pack.clock_for(ClockName.LABOUR_MARKET_ACCESS, state.situation())
    if rule is None or state.labour_market_reached_on is None:
        return
    if rule.withdrawn(state.situation()):
        record_event(
            state,
            actor="system",
            action="entitlement_withdrawn",
            on=on,
            recorded_at=recorded_at,
            note=f"labour-market access withdrawn ({rule.citation})",
            data={"clock": ClockName.LABOUR_MARKET_ACCESS.value, "rule": state.pack.rule_ref(rule)},
            derived=True,
        )
        state.labour_market_reached_on = None


def _assign_procedure(
    state: CaseState, p: AssignProcedureInput, entry: CaseEvent, actor: str, recorded_at: datetime
) -> None:
    if state.unaccompanied_child and p.procedure in state.pack.child_exempt_procedures:
        raise DomainError(
            f"an unaccompanied child cannot be put in the {p.procedure.value} procedure "
            f"(pack {state.pack_id}: child_exempt_procedures)",
            state.stage,
            [a for a in allowed_actions(state)],
        )
    state.procedure, state.grounds = p.procedure, p.grounds
    _withdraw_entitlement(state, p.on, recorded_at)
    if p.procedure is Procedure.ADMISSIBILITY and state.stage is Stage.LODGED:
        set_stage(state, Stage.ADMISSIBILITY, p.on)


def _decide_admissibility(
    state: CaseState, p: DecideAdmissibilityInput, entry: CaseEvent, *_: Any
) -> None:
    if p.admissible:
        set_stage(state, Stage.LODGED, p.on)
        return
    state.outcome, state.grounds = Outcome.INADMISSIBLE, p.ground
    entry = amend(state, entry, data={**entry.data, "outcome": Outcome.INADMISSIBLE.value})
    occur(state, LegalEvent.DECIDED, p.on, entry.recorded_at)
    set_stage(state, Stage.DECIDED, p.on)


def _schedule_interview(state: CaseState, p: ScheduleInterviewInput, *_: Any) -> None:
    state.interview_on = p.interview_on
    state.interview_language, state.interpreter = p.language, p.interpreter


def _record_interview(
    state: CaseState, p: RecordInterviewInput, entry: CaseEvent, actor: str, recorded_at: datetime
) -> None:
    if p.attended:
        state.missed_interview = False
        set_stage(state, Stage.INTERVIEWED, p.on)
        _applicant_engaged(state, p.on, actor, recorded_at)
    else:
        # Only the applicant's side counts as their missed interview (the default, as before
        # `missed_by`); the authority's or the interpreter's does not count against them.
        if p.missed_by in (None, MissedBy.APPLICANT):
            state.missed_interview = True
        set_stage(state, Stage.LODGED, p.on)


def _extend(state: CaseState, p: ExtendDeadlineInput, *_: Any) -> None:
    state.extensions[p.clock] = state.extensions.get(p.clock, 0) + 1


def _decide(state: CaseState, p: DecideInput, *_: Any) -> None:
    state.outcome = p.outcome
    if p.grounds:
        state.grounds = p.grounds


def become_final(state: CaseState, on: date) -> None:
    """A final decision sends the case to integration (positive) or return (negative)."""
    state.final = True
    positive = state.outcome is not None and state.outcome.is_positive
    set_stage(state, Stage.INTEGRATION if positive else Stage.RETURN, on)


def _decide_appeal(state: CaseState, p: DecideAppealInput, entry: CaseEvent, *_: Any) -> None:
    against_discontinuation = state.outcome is Outcome.IMPLICITLY_WITHDRAWN
    if p.result is AppealResult.DISMISSED:
        if against_discontinuation:
            set_stage(state, Stage.DISCONTINUED, p.on)
            return
        final_or_further_appeal(state, p.on, entry.recorded_at)
    elif p.result is AppealResult.QUASHED_REMANDED or against_discontinuation:
        state.outcome = None
        if "remanded" not in state.facts:
            state.facts.append("remanded")
        set_stage(state, Stage.LODGED, p.on)
    else:
        state.outcome = p.outcome
        final_or_further_appeal(state, p.on, entry.recorded_at)


def _make_final(state: CaseState, p: ActionInput, *_: Any) -> None:
    become_final(state, p.on)


def final_or_further_appeal(state: CaseState, on: date, at: datetime) -> None:
    """A negative appeal decision: final, unless the pack provides a further appeal against it.

    Where the pack has a `further_appeal` rule for the case's situation (a negative outcome),
    the case waits in `appeal_decided` for its window (or, with no figure, for `make_final`);
    elsewhere the decision is final at once, as it always was (tracks, issue 20).
    """
    if state.pack.clock_for(ClockName.FURTHER_APPEAL, state.situation()) is not None:
        set_stage(state, Stage.APPEAL_DECIDED, on)
        return
    occur(state, LegalEvent.FINAL, on, at)
    become_final(state, on)


def _decide_further_appeal(
    state: CaseState, p: DecideFurtherAppealInput, entry: CaseEvent, *_: Any
) -> None:
    if p.result is AppealResult.QUASHED_REMANDED:
        # The court annuls the appeal body's decision: the appeal is decided again.
        set_stage(state, Stage.APPEAL_LODGED, p.on)
        return
    if p.result is AppealResult.SUBSTITUTED:
        state.outcome = p.outcome
    occur(state, LegalEvent.FINAL, p.on, entry.recorded_at)
    become_final(state, p.on)


def _report_absconded(
    state: CaseState, p: ActionInput, entry: CaseEvent, actor: str, recorded_at: datetime
) -> None:
    state.absconded = True
    if state.open_pause() is None:
        state.pauses.append(Pause(start=p.on, reason="absconded"))
    if not state.presumed_abandoned:
        state.presumed_abandoned, state.abandoned_since = True, p.on


def _review_abandonment(
    state: CaseState, p: ReviewAbandonmentInput, entry: CaseEvent, actor: str, recorded_at: datetime
) -> None:
    if p.confirm:
        if state.stage not in EXAMINATION:
            raise DomainError(
                "review_abandonment: a case can only be discontinued before its decision",
                state.stage,
                allowed_actions(state),
            )
        _discontinue(state, p, entry, actor, recorded_at)
        entry = amend(state, entry, event=LegalEvent.DISCONTINUED)
        occur(state, LegalEvent.DISCONTINUED, p.on, entry.recorded_at)
        set_stage(state, Stage.DISCONTINUED, p.on)
    else:
        state.presumed_abandoned, state.abandoned_since = False, None
        state.last_contact_on = max(state.last_contact_on, p.on)


def _discontinue(state: CaseState, p: ActionInput, *_: Any) -> None:
    state.stage_before_discontinuation = state.stage
    state.outcome = Outcome.IMPLICITLY_WITHDRAWN
    state.presumed_abandoned, state.abandoned_since = False, None


def _request_reopening(state: CaseState, p: ActionInput, *_: Any) -> None:
    window = state.deadline(ClockName.REOPEN_WINDOW, p.on)
    if window is not None and window.status is ClockStatus.EXPIRED:
        raise DomainError(
            f"request_reopening: the reopen window ended on {window.due.isoformat()}",
            state.stage,
            allowed_actions(state),
        )
    discontinued = state.last(LegalEvent.DISCONTINUED)
    if discontinued is not None:
        # The time the case stood discontinued is the applicant's delay: clocks run on after it.
        state.pauses.append(Pause(start=discontinued.on, end=p.on, reason="implicit withdrawal"))
    state.outcome = None
    set_stage(state, state.stage_before_discontinuation or Stage.LODGED, p.on)
    state.stage_before_discontinuation = None


def _withdraw(state: CaseState, p: ActionInput, *_: Any) -> None:
    state.presumed_abandoned, state.abandoned_since = False, None


def _pause(state: CaseState, p: PauseClockInput, *_: Any) -> None:
    state.pauses.append(
        Pause(start=p.on, attributable_to=p.attributable_to, clocks=p.clocks, reason=p.reason)
    )


def _resume(state: CaseState, p: ActionInput, *_: Any) -> None:
    state.pauses = [
        q.model_copy(update={"end": p.on}) if q.end is None else q for q in state.pauses
    ]
    state.absconded = False


def _appoint_representative(state: CaseState, *_: Any) -> None:
    state.representative_appointed = True


def _reception_assessed(state: CaseState, *_: Any) -> None:
    state.reception_assessed = True


def _issue_personal_id(state: CaseState, *_: Any) -> None:
    state.personal_id_issued = True


def _issue_permit(state: CaseState, *_: Any) -> None:
    state.permit_issued = True


def _issue_document(state: CaseState, p: IssueDocumentInput, entry: CaseEvent, *_: Any) -> None:
    if p.kind is DocumentKind.CONVENTION_TRAVEL_DOCUMENT and state.outcome is not (
        Outcome.REFUGEE_STATUS
    ):
        raise DomainError(
            "issue_document: a Convention Travel Document is for recognised refugees only",
            state.stage,
            allowed_actions(state),
        )
    state.documents.append(p.kind)
    if p.kind is DocumentKind.APPLICANT_DOCUMENT:
        # Meets the `applicant_document` clock; the other kinds are no legal event.
        occur(state, LegalEvent.APPLICANT_DOCUMENT_ISSUED, p.on, entry.recorded_at)


def _start_return(state: CaseState, *_: Any) -> None:
    state.return_counselling = True


def _return_consent(state: CaseState, *_: Any) -> None:
    state.return_consent = True
    state.return_refused = False


def _risk_assessment(state: CaseState, p: RiskAssessmentInput, entry: CaseEvent, *_: Any) -> None:
    if not p.at_risk:
        state.risk_assessed = True
        return
    # Non-refoulement: the person is channelled back to asylum with a subsequent application.
    entry = amend(state, entry, event=LegalEvent.MADE)
    occur(state, LegalEvent.MADE, p.on, entry.recorded_at)
    state.final = False
    state.outcome = None
    state.return_counselling = state.return_consent = state.return_refused = False
    if "subsequent" not in state.facts:
        state.facts.append("subsequent")
    set_stage(state, Stage.APPLICATION_MADE, p.on)


def _record_reintegration(state: CaseState, *_: Any) -> None:
    state.reintegrated = True


def _assign_caseworker(state: CaseState, p: AssignCaseworkerInput, *_: Any) -> None:
    state.assignee = p.user


def _assign_legal_aid(state: CaseState, p: AssignLegalAidInput, *_: Any) -> None:
    state.legal_aid_org = p.org


def _monitor_consent(state: CaseState, p: MonitorConsentInput, *_: Any) -> None:
    # Only the flag: consent to a monitor's reading is no procedural step (no stage, no clock).
    state.monitor_consent = p.given


def _close(state: CaseState, *_: Any) -> None:
    state.presumed_abandoned = False


_EFFECTS: dict[Action, Effect] = {
    Action.MAKE_APPLICATION: _make_application,
    Action.LODGE: _lodge,
    Action.ASSIGN_PROCEDURE: _assign_procedure,
    Action.APPOINT_REPRESENTATIVE: _appoint_representative,
    Action.RECORD_RECEPTION_ASSESSMENT: _reception_assessed,
    Action.DECIDE_ADMISSIBILITY: _decide_admissibility,
    Action.SCHEDULE_INTERVIEW: _schedule_interview,
    Action.RECORD_INTERVIEW: _record_interview,
    Action.EXTEND_DEADLINE: _extend,
    Action.DECIDE: _decide,
    Action.DECIDE_APPEAL: _decide_appeal,
    Action.MAKE_FINAL: _make_final,
    Action.REPORT_ABSCONDED: _report_absconded,
    Action.REVIEW_ABANDONMENT: _review_abandonment,
    Action.DISCONTINUE: _discontinue,
    Action.REQUEST_REOPENING: _request_reopening,
    Action.WITHDRAW: _withdraw,
    Action.PAUSE_CLOCK: _pause,
    Action.RESUME_CLOCK: _resume,
    Action.ISSUE_PERSONAL_ID: _issue_personal_id,
    Action.ISSUE_PERMIT: _issue_permit,
    Action.ISSUE_DOCUMENT: _issue_document,
    Action.REQUEST_FAMILY_REUNIFICATION: tracks.family_reunification,
    Action.START_RETURN: _start_return,
    Action.RECORD_RETURN_CONSENT: _return_consent,
    Action.RECORD_RISK_ASSESSMENT: _risk_assessment,
    Action.RECORD_DEPARTURE: tracks.record_departure,
    Action.RECORD_REINTEGRATION: _record_reintegration,
    Action.ASSIGN_CASEWORKER: _assign_caseworker,
    Action.ASSIGN_LEGAL_AID: _assign_legal_aid,
    Action.CLOSE: _close,
    Action.RECORD_MONITOR_CONSENT: _monitor_consent,
    # Issue #19 (protection track b)
    **RECEPTION_EFFECTS,
    Action.MIGRATE_RULES: _migrate_rules,
    # Protection track (issue #19): `models/safeguards.py`
    **PROTECTION_EFFECTS,
    # Tracks around a decision (issue 20, branch `tracks`).
    Action.DECIDE_FURTHER_APPEAL: _decide_further_appeal,
    Action.REFUSE_RETURN_CONSENT: tracks.refuse_return_consent,
    Action.RECORD_RETURN_DECISION: tracks.record_return_decision,
    Action.DECIDE_FAMILY_REUNIFICATION: tracks.decide_family_reunification,
    Action.IDENTIFY_FOR_RESETTLEMENT: tracks.identify_for_resettlement,
    Action.SUBMIT_FOR_RESETTLEMENT: tracks.submit_for_resettlement,
    Action.DECIDE_RESETTLEMENT: tracks.decide_resettlement,
    Action.RECORD_RESETTLEMENT_DEPARTURE: tracks.record_resettlement_departure,
    # Responsibility procedure (issue 20)
    Action.REQUEST_TAKE_CHARGE: request_responsibility,
    Action.REQUEST_TAKE_BACK: request_responsibility,
    Action.RECORD_RESPONSIBILITY_REPLY: record_responsibility_reply,
    Action.RECORD_TRANSFER: record_transfer,
}
