"""Eurostat's codes for asylum statistics (Regulation (EC) No 862/2007 as amended by (EU) 2020/851).

Pure mappings from the project's values to the code lists Eurostat's asylum datasets use:
citizenship (ISO 3166-1 alpha-2 with Eurostat's exceptions), sex, age classes (all applicants
and unaccompanied minors), decision outcomes, withdrawal types, months and quarters, and the
rounding to the nearest 5 Eurostat publishes with. db/eurostat.py counts with them.

Verified against Eurostat's metadata pages: ISO alpha-2 "with minor changes", rounding to the
nearest 5. From Eurostat's published tables but not re-checked here (README says which):
`EL`, `UK`, `XK`, `STLS`, `UNK`; the age and decision codes; the withdrawal and applicant codes.
"""

from __future__ import annotations

from datetime import date

import pycountry

CITIZEN_EXCEPTIONS = {"GR": "EL", "GB": "UK", "XK": "XK"}
"""ISO alpha-2 → Eurostat's code where they differ (Greece, the United Kingdom, Kosovo)."""

STATELESS, UNKNOWN = "STLS", "UNK"

_SPECIAL = {"XXA": STATELESS, "XXX": UNKNOWN, "XK": "XK", "XKX": "XK", "XXK": "XK"}
"""The API's codes outside ISO 3166 (shared/api.md: `XK`, `XXA`, `XXX`; `XKX` is common too)."""


def citizen(nationality: str | None) -> str:
    """The Eurostat citizenship code of an API `nationality` (ISO alpha-2 or alpha-3, or special).

    Looked up in ISO 3166 (pycountry), not a hand table, then Eurostat's exceptions; a code ISO
    does not know, or none, is `UNK`.
    """
    if not nationality:
        return UNKNOWN
    code = nationality.strip().upper()
    if code in _SPECIAL:
        return _SPECIAL[code]
    if len(code) == 3:
        country = pycountry.countries.get(alpha_3=code)
    elif len(code) == 2:
        country = pycountry.countries.get(alpha_2=code)
    else:
        country = None
    if country is None:
        return UNKNOWN
    alpha_2: str = country.alpha_2
    return CITIZEN_EXCEPTIONS.get(alpha_2, alpha_2)


def sex(value: str | None) -> str:
    """`F`, `M` or `UNK` (the API's `other` and `unknown` have no code of their own)."""
    return {"female": "F", "male": "M"}.get(value or "", UNKNOWN)


def age_in_years(born: date, on: date) -> int:
    """Completed years on `on`: the birthday counts from the day itself (29 Feb: 1 March)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


AGE_CLASSES = ("Y_LT14", "Y14-17", "Y18-34", "Y35-64", "Y_GE65", UNKNOWN)
"""Age classes of every applicant table, in Eurostat's order."""

MINOR_AGE_CLASSES = ("Y_LT14", "Y14-15", "Y16-17", UNKNOWN)
"""Age classes of the unaccompanied minors' table."""


def age_class(born: date | None, on: date) -> str:
    """The age class of someone born on `born` at the counted event on `on` (`UNK`: no date)."""
    if born is None or born > on:
        return UNKNOWN
    years = age_in_years(born, on)
    if years < 14:
        return "Y_LT14"
    if years < 18:
        return "Y14-17"
    if years < 35:
        return "Y18-34"
    if years < 65:
        return "Y35-64"
    return "Y_GE65"


def minor_age_class(born: date | None, on: date) -> str | None:
    """The unaccompanied minors' age class; None for someone 18 or over on `on` (no minor)."""
    if born is None or born > on:
        return UNKNOWN
    years = age_in_years(born, on)
    if years >= 18:
        return None
    return "Y_LT14" if years < 14 else "Y14-15" if years < 16 else "Y16-17"


DECISIONS = ("TOTAL", "TOTAL_POS", "GENCONV", "SUB_PROT", "HUMSTAT", "REJECTED")
"""Decision codes: all, total positive, Geneva Convention status, subsidiary, humanitarian,
rejected."""

_DECISION = {
    "refugee_status": "GENCONV",
    "subsidiary_protection": "SUB_PROT",
    "humanitarian": "HUMSTAT",
    "rejected": "REJECTED",
    "manifestly_unfounded": "REJECTED",
    # Eurostat counts inadmissibility decisions as rejections (shared/domain.md, Statistics).
    "inadmissible": "REJECTED",
}
POSITIVE = frozenset({"GENCONV", "SUB_PROT", "HUMSTAT"})


def decision(outcome: str) -> str | None:
    """The detailed decision code of an outcome (None: not a decision Eurostat counts)."""
    return _DECISION.get(outcome)


def decision_cells(outcome: str) -> tuple[str, ...]:
    """Every decision code one decision is counted under.

    Its own code, `TOTAL_POS` if it is positive, and `TOTAL`.
    """
    code = decision(outcome)
    if code is None:
        return ()
    return ("TOTAL", "TOTAL_POS", code) if code in POSITIVE else ("TOTAL", code)


WITHDRAWALS = {"withdrawn": "EXPL", "discontinued": "IMPL"}
"""A closure (db/stat_facts.py `CLOSED` key) → the withdrawal type: explicit or implicit."""

APPLICANTS = {"first_time": "NASY_APP", "subsequent": "SUBS_APP"}
"""An application's kind → the applicant type code (first-time, subsequent)."""


def month(on: date) -> str:
    """`YYYY-MM`: Eurostat's monthly period (`TIME_PERIOD`)."""
    return f"{on.year:04d}-{on.month:02d}"


def quarter(on: date) -> str:
    """`YYYY-Qn`: Eurostat's quarterly period."""
    return f"{on.year:04d}-Q{(on.month - 1) // 3 + 1}"


def round5(n: int) -> int:
    """`n` rounded to the nearest multiple of 5, as Eurostat publishes (1, 2 → 0; 3, 4 → 5).

    No tie is possible for whole numbers; each cell is rounded on its own, so rounded cells
    need not add up to a rounded total.
    """
    return 5 * ((n + 2) // 5)
