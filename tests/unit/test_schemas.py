"""Request bodies check dates against the right calendar, also around midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from api import schemas
from api.schemas import CaseCreate


def _at(monkeypatch: pytest.MonkeyPatch, instant: datetime) -> None:
    monkeypatch.setattr(schemas, "_now", lambda: instant)


def _body(**overrides: Any) -> dict[str, Any]:
    return {
        "jurisdiction": "rs",
        "person": {"given_name": "Amina", "family_name": "Haddad", "nationality": "SYR"},
        "identified_on": "2026-11-24",
        **overrides,
    }


def test_identified_on_is_checked_against_the_jurisdictions_calendar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 23:30 UTC on the 23rd is 00:30 on the 24th in Belgrade: a case found now is today's.
    _at(monkeypatch, datetime(2026, 11, 23, 23, 30, tzinfo=UTC))
    assert CaseCreate.model_validate(_body()).identified_on == date(2026, 11, 24)
    with pytest.raises(ValidationError, match="identified_on is in the future"):
        CaseCreate.model_validate(_body(identified_on="2026-11-25"))
    # An hour earlier it is still the 23rd there.
    _at(monkeypatch, datetime(2026, 11, 23, 22, 30, tzinfo=UTC))
    with pytest.raises(ValidationError) as raised:
        CaseCreate.model_validate(_body())
    assert raised.value.errors()[0]["loc"] == ("identified_on",)


def test_an_unknown_jurisdiction_is_the_error_not_the_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _at(monkeypatch, datetime(2026, 11, 23, 12, tzinfo=UTC))
    with pytest.raises(ValidationError) as raised:
        CaseCreate.model_validate(_body(jurisdiction="xx", identified_on="2026-11-23"))
    assert [e["loc"] for e in raised.value.errors()] == [("jurisdiction",)]


def test_a_date_of_birth_is_future_only_when_it_is_everywhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Noon UTC on the 23rd: the 24th has begun on the Line Islands (UTC+14), not the 25th.
    _at(monkeypatch, datetime(2026, 11, 23, 12, tzinfo=UTC))
    person = _body()["person"]
    ok = CaseCreate.model_validate(
        _body(identified_on="2026-11-23", person={**person, "date_of_birth": "2026-11-24"})
    )
    assert ok.person.date_of_birth == date(2026, 11, 24)
    with pytest.raises(ValidationError, match="date of birth is in the future"):
        CaseCreate.model_validate(
            _body(identified_on="2026-11-23", person={**person, "date_of_birth": "2026-11-25"})
        )


def test_the_cases_calendar_leads_the_servers() -> None:
    from models.rules import calendar_today

    late = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 00:30 on the 24th in Belgrade
    assert calendar_today("rs", late) == date(2026, 11, 24)
    assert calendar_today(None, late) == date(2026, 11, 24)
    assert calendar_today("no such place", late) == date(2026, 11, 24)
    assert calendar_today("rs", datetime(2026, 11, 23, 22, 30, tzinfo=UTC)) == date(2026, 11, 23)
