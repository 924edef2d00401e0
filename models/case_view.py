"""The case as the API shows it: stage, clocks, allowed actions and what it waits for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.case_state import CaseState
from models.deadlines import Deadline
from models.enums import Action, ClockKind, ClockStatus
from models.settling import local_date
from models.stages import TERMINAL_STAGES
from models.transitions import allowed_actions


def as_public_dict(state: CaseState, now: datetime) -> dict[str, Any]:
    """The case as shared/api.md shows it (without personal data, which lives in SQL)."""
    as_of = local_date(state, now)
    deadlines = state.deadlines(as_of, now)
    allowed = allowed_actions(state)  # every guard of the table: asked once for the view
    waiting = waiting_for(state, deadlines, allowed)
    return {
        "id": state.case_id,
        "reference": state.reference,
        "stage": state.stage.value,
        "stage_since": state.stage_since.isoformat(),
        "procedure": state.procedure.value,
        "jurisdiction": state.family,
        "outcome": state.outcome.value if state.outcome else None,
        "final": state.final,
        "rule_pack": {
            "id": state.pack_id,
            "version": state.pack_version,
            "pinned": state.pack_pinned,
            "digest": state.pack_digest or state.pack.digest,
        },
        "deadlines": [d.model_dump(mode="json") for d in deadlines],
        "allowed_actions": [a.value for a in allowed],
        "waiting_for": waiting,
        "flags": state.flags(as_of, now, deadlines),
        "personal_id_issued": state.personal_id_issued,
        "assignee": state.assignee,
        "legal_aid_org": state.legal_aid_org,
        "monitor_consent": state.monitor_consent,
        # The latest responsibility (Dublin/AMMR) request and what became of it; null if none.
        "responsibility": dict(state.responsibility) or None,
        "last_contact_on": state.last_contact_on.isoformat(),
        # Protection track (issue #19): what was recorded, never its detail (sealed in SQL).
        "protection": protection_view(state),
        # Issue #19: the place and the detention as the workflow knows them (no ground).
        "accommodation": {
            "centre": state.accommodation_centre,
            "since": state.accommodated_since.isoformat() if state.accommodated_since else None,
        }
        if state.accommodation_centre is not None
        else None,
        "detention": {
            "status": state.detention.value,
            "since": state.detention_since.isoformat() if state.detention_since else None,
        }
        if state.detention is not None
        else None,
    }


def protection_view(state: CaseState) -> dict[str, Any]:
    """The protection record of the case (issue #19): flags and dates only.

    Referrals and their answers, information given, the interview's language and interpreter,
    and the children's assessments.
    """
    return {
        "referrals": [r.model_dump(mode="json") for r in state.referrals],
        "vulnerabilities": [v.value for v in state.vulnerabilities],
        "information_given": [i.model_dump(mode="json") for i in state.information_given],
        "interview": (
            {
                "on": state.interview_on.isoformat(),
                "language": state.interview_language,
                "interpreter": state.interpreter,
            }
            if state.interview_on is not None
            else None
        ),
        "age_assessment": state.age_assessment.value if state.age_assessment else None,
        "age_assessed_on": state.age_assessed_on.isoformat() if state.age_assessed_on else None,
        "best_interests_on": (
            state.best_interests_on.isoformat() if state.best_interests_on else None
        ),
    }


def waiting_for(
    state: CaseState, deadlines: list[Deadline], allowed: list[Action] | None = None
) -> dict[str, Any] | None:
    """What the case waits for next and until when (the earliest running clock).

    `allowed`: the case's allowed actions when the caller has them already.
    """
    if state.waiting_for_interpreter:
        # Before any clock: the interview cannot take place without one (issue #19).
        return {
            "what": "interpreter",
            "language": state.interview_language,
            "clock": None,
            "until": state.interview_on.isoformat() if state.interview_on else None,
        }
    running = sorted(
        (d for d in deadlines if d.status in (ClockStatus.RUNNING, ClockStatus.PAUSED)),
        key=lambda d: d.due,
    )
    if running:
        d = running[0]
        what = (
            f"{d.clock.value.replace('_', ' ')} (entitlement)"
            if d.kind is ClockKind.ENTITLEMENT
            else f"{d.clock.value.replace('_', ' ')} by the {d.actor.value}"
        )
        return {"what": what, "clock": d.clock.value, "until": d.due.isoformat()}
    if state.stage in TERMINAL_STAGES:
        return None
    nxt = allowed if allowed is not None else allowed_actions(state)
    return {"what": f"next action: {nxt[0].value}" if nxt else "nothing", "until": None}
