"""What the protection acts do to a case (issue #19): referrals, vulnerabilities, children.

Profiling and referral, information and interpreters, age and best-interests assessments:
none is a procedural step but declining to apply (`refer {to: none}`). Each effect changes
only flags and dates of the state; the detail of these acts stays in SQL (`api/protection.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from models.actions import (
    ActionInput,
    AgeAssessmentInput,
    AssignInterpreterInput,
    InformationGivenInput,
    ReferInput,
    ReferralOutcomeInput,
    ScreeningInput,
    VulnerabilityInput,
)
from models.case_state import CaseEvent, CaseState, amend, occur, set_stage
from models.enums import Action, AgeOutcome, LegalEvent, ReferralTarget, Stage, Vulnerability
from models.errors import DomainError
from models.protection_records import InformationGiven, Referral
from models.transitions import allowed_actions


def _refer(state: CaseState, p: ReferInput, entry: CaseEvent, *_: Any) -> None:
    """A referral to a service keeps the stage; declining to apply moves to `referred`.

    Cases begun before issue #19 keep their old rule: every referral moved to `referred`.
    """
    if p.declines or not state.referral_keeps_stage:
        if state.stage not in (Stage.IDENTIFIED, Stage.SCREENING):
            raise DomainError(
                "refer: only a person who has not applied declines to apply; an application "
                "made is withdrawn (withdraw)",
                state.stage,
                allowed_actions(state),
            )
        entry = amend(state, entry, event=LegalEvent.REFERRED)
        occur(state, LegalEvent.REFERRED, p.on, entry.recorded_at)
        set_stage(state, Stage.REFERRED, p.on)
    state.referral = p.to
    if p.to is not ReferralTarget.NONE:
        state.referrals.append(Referral(id=entry.seq, to=p.to, on=p.on))


def _referral_outcome(state: CaseState, p: ReferralOutcomeInput, *_: Any) -> None:
    def answered(referral: Referral) -> Referral:
        update: dict[str, Any] = {}
        if p.acknowledged and referral.acknowledged_on is None:
            update["acknowledged_on"] = p.on
        if p.outcome is not None:
            update |= {"outcome": p.outcome, "outcome_on": p.on}
        return referral.model_copy(update=update)

    state.referrals = [answered(r) if r.id == p.referral else r for r in state.referrals]


def _set_vulnerability(state: CaseState, kind: Vulnerability, present: bool) -> None:
    """The workflow's flags after a vulnerability is found or no longer found.

    The flag follows the kinds recorded present, those given at opening included. A case begun
    before the opening's kinds were passed to its workflow knows only that it opened vulnerable:
    it cannot tell that the last of those kinds is gone, and keeps the protective flag rather
    than guess.
    """
    kinds = [k for k in state.vulnerabilities if k is not kind]
    if present:
        kinds.append(kind)
    state.vulnerabilities = kinds
    if kind is Vulnerability.UNACCOMPANIED_CHILD:
        _set_unaccompanied(state, present)
    created = state.created
    kinds_unknown = created is not None and created.vulnerabilities is None
    opened_vulnerable = created is not None and created.vulnerable and kinds_unknown
    state.vulnerable = state.unaccompanied_child or bool(kinds) or opened_vulnerable


def _set_unaccompanied(state: CaseState, child: bool) -> None:
    state.unaccompanied_child = child
    if child and "unaccompanied_child" not in state.facts:
        state.facts.append("unaccompanied_child")
    elif not child:
        state.facts = [f for f in state.facts if f != "unaccompanied_child"]


def _screening(state: CaseState, p: ScreeningInput, *_: Any) -> None:
    for kind in p.needs:
        _set_vulnerability(state, kind, True)


def _record_vulnerability(state: CaseState, p: VulnerabilityInput, *_: Any) -> None:
    _set_vulnerability(state, p.kind, p.present)


def _information_given(state: CaseState, p: InformationGivenInput, *_: Any) -> None:
    state.information_given.append(InformationGiven(on=p.on, language=p.language, form=p.form))


def _assign_interpreter(state: CaseState, p: AssignInterpreterInput, *_: Any) -> None:
    state.interpreter = p.interpreter


def _age_assessment(state: CaseState, p: AgeAssessmentInput, *_: Any) -> None:
    """The age assessment's outcome on the flags.

    `adult` clears the unaccompanied-child flag (and what depends on it: the representative
    clock, the procedures a child is exempt from); `minor` and `inconclusive` keep it, or set
    it with `unaccompanied: true` (inconclusive: the benefit of the doubt).
    """
    state.age_assessment, state.age_assessed_on = p.outcome, p.on
    if p.outcome is AgeOutcome.ADULT:
        _set_vulnerability(state, Vulnerability.UNACCOMPANIED_CHILD, False)
        _set_vulnerability(state, Vulnerability.CHILD, False)
    elif p.unaccompanied is not None:
        _set_vulnerability(state, Vulnerability.UNACCOMPANIED_CHILD, p.unaccompanied)


def _best_interests(state: CaseState, p: ActionInput, *_: Any) -> None:
    state.best_interests_on = p.on


PROTECTION_EFFECTS: dict[Action, Callable[..., None]] = {
    Action.REFER: _refer,
    Action.COMPLETE_SCREENING: _screening,
    Action.RECORD_VULNERABILITY: _record_vulnerability,
    Action.RECORD_REFERRAL_OUTCOME: _referral_outcome,
    Action.RECORD_INFORMATION_GIVEN: _information_given,
    Action.ASSIGN_INTERPRETER: _assign_interpreter,
    Action.RECORD_AGE_ASSESSMENT: _age_assessment,
    Action.RECORD_BEST_INTERESTS: _best_interests,
}
"""The effect of each protection act (`models.effects` merges them into its table)."""
