"""The responsibility procedure's state changes (issue 20), without a worker.

The figures are in tests/unit/test_deadlines_worked.py; here: what a reply, silence, a transfer
and a lapsed transfer do to the case, the extension rule of 604/2013 Art 29(2), and the packs
that have no such procedure.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from models.case_state import CaseState
from models.enums import Action, ClockName, ClockStatus, Stage
from models.errors import DomainError, InvalidInput, OutOfTime
from models.lifecycle import allowed_actions, settle
from models.rules import pack_contents
from tests.unit.test_lifecycle import act, lodged_case, make_case, rec


def requested(family: str = "eu") -> CaseState:
    """Lodged 15 Jan 2026 (registered 5 Jan), take charge requested of DE on 1 Feb 2026."""
    return act(lodged_case(family), Action.REQUEST_TAKE_CHARGE, on=date(2026, 2, 1), to_state="DE")


def test_silence_is_acceptance_on_the_last_day_of_the_reply_period() -> None:
    s = requested()
    assert s.stage is Stage.RESPONSIBILITY_REQUESTED
    assert s.stage_before_responsibility is Stage.LODGED
    # 1 Feb + 2 months = Wed 1 Apr (604/2013 Art 22(1)); the engine acts once it has passed.
    settled = settle(s, datetime(2026, 4, 2, 12, tzinfo=UTC), recorded_at=datetime.now(UTC))
    new = settled.state
    assert new.stage is Stage.TRANSFER_PENDING
    assert new.responsibility["status"] == "accepted_implicitly"
    assert new.responsibility["accepted_on"] == "2026-04-01"
    implied = [e for e in settled.events if e.action == "responsibility_accepted_implicitly"]
    assert len(implied) == 1 and implied[0].derived and implied[0].on == date(2026, 4, 1)
    reply = new.deadline(ClockName.RESPONSIBILITY_REPLY, date(2026, 4, 2))
    transfer = new.deadline(ClockName.TRANSFER, date(2026, 4, 2))
    assert reply is not None and reply.status is ClockStatus.MET
    assert transfer is not None and transfer.due == date(2026, 10, 1)


def test_a_lapsed_transfer_keeps_the_case_here() -> None:
    s = act(requested(), Action.RECORD_RESPONSIBILITY_REPLY, on=date(2026, 2, 20), accepted=True)
    # 20 Feb + 6 months = Thu 20 Aug 2026; on the 21st this state is responsible.
    settled = settle(s, datetime(2026, 8, 22, tzinfo=UTC), recorded_at=datetime.now(UTC)).state
    assert settled.stage is Stage.LODGED
    assert settled.stage_before_responsibility is None
    assert settled.responsibility["status"] == "shifted"
    assert settled.responsibility["shifted_on"] == "2026-08-21"
    transfer = settled.deadline(ClockName.TRANSFER, date(2026, 8, 22))
    assert transfer is not None and transfer.status is ClockStatus.MISSED
    assert Action.DECIDE in allowed_actions(settled)
    assert Action.RECORD_TRANSFER not in allowed_actions(settled)


def test_a_refusal_and_a_transfer() -> None:
    refused = act(
        requested(), Action.RECORD_RESPONSIBILITY_REPLY, on=date(2026, 2, 20), accepted=False
    )
    assert (refused.stage, refused.responsibility["status"]) == (Stage.LODGED, "refused")
    accepted = act(
        requested(), Action.RECORD_RESPONSIBILITY_REPLY, on=date(2026, 2, 20), accepted=True
    )
    done = act(accepted, Action.RECORD_TRANSFER, on=date(2026, 3, 2))
    assert done.stage is Stage.CLOSED
    assert done.responsibility["transferred_on"] == "2026-03-02"
    transfer = done.deadline(ClockName.TRANSFER, date(2026, 3, 2))
    assert transfer is not None and transfer.status is ClockStatus.MET


def test_beyond_a_year_only_on_absconding() -> None:
    s = act(requested(), Action.RECORD_RESPONSIBILITY_REPLY, on=date(2026, 2, 20), accepted=True)
    once = act(s, Action.EXTEND_DEADLINE, on=date(2026, 3, 1), clock="transfer", reason="prison")
    d = once.deadline(ClockName.TRANSFER, date(2026, 3, 1))
    assert d is not None and d.due == date(2027, 2, 22)  # Sat 20 Feb 2027 -> Mon 22 Feb
    with pytest.raises(InvalidInput, match="absconded"):
        act(once, Action.EXTEND_DEADLINE, on=date(2026, 3, 2), clock="transfer", reason="again")
    gone = act(once, Action.REPORT_ABSCONDED, on=date(2026, 3, 2))
    twice = act(gone, Action.EXTEND_DEADLINE, on=date(2026, 3, 3), clock="transfer", reason="fled")
    d = twice.deadline(ClockName.TRANSFER, date(2026, 3, 3))
    assert d is not None and d.period == "18 months" and d.due == date(2027, 8, 20)


def test_no_procedure_without_its_clocks() -> None:
    with pytest.raises(DomainError, match="no responsibility"):
        requested("rs")
    # A case pinned to eu-2013's content from before these clocks: refused until migrated.
    old = next(
        p
        for p in pack_contents("eu-2013")
        if ClockName.RESPONSIBILITY_REQUEST not in p.clock_names()
    )
    s = lodged_case("eu")
    pinned = s.model_copy(update={"pack_digest": old.digest, "pack_pins": {"eu-2013": old.digest}})
    assert ClockName.RESPONSIBILITY_REQUEST not in pinned.pack.clock_names()
    with pytest.raises(DomainError, match="no responsibility"):
        act(pinned, Action.REQUEST_TAKE_CHARGE, on=date(2026, 2, 1), to_state="DE")


# A request out of time (pack rules with `refuses_late`): worked examples.

DUBLIN_21_1 = r"\(Regulation \(EU\) No 604/2013 Art 21\(1\) first subparagraph\)"
LEAVES_IT_HERE = "a request out of time leaves responsibility with this state"


def test_a_take_charge_request_out_of_time_is_refused() -> None:
    """Lodged Thu 15 Jan 2026, registered 5 Jan: Dublin III.

    15 Jan + 3 months = Wed 15 Apr (Art 21(1) first subparagraph): a request that day is in
    time; on Thu 16 Apr the law takes it as not made and responsibility lies here (third
    subparagraph), so it is refused on its date (422 on `on`).
    """
    s = lodged_case("eu")
    in_time = act(s, Action.REQUEST_TAKE_CHARGE, on=date(2026, 4, 15), to_state="DE")
    assert in_time.stage is Stage.RESPONSIBILITY_REQUESTED
    request = in_time.deadline(ClockName.RESPONSIBILITY_REQUEST, date(2026, 4, 15))
    assert request is not None and request.status is ClockStatus.MET
    assert request.due == date(2026, 4, 15) and request.rule == "eu-2013/dub3-21-1"
    with pytest.raises(
        InvalidInput, match=f"ended on 2026-04-15 {DUBLIN_21_1}: {LEAVES_IT_HERE}"
    ) as refused:
        act(s, Action.REQUEST_TAKE_CHARGE, on=date(2026, 4, 16), to_state="DE")
    assert refused.value.field == "on"


def test_on_a_eurodac_hit_the_two_months_run_from_the_hit() -> None:
    """Hit received Tue 20 Jan 2026: + 2 months = Fri 20 Mar (Art 21(1) second subparagraph).

    In time on the 20th; refused on Mon 23 Mar, though the three months from lodging still run.
    """
    s = lodged_case("eu")
    hit = {"to_state": "DE", "eurodac_hit_on": date(2026, 1, 20)}
    in_time = act(s, Action.REQUEST_TAKE_CHARGE, on=date(2026, 3, 20), **hit)
    assert in_time.responsibility["status"] == "requested"
    with pytest.raises(InvalidInput, match=r"ended on 2026-03-20 \(.*Art 21\(1\) second sub"):
        act(s, Action.REQUEST_TAKE_CHARGE, on=date(2026, 3, 23), **hit)


def test_under_the_ammr_the_two_months_run_from_registration() -> None:
    """Made Wed 1 Jul 2026, registered Thu 2 Jul (AMMR, 2024/1351 Art 85), lodged Fri 10 Jul.

    2 Jul + 2 months = Wed 2 Sep (Art 39(1) first subparagraph): refused on Thu 3 Sep.
    """
    s = make_case("eu", on=date(2026, 7, 1))
    s = act(s, Action.MAKE_APPLICATION, on=date(2026, 7, 1))
    s = act(s, Action.REGISTER, on=date(2026, 7, 2))
    s = act(s, Action.LODGE, on=date(2026, 7, 10))
    assert s.pack_id == "eu-2024"
    assert act(s, Action.REQUEST_TAKE_CHARGE, on=date(2026, 9, 2), to_state="AT").stage is (
        Stage.RESPONSIBILITY_REQUESTED
    )
    with pytest.raises(
        InvalidInput,
        match=r"ended on 2026-09-02 \(Regulation \(EU\) 2024/1351 Art 39\(1\) first subparagraph\)"
        ": out of time, responsibility lies with this state",
    ):
        act(s, Action.REQUEST_TAKE_CHARGE, on=date(2026, 9, 3), to_state="AT")


def test_a_late_take_back_request_is_recorded_late() -> None:
    """Art 23(3)'s consequence is not in the pack (its rule is unverified): recorded, late."""
    s = act(lodged_case("eu"), Action.REQUEST_TAKE_BACK, on=date(2026, 4, 16), to_state="DE")
    request = s.deadline(ClockName.RESPONSIBILITY_REQUEST, date(2026, 4, 16))
    assert request is not None and request.late and request.rule == "eu-2013/dub3-23-2"
    assert s.stage is Stage.RESPONSIBILITY_REQUESTED


