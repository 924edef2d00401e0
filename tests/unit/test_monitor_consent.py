"""`record_monitor_consent`: a flag on the case, never a procedural step (issue #20)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.actions import MonitorConsentInput
from models.case_state import CaseState
from models.enums import Action, Stage
from models.lifecycle import apply, why_not
from models.stages import TERMINAL_STAGES
from tests.unit.test_lifecycle import _representative_states

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _consent(state: CaseState, given: bool) -> CaseState:
    payload = MonitorConsentInput(on=state.last_action_on, given=given)
    return apply(
        state, Action.RECORD_MONITOR_CONSENT, payload, actor="cw", recorded_at=NOW, today=NOW.date()
    ).state


@pytest.mark.parametrize("name", sorted(_representative_states()))
def test_consent_changes_no_stage_and_no_clock(name: str) -> None:
    state = _representative_states()[name]
    if state.stage is Stage.CLOSED:
        # A closed case's workflow has ended: nothing more is recorded on it.
        assert why_not(state, Action.RECORD_MONITOR_CONSENT) is not None
        return
    assert why_not(state, Action.RECORD_MONITOR_CONSENT) is None, name
    given = _consent(state, True)
    revoked = _consent(given, False)
    assert (given.monitor_consent, revoked.monitor_consent) == (True, False)
    for after in (given, revoked):
        assert (after.stage, after.stage_since) == (state.stage, state.stage_since)
        assert after.occurrences == state.occurrences  # no legal event, so no clock moves
        assert after.history[-1].action == "record_monitor_consent"
        assert after.history[-1].event is None
    assert [e.data for e in revoked.history[-2:]] == [{"given": True}, {"given": False}]


def test_allowed_in_every_stage_whose_workflow_runs() -> None:
    stages = {s.stage for s in _representative_states().values()}
    assert stages == set(Stage)
    assert TERMINAL_STAGES - {Stage.CLOSED} == {Stage.WITHDRAWN}


def test_old_states_read_as_never_consented() -> None:
    """A state carried over from before the field (continue-as-new, replay) has no consent."""
    state = next(iter(_representative_states().values()))
    dumped = state.model_dump(mode="json")
    del dumped["monitor_consent"]
    assert CaseState.model_validate(dumped).monitor_consent is False
