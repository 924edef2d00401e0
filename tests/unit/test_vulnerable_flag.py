"""`vulnerable` follows the kinds present, those given at opening included.

Through the legal record (`record`), as the workflow records acts: a removal recorded later
than the act it follows re-derives the case from its creation, which must keep the opening's
kinds.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from models.enums import Action, Vulnerability
from models.legal_record import record
from models.lifecycle import CaseState
from tests.legal_records import NOW, TODAY, fresh, req

OPENED = date(2026, 11, 2)
TORTURE, PREGNANCY = Vulnerability.TORTURE_SURVIVOR, Vulnerability.PREGNANCY


def opened(kinds: list[Vulnerability] | None, *, vulnerable: bool = True) -> CaseState:
    """A case identified at the border with these kinds (None: a case begun before kinds)."""
    return fresh(OPENED, vulnerable=vulnerable, vulnerabilities=kinds)


def rec(state: CaseState, action: Action, **fields: Any) -> CaseState:
    return record(state, req(action, **fields), now=NOW, today=TODAY).state


def gone(state: CaseState, kind: Vulnerability, on: date) -> CaseState:
    return rec(state, Action.RECORD_VULNERABILITY, on=on, kind=kind, present=False)


def test_the_last_kind_given_at_opening_recorded_gone_clears_the_flag() -> None:
    case = opened([TORTURE, PREGNANCY])
    assert case.vulnerable and case.vulnerabilities == [TORTURE, PREGNANCY]
    case = gone(case, PREGNANCY, date(2026, 11, 10))
    assert case.vulnerable and case.vulnerabilities == [TORTURE]
    case = gone(case, TORTURE, date(2026, 11, 12))
    assert not case.vulnerable and case.vulnerabilities == []
    assert "vulnerable" not in case.flags(TODAY, NOW)


def test_a_late_act_rederives_from_the_opening_kinds() -> None:
    case = gone(opened([TORTURE, PREGNANCY]), PREGNANCY, date(2026, 11, 12))
    # Recorded after, dated before: the record is folded again from the creation.
    case = rec(case, Action.RECORD_CONTACT, on=date(2026, 11, 5))
    assert case.vulnerable and case.vulnerabilities == [TORTURE]
    case = gone(case, TORTURE, date(2026, 11, 3))
    assert not case.vulnerable and case.vulnerabilities == []


def test_a_kind_found_later_and_removed_leaves_a_case_opened_without_any_unflagged() -> None:
    case = opened([], vulnerable=False)
    case = rec(case, Action.RECORD_VULNERABILITY, on=date(2026, 11, 4), kind=TORTURE, present=True)
    assert case.vulnerable
    assert not gone(case, TORTURE, date(2026, 11, 6)).vulnerable


def test_a_case_begun_before_kinds_were_passed_keeps_its_flag() -> None:
    case = opened(None)
    assert case.vulnerable and case.vulnerabilities == []
    case = rec(case, Action.RECORD_VULNERABILITY, on=date(2026, 11, 4), kind=TORTURE, present=True)
    case = gone(case, TORTURE, date(2026, 11, 6))
    # It cannot tell that the kinds it opened with are gone: the protective flag stays.
    assert case.vulnerable