def test_a_case_pinned_before_the_rule_keeps_its_content() -> None:
    """Pinned to eu-2013 as it read before `refuses_late`: the late request is recorded.

    Late, until `asylumflow rules migrate` moves the case (a pinned case's rules never move).
    """
    before = next(
        p
        for p in pack_contents("eu-2013")
        if ClockName.RESPONSIBILITY_REQUEST in p.clock_names()
        and all(r.refuses_late is None for r in p.clocks)
    )
    s = lodged_case("eu")
    pinned = s.model_copy(
        update={"pack_digest": before.digest, "pack_pins": {"eu-2013": before.digest}}
    )
    late = act(pinned, Action.REQUEST_TAKE_CHARGE, on=date(2026, 4, 16), to_state="DE")
    request = late.deadline(ClockName.RESPONSIBILITY_REQUEST, date(2026, 4, 16))
    assert request is not None and request.late


def test_a_late_dated_request_is_refused_at_its_legal_place() -> None:
    """Typed after a later act (a contact on 20 May) and dated 16 Apr.

    The record re-derives the case and refuses the request for being out of time, not for the
    order of the record.
    """
    s = rec(lodged_case("eu"), Action.RECORD_CONTACT, on=date(2026, 5, 20))
    with pytest.raises(OutOfTime, match=r"ended on 2026-04-15 "):
        rec(s, Action.REQUEST_TAKE_CHARGE, on=date(2026, 4, 16), to_state="DE")
    # Dated within the period, the same request finds its place before the contact.
    placed = rec(s, Action.REQUEST_TAKE_CHARGE, on=date(2026, 4, 15), to_state="DE")
    assert placed.responsibility["requested_on"] == "2026-04-15"
