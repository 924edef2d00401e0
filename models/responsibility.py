"""The responsibility procedure (Dublin III / AMMR, issue 20): the effects of its acts.

A take-charge or take-back request moves a case to `responsibility_requested`; the reply (or
the engine, when the reply period ends in silence) accepts or refuses; an accepted case waits
in `transfer_pending` for `record_transfer` (closed) or for the transfer period to lapse (the
case goes back to the stage the request left: this state examines the application). Which
regulation's periods apply is the rule packs' business (by the registration date).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from models.actions import ActionInput, ResponsibilityReplyInput, ResponsibilityRequestInput
from models.case_state import CaseEvent, CaseState, amend, occur, set_stage
from models.enums import Action, ClockName, LegalEvent, Stage
from models.errors import OutOfTime


def request_responsibility(
    state: CaseState, p: ResponsibilityRequestInput, entry: CaseEvent, *_: Any
) -> None:
    """A take-charge or take-back request: its kind and any Eurodac hit choose the clocks.

    The hit is a legal event of its own (dated when it was received): the shorter request
    periods run from it. It is recorded before the request, so the request meets the clock.
    """
    kind = "take_back" if Action(entry.action) is Action.REQUEST_TAKE_BACK else "take_charge"
    other = "take_charge" if kind == "take_back" else "take_back"
    facts = [f for f in state.facts if f not in (other, "eurodac_hit")]
    facts.append(kind)
    if p.eurodac_hit_on is not None:
        facts.append("eurodac_hit")
    state.facts = facts
    if p.eurodac_hit_on is not None:
        # Before the request in the clocks' order: the hit starts the period the request meets.
        request = state.occurrences.pop()
        occur(state, LegalEvent.EURODAC_HIT, p.eurodac_hit_on, entry.recorded_at)
        occur(state, request.event, request.on, request.at or entry.recorded_at)
    if state.stage is not Stage.RESPONSIBILITY_REQUESTED:
        state.stage_before_responsibility = state.stage
    _refuse_if_out_of_time(state, p.on, kind)
    state.responsibility = {
        "kind": kind,
        "to_state": p.to_state,
        "requested_on": p.on.isoformat(),
        "status": "requested",
        **({"eurodac_hit_on": p.eurodac_hit_on.isoformat()} if p.eurodac_hit_on else {}),
    }


def _refuse_if_out_of_time(state: CaseState, on: date, kind: str) -> None:
    """Refuse a request the law takes as not made: sent after its period.

    Where the pack's rule says so (`refuses_late`): Dublin III Art 21(1) third subparagraph,
    AMMR Art 39(1) third subparagraph. Recording it would start the reply clock and, on the
    other state's silence, a transfer that the law does not allow: responsibility already lies
    with this state.

    Raises:
        OutOfTime: on `on` (422), naming the last day of the period, its rule and the consequence.
    """
    request = state.deadline(ClockName.RESPONSIBILITY_REQUEST, on)
    if request is None or not request.late:
        return
    pack = state.pack  # pinned at lodging, before any request
    rule = next((r for r in pack.clocks if pack.rule_ref(r) == request.rule), None)
    if rule is None or rule.refuses_late is None:
        return
    raise OutOfTime(
        f"the {kind.replace('_', '-')} request period ended on {request.due.isoformat()} "
        f"({rule.citation}): {rule.refuses_late}",
    )


def accept_responsibility(state: CaseState, on: date, at: datetime, *, implicit: bool) -> None:
    """The requested state is responsible: the transfer clock starts (explicit or by silence)."""
    occur(state, LegalEvent.RESPONSIBILITY_ACCEPTED, on, at)
    state.responsibility = {
        **state.responsibility,
        "status": "accepted_implicitly" if implicit else "accepted",
        "accepted_on": on.isoformat(),
    }
    set_stage(state, Stage.TRANSFER_PENDING, on)


def responsibility_stays(state: CaseState, on: date, status: str) -> None:
    """This state examines the application: back to the stage the request left."""
    state.responsibility = {
        **state.responsibility,
        "status": status,
        f"{status}_on": on.isoformat(),
    }
    set_stage(state, state.stage_before_responsibility or Stage.LODGED, on)
    state.stage_before_responsibility = None


def record_responsibility_reply(
    state: CaseState, p: ResponsibilityReplyInput, entry: CaseEvent, *_: Any
) -> None:
    """The explicit reply: accepted (transfer pending) or refused (examined here)."""
    if p.accepted:
        amend(state, entry, event=LegalEvent.RESPONSIBILITY_ACCEPTED)
        accept_responsibility(state, p.on, entry.recorded_at, implicit=False)
    else:
        amend(state, entry, event=LegalEvent.RESPONSIBILITY_REFUSED)
        occur(state, LegalEvent.RESPONSIBILITY_REFUSED, p.on, entry.recorded_at)
        responsibility_stays(state, p.on, "refused")


def record_transfer(state: CaseState, p: ActionInput, entry: CaseEvent, *_: Any) -> None:
    """The person was handed over: the case leaves this state's procedure (closed)."""
    # The case leaves this state's procedure: closed, and every other clock with it.
    occur(state, LegalEvent.CLOSED, p.on, entry.recorded_at)
    state.responsibility = {
        **state.responsibility,
        "status": "transferred",
        "transferred_on": p.on.isoformat(),
    }
    state.stage_before_responsibility = None
    state.presumed_abandoned = False
