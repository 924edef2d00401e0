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
from models.errors import DomainError, InvalidInput
from models.lifecycle import allowed_actions, settle
from models.rules import pack_contents
from tests.unit.test_lifecycle import act, lodged_case


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
    old = pack_contents("eu-2013")[0]
    s = lodged_case("eu")
    pinned = s.model_copy(update={"pack_digest": old.digest, "pack_pins": {"eu-2013": old.digest}})
    assert ClockName.RESPONSIBILITY_REQUEST not in pinned.pack.clock_names()
    with pytest.raises(DomainError, match="no responsibility"):
        act(pinned, Action.REQUEST_TAKE_CHARGE, on=date(2026, 2, 1), to_state="DE")
