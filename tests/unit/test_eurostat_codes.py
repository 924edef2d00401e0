"""Eurostat's code mappings: citizenship, sex, age at the event, decisions, rounding; the stock."""

from __future__ import annotations

from datetime import date

import pytest

from db.eurostat import CaseLine, Person, cells, export_rows, k_anonymous, months, pending_on
from models import eurostat_codes as codes


@pytest.mark.parametrize(
    ("nationality", "code"),
    [
        ("IRQ", "IQ"),
        ("iq", "IQ"),
        ("AFG", "AF"),
        ("SY", "SY"),
        ("GRC", "EL"),  # Eurostat's Greece
        ("GR", "EL"),
        ("GBR", "UK"),  # and the United Kingdom
        ("XK", "XK"),  # Kosovo, outside ISO 3166
        ("XKX", "XK"),
        ("XXA", "STLS"),  # stateless
        ("XXX", "UNK"),  # unknown
        (None, "UNK"),
        ("", "UNK"),
        ("ZZZ", "UNK"),  # no such ISO code
        ("IRAQ", "UNK"),
    ],
)
def test_citizenship(nationality: str | None, code: str) -> None:
    assert codes.citizen(nationality) == code


@pytest.mark.parametrize(
    ("sex", "code"), [("female", "F"), ("male", "M"), ("other", "UNK"), ("unknown", "UNK")]
)
def test_sex(sex: str, code: str) -> None:
    assert codes.sex(sex) == code


@pytest.mark.parametrize(
    ("born", "on", "years"),
    [
        (date(2000, 5, 10), date(2014, 5, 9), 13),  # the day before the birthday
        (date(2000, 5, 10), date(2014, 5, 10), 14),  # the birthday itself
        (date(2004, 2, 29), date(2022, 2, 28), 17),  # a leap-day birthday: not yet
        (date(2004, 2, 29), date(2022, 3, 1), 18),
        (date(1990, 12, 31), date(2025, 1, 1), 34),
    ],
)
def test_age_in_completed_years(born: date, on: date, years: int) -> None:
    assert codes.age_in_years(born, on) == years


@pytest.mark.parametrize(
    ("born", "on", "adult_class", "minor_class"),
    [
        (date(2011, 6, 1), date(2025, 5, 31), "Y_LT14", "Y_LT14"),
        (date(2011, 6, 1), date(2025, 6, 1), "Y14-17", "Y14-15"),
        (date(2009, 6, 2), date(2025, 6, 1), "Y14-17", "Y14-15"),  # 15 until tomorrow
        (date(2009, 6, 1), date(2025, 6, 1), "Y14-17", "Y16-17"),
        (date(2007, 6, 2), date(2025, 6, 1), "Y14-17", "Y16-17"),
        (date(2007, 6, 1), date(2025, 6, 1), "Y18-34", None),  # 18: no minor
        (date(1990, 6, 2), date(2025, 6, 1), "Y18-34", None),  # 34
        (date(1990, 6, 1), date(2025, 6, 1), "Y35-64", None),
        (date(1960, 6, 2), date(2025, 6, 1), "Y35-64", None),  # 64
        (date(1960, 6, 1), date(2025, 6, 1), "Y_GE65", None),
        (None, date(2025, 6, 1), "UNK", "UNK"),
        (date(2026, 1, 1), date(2025, 6, 1), "UNK", "UNK"),  # born after the event: a typo
    ],
)
def test_age_classes(
    born: date | None, on: date, adult_class: str, minor_class: str | None
) -> None:
    assert codes.age_class(born, on) == adult_class
    assert codes.minor_age_class(born, on) == minor_class


@pytest.mark.parametrize(
    ("n", "rounded"),
    [(0, 0), (1, 0), (2, 0), (3, 5), (4, 5), (5, 5), (7, 5), (8, 10), (12, 10), (13, 15)],
)
def test_rounding_to_the_nearest_five(n: int, rounded: int) -> None:
    assert codes.round5(n) == rounded


def test_decisions() -> None:
    assert codes.decision_cells("refugee_status") == ("TOTAL", "TOTAL_POS", "GENCONV")
    assert codes.decision_cells("subsidiary_protection") == ("TOTAL", "TOTAL_POS", "SUB_PROT")
    assert codes.decision_cells("humanitarian") == ("TOTAL", "TOTAL_POS", "HUMSTAT")
    for negative in ("rejected", "manifestly_unfounded", "inadmissible"):
        assert codes.decision_cells(negative) == ("TOTAL", "REJECTED")
    assert codes.decision_cells("implicitly_withdrawn") == ()
    assert (codes.month(date(2025, 3, 31)), codes.quarter(date(2025, 3, 31))) == (
        "2025-03",
        "2025-Q1",
    )
    assert codes.quarter(date(2025, 10, 1)) == "2025-Q4"


PERSON = Person("IQ", "F", date(1990, 1, 1), False)


def test_pending_at_the_end_of_a_month() -> None:
    """Lodged 10 Jan, remanded in March (still pending), withdrawn 1 May."""
    line = CaseLine(
        PERSON,
        "rs",
        facts=[
            (3, "application", "first_time", date(2025, 1, 10)),
            (5, "decision", "rejected", date(2025, 2, 1)),
            (8, "appeal", "quashed_remanded", date(2025, 3, 3)),
            (9, "closed", "withdrawn", date(2025, 5, 1)),
        ],
    )
    ends = [date(2024, 12, 31), date(2025, 1, 31), date(2025, 3, 31), date(2025, 4, 30)]
    assert [pending_on(line, end) for end in ends] == [False, True, True, True]
    assert not pending_on(line, date(2025, 5, 31))
    final = CaseLine(PERSON, "rs", facts=line.facts[:2], finals=[date(2025, 2, 20)])
    assert pending_on(final, date(2025, 2, 19)) and not pending_on(final, date(2025, 2, 28))
    # Discontinued in March (implicit withdrawal), reopening requested in April: pending again.
    discontinued = [*line.facts[:2], (7, "closed", "discontinued", date(2025, 3, 10))]
    reopened = CaseLine(PERSON, "rs", facts=discontinued, reopened=[date(2025, 4, 2)])
    assert [pending_on(reopened, end) for end in ends[1:]] == [True, False, True]
    assert not pending_on(CaseLine(PERSON, "rs", reopened=[date(2025, 4, 2)]), ends[3])
    assert months(date(2024, 11, 5), date(2025, 1, 2)) == [
        date(2024, 11, 1),
        date(2024, 12, 1),
        date(2025, 1, 1),
    ]


def test_export_rows_and_suppression() -> None:
    """Generalised rows: the lodging month, the age class, the last outcome; rare ones go."""

    def lodged(day: date, *more: tuple[int, str, str, date]) -> CaseLine:
        return CaseLine(PERSON, "rs", facts=[(3, "application", "first_time", day), *more])

    lines = [
        lodged(date(2025, 1, 10)),
        lodged(date(2025, 1, 20)),
        lodged(date(2025, 1, 31), (6, "decision", "refugee_status", date(2025, 3, 1))),
        lodged(
            date(2025, 1, 2),
            (6, "decision", "rejected", date(2025, 3, 1)),
            (9, "appeal", "quashed_remanded", date(2025, 5, 1)),  # back to pending
        ),
    ]
    rows = export_rows(lines, date(2025, 1, 1), date(2025, 12, 31))
    pending = ("rs", "IQ", "F", "Y35-64", "2025-01", "PENDING")
    assert rows == [("rs", "IQ", "F", "Y35-64", "2025-01", "GENCONV"), pending, pending, pending]
    assert k_anonymous(rows, 3) == ([pending] * 3, 1)
    assert k_anonymous(rows, 4) == ([], 4)
    assert export_rows(lines, date(2025, 2, 1), date(2025, 12, 31)) == []


def test_an_applicant_counts_once_a_month() -> None:
    """Two lodgings in January (back from return at risk) count once; a third in March again.

    The facts come from SQL in no order: the first lodging of the month says which kind.
    """
    line = CaseLine(
        PERSON,
        "rs",
        facts=[
            (14, "application", "subsequent", date(2025, 3, 2)),
            (9, "application", "subsequent", date(2025, 1, 25)),
            (3, "application", "first_time", date(2025, 1, 5)),
        ],
        accelerated=[date(2025, 1, 20), date(2025, 1, 6)],
    )
    assert cells("accelerated", [line], date(2025, 1, 1), date(2025, 3, 31)) == [
        {"time": "2025-01", "citizen": "IQ", "sex": "F", "age": "Y35-64", "value": 1}
    ]
    assert cells("applicants", [line], date(2025, 1, 1), date(2025, 3, 31)) == [
        {"time": "2025-01", "citizen": "IQ", "sex": "F", "age": "Y35-64", "asyl_app": a, "value": 1}
        for a in ("ASY_APP", "NASY_APP")
    ] + [
        {"time": "2025-03", "citizen": "IQ", "sex": "F", "age": "Y35-64", "asyl_app": a, "value": 1}
        for a in ("ASY_APP", "SUBS_APP")
    ]


def test_reception_is_a_month_end_stock_of_places_held() -> None:
    """Issue #19: placed 10 Jan, moved 20 Feb, place ended 5 Mar, placed again 31 Mar."""
    line = CaseLine(Person("SY", "F", date(1990, 6, 1), False), "eu")
    line.accommodation = [
        (date(2025, 1, 10), 5, True),
        (date(2025, 2, 20), 7, True),
        (date(2025, 3, 5), 9, False),
        (date(2025, 3, 31), 11, True),
        (date(2025, 4, 30), 12, False),
    ]
    found = cells("reception", [line], date(2025, 1, 1), date(2025, 4, 30))
    # Held at the end of January, February and March (placed again on its last day); the place
    # ended on 30 April, the last day of April: not held at its end.
    assert [(c["time"], c["value"]) for c in found] == [
        ("2025-01", 1),
        ("2025-02", 1),
        ("2025-03", 1),
    ]
    assert found[0]["age"] == "Y18-34"
