"""Hand-worked deadline examples: every expected value below was counted on a calendar.

The rules are those of shared/domain.md ("Legal clocks", "Counting"): the trigger day is not
counted; months end on the same date (or the last day of a shorter month); acts roll to the next
working day of the pack's calendar, entitlements do not; the eu packs add the two-working-days rule
of Reg 1182/71 Art 3(5); applicant pauses run [start, end) and only count inside the running
period. Public holidays were looked up once in the `holidays` package; they are written out in the
reasons. No expected value is computed: they are all literals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from models.deadlines import (
    Deadline,
    Occurrence,
    Pause,
    add_period,
    calendar_for,
    compute_deadlines,
    compute_due,
)
from models.enums import (
    Attribution,
    ClockName,
    ClockStatus,
    LegalEvent,
    Outcome,
    Procedure,
    Unit,
)
from models.rules import Period, Situation, get_pack, governing_pack

CALENDAR = {
    "eu-2013": "weekends",
    "eu-2024": "weekends",
    "me-2018": "ME",
    "pl-2015": "PL",
    "rs-2018": "RS",
    "rs-2023": "RS",
}

C = ClockName
S = ClockStatus
D = date


@dataclass(frozen=True)
class Worked:
    """One hand-worked example: the case, the clock, and what a lawyer would count."""

    why: str
    pack: str  # a pack id, or a family resolved by governing_pack from the made/lodged events
    clock: ClockName
    events: dict[str, date]  # in the order they happened
    due: date
    procedure: Procedure = Procedure.REGULAR
    outcome: Outcome | None = None
    facts: frozenset[str] = frozenset()
    grounds: str | None = None
    pauses: tuple[Pause, ...] = ()
    extensions: int = 0
    as_of: date | None = None
    status: ClockStatus | None = None
    rolled: bool | None = None
    pause_days: int | None = None
    period: str | None = None
    rule: str | None = None
    resolved: str | None = None  # the pack governing_pack must choose
    trigger: tuple[str, date] | None = None
    late: bool | None = None


def pause(
    start: date,
    end: date | None,
    *,
    by: Attribution = Attribution.APPLICANT,
    clocks: list[ClockName] | None = None,
) -> Pause:
    return Pause(start=start, end=end, attributable_to=by, clocks=clocks)


RS_LODGED = {"lodged": D(2026, 1, 15)}  # Thu 15 Jan 2026
RS_2026 = "rs-2023"
FEB_PAUSE = pause(D(2026, 2, 2), D(2026, 2, 12))  # 2..11 Feb: 10 days
SWITCH_EVENTS = {
    "made": D(2026, 6, 10),
    "registered": D(2026, 6, 11),
    "lodged": D(2026, 6, 15),
}

DUB_604 = {"registered": D(2026, 3, 5), "lodged": D(2026, 3, 10)}  # before 1 July 2026
DUB_AMMR = {"made": D(2026, 7, 3), "registered": D(2026, 7, 6), "lodged": D(2026, 7, 20)}

WORKED = [
    # ----------------------------------------------------------------- month-end clamp
    pytest.param(
        Worked(
            why="31 May 2024 + 9 months: no 31 Feb -> last day of Feb, 28 Feb 2025 (Fri)",
            pack="eu-2013",
            clock=C.LABOUR_MARKET_ACCESS,
            events={"lodged": D(2024, 5, 31)},
            due=D(2025, 2, 28),
            rolled=False,
            period="9 months",
            rule="eu-2013/rcd-15-1",
            trigger=("lodged", D(2024, 5, 31)),
        ),
        id="clamp-31may-9m-feb28",
    ),
    pytest.param(
        Worked(
            why="31 May 2027 + 9 months: no 31 Feb -> 29 Feb 2028 (leap year, Tue)",
            pack="me-2018",
            clock=C.LABOUR_MARKET_ACCESS,
            events={"lodged": D(2027, 5, 31)},
            due=D(2028, 2, 29),
            rolled=False,
            period="9 months",
            rule="me-2018/litp-labour",
        ),
        id="clamp-31may-9m-feb29-leap",
    ),
    pytest.param(
        Worked(
            why="30 Nov 2027 + 3 months: no 30 Feb -> 29 Feb 2028 (leap, Tue, working day)",
            pack="rs-2023",
            clock=C.DECISION,
            events={"lodged": D(2027, 11, 30)},
            due=D(2028, 2, 29),
            rolled=False,
            period="3 months",
        ),
        id="clamp-rs-decision-30nov-feb29",
    ),
    pytest.param(
        Worked(
            why="29 Aug 2025 + 6 months: no 29 Feb 2026 -> Sat 28 Feb -> rolls to Mon 2 Mar",
            pack="pl-2015",
            clock=C.DECISION,
            events={"lodged": D(2025, 8, 29)},
            due=D(2026, 3, 2),
            rolled=True,
            period="6 months",
            rule="pl-2015/agp-34",
        ),
        id="clamp-pl-decision-29aug-sat-roll",
    ),
    pytest.param(
        Worked(
            why="discontinued 30 May 2025 + 9 months -> 28 Feb 2026 (Sat) -> Mon 2 Mar 2026",
            pack="eu-2013",
            clock=C.REOPEN_WINDOW,
            events={"lodged": D(2025, 1, 10), "discontinued": D(2025, 5, 30)},
            due=D(2026, 3, 2),
            rolled=True,
            rule="eu-2013/apd-28-2",
            trigger=("discontinued", D(2025, 5, 30)),
        ),
        id="clamp-eu-reopen-30may-sat-roll",
    ),
    pytest.param(
        Worked(
            why="31 Aug 2026 + 6 months -> 28 Feb 2027 (Sun) -> Mon 1 Mar 2027 (eu weekends)",
            pack="eu-2024",
            clock=C.DECISION,
            events={"made": D(2026, 8, 20), "registered": D(2026, 8, 24), "lodged": D(2026, 8, 31)},
            due=D(2027, 3, 1),
            rolled=True,
            rule="eu-2024/apr-35-4",
        ),
        id="clamp-eu2024-decision-31aug-sun-roll",
    ),
    # ----------------------------------------------------------------- 29 February triggers
    pytest.param(
        Worked(
            why="lodged 29 Feb 2028 + 9 months -> 29 Nov 2028 (Wed): the date exists",
            pack="eu-2013",
            clock=C.LABOUR_MARKET_ACCESS,
            events={"lodged": D(2028, 2, 29)},
            due=D(2028, 11, 29),
            rolled=False,
        ),
        id="feb29-eu2013-labour-9m",
    ),
    pytest.param(
        Worked(
            why="notified 29 Feb 2028 + 15 days: 1 Mar is day 1 -> 15 Mar 2028 (Wed)",
            pack="rs-2023",
            clock=C.APPEAL,
            events={"notified": D(2028, 2, 29)},
            due=D(2028, 3, 15),
            rolled=False,
            period="15 days",
        ),
        id="feb29-rs-appeal-15d",
    ),
    pytest.param(
        Worked(
            why="lodged 29 Feb 2028 + 6 months -> 29 Aug 2028 (Tue)",
            pack="pl-2015",
            clock=C.DECISION,
            events={"lodged": D(2028, 2, 29)},
            due=D(2028, 8, 29),
            rolled=False,
        ),
        id="feb29-pl-decision-6m",
    ),
    pytest.param(
        Worked(
            why="29 Feb 2028 + (6+6) months extended: no 29 Feb 2029 -> 28 Feb 2029 (Wed)",
            pack="eu-2024",
            clock=C.DECISION,
            events={"lodged": D(2028, 2, 29)},
            extensions=1,
            due=D(2029, 2, 28),
            rolled=False,
            period="12 months",
        ),
        id="feb29-eu2024-decision-extended-12m",
    ),
    # ----------------------------------------------------------------- Serbia (RS holidays)
    pytest.param(
        Worked(
            why="17 Dec 2025 + 15 days = Thu 1 Jan 2026; New Year 1-2 Jan, then Sat, Sun -> Mon 5",
            pack="rs-2023",
            clock=C.APPEAL,
            events={"notified": D(2025, 12, 17)},
            due=D(2026, 1, 5),
            rolled=True,
        ),
        id="rs-new-year-chain",
    ),
    pytest.param(
        Worked(
            why="30 Dec 2025 + 8 days = Wed 7 Jan 2026, Orthodox Christmas -> Thu 8 Jan",
            pack="rs-2023",
            clock=C.APPEAL,
            procedure=Procedure.ACCELERATED,
            events={"notified": D(2025, 12, 30)},
            due=D(2026, 1, 8),
            rolled=True,
            period="8 days",
            rule="rs-2023/lat-95-accelerated",
        ),
        id="rs-orthodox-christmas",
    ),
    pytest.param(
        Worked(
            why="Mon 27 Dec 2027 + 5 days = Sat 1 Jan 2028; Sun 2, Mon 3 (New Year observed) "
            "-> Tue 4",
            pack="rs-2023",
            clock=C.APPEAL,
            procedure=Procedure.BORDER,
            events={"notified": D(2027, 12, 27)},
            due=D(2028, 1, 4),
            rolled=True,
            period="5 days",
            rule="rs-2023/lat-95-border",
        ),
        id="rs-new-year-observed-2028",
    ),
    pytest.param(
        Worked(
            why="Tue 10 Feb 2026 + 5 days = Sun 15 Feb (Statehood); Mon 16, Tue 17 observed "
            "-> Wed 18",
            pack="rs-2023",
            clock=C.APPEAL,
            procedure=Procedure.BORDER,
            events={"notified": D(2026, 2, 10)},
            due=D(2026, 2, 18),
            rolled=True,
        ),
        id="rs-statehood-observed-2026",
    ),
    pytest.param(
        Worked(
            why="Fri 13 Nov 2026 + 3 months = Sat 13 Feb 2027; Sun, Statehood Mon 15-Tue 16 "
            "-> Wed 17",
            pack="rs-2023",
            clock=C.DECISION,
            events={"lodged": D(2026, 11, 13)},
            due=D(2027, 2, 17),
            rolled=True,
            rule="rs-2023/lat-39",
        ),
        id="rs-statehood-2027-after-weekend",
    ),
    pytest.param(
        Worked(
            why="Wed 11 Mar 2026 + 30 days = Fri 10 Apr, Orthodox Good Friday..Easter Mon 13 "
            "-> Tue 14",
            pack="rs-2023",
            clock=C.DECISION,
            procedure=Procedure.ACCELERATED,
            events={"lodged": D(2026, 3, 11)},
            due=D(2026, 4, 14),
            rolled=True,
            period="30 days",
            rule="rs-2023/lat-40",
        ),
        id="rs-orthodox-easter-2026",
    ),
    pytest.param(
        Worked(
            why="Thu 15 Apr 2027 + 15 days = Fri 30 Apr (Good Fri); Sat, Sun, Easter Mon 3 May, "
            "Labour Day observed Tue 4 -> Wed 5 May",
            pack="rs-2023",
            clock=C.APPEAL,
            events={"notified": D(2027, 4, 15)},
            due=D(2027, 5, 5),
            rolled=True,
        ),
        id="rs-easter-and-labour-day-2027",
    ),
    pytest.param(
        Worked(
            why="registered Tue 27 Oct 2026 + 15 days = Wed 11 Nov (Armistice Day) -> Thu 12 Nov",
            pack="rs-2023",
            clock=C.LODGING,
            events={"made": D(2026, 10, 20), "registered": D(2026, 10, 27)},
            due=D(2026, 11, 12),
            rolled=True,
            rule="rs-2023/lat-36",
            trigger=("registered", D(2026, 10, 27)),
        ),
        id="rs-armistice-day",
    ),
    pytest.param(
        Worked(
            why="no Art 3(5) in rs: Thu 29 Apr 2027 + 5 days = Tue 4 May (hol) -> Wed 5 May, "
            "although 30 Apr-5 May has a single working day",
            pack="rs-2023",
            clock=C.APPEAL,
            procedure=Procedure.BORDER,
            events={"notified": D(2027, 4, 29)},
            due=D(2027, 5, 5),
            rolled=True,
        ),
        id="rs-no-two-working-days-rule",
    ),
    pytest.param(
        Worked(
            why="entitlement: Mon 7 Jul 2025 + 6 months = Wed 7 Jan 2026 (Orthodox Christmas): "
            "no roll",
            pack="rs-2023",
            clock=C.LABOUR_MARKET_ACCESS,
            events={"lodged": D(2025, 7, 7)},
            due=D(2026, 1, 7),
            rolled=False,
            period="6 months",
        ),
        id="rs-labour-on-christmas-no-roll",
    ),
    # ----------------------------------------------------------------- Montenegro
    pytest.param(
        Worked(
            why="made Wed 6 May 2026 + 15 days = Thu 21 May (Independence Day), Fri 22 too, "
            "weekend -> Mon 25 May",
            pack="me-2018",
            clock=C.LODGING,
            events={"made": D(2026, 5, 6)},
            due=D(2026, 5, 25),
            rolled=True,
            period="15 days",
            rule="me-2018/litp-lodging",
            trigger=("made", D(2026, 5, 6)),
        ),
        id="me-independence-day",
    ),
    pytest.param(
        Worked(
            why="made Fri 26 Jun 2026 + 15 days = Sat 11 Jul; Sun, Statehood Mon 13-Tue 14 "
            "-> Wed 15",
            pack="me-2018",
            clock=C.LODGING,
            events={"made": D(2026, 6, 26)},
            due=D(2026, 7, 15),
            rolled=True,
            rule="me-2018/litp-lodging",
        ),
        id="me-statehood-day",
    ),
    pytest.param(
        Worked(
            why="made Fri 16 Apr 2027 + 15 days = Sat 1 May (Labour Day), Sun 2, Mon 3 "
            "observed -> Tue 4",
            pack="me-2018",
            clock=C.LODGING,
            events={"made": D(2027, 4, 16)},
            due=D(2027, 5, 4),
            rolled=True,
        ),
        id="me-labour-day-observed-2027",
    ),
    pytest.param(
        Worked(
            why="Wed 13 May 2026 + 6 months = Fri 13 Nov (Njegos Day), weekend -> Mon 16 Nov",
            pack="me-2018",
            clock=C.DECISION,
            events={"lodged": D(2026, 5, 13)},
            due=D(2026, 11, 16),
            rolled=True,
        ),
        id="me-njegos-day",
    ),
    pytest.param(
        Worked(
            why="entitlement: Fri 13 Feb 2026 + 9 months = Fri 13 Nov (Njegos Day): no roll",
            pack="me-2018",
            clock=C.LABOUR_MARKET_ACCESS,
            events={"lodged": D(2026, 2, 13)},
            due=D(2026, 11, 13),
            rolled=False,
        ),
        id="me-labour-on-holiday-no-roll",
    ),
    # ----------------------------------------------------------------- Poland
    pytest.param(
        Worked(
            why="Fri 17 Apr 2026 + 14 days = Fri 1 May (hol), Sat 2, Sun 3 May (hol) -> Mon 4 May",
            pack="pl-2015",
            clock=C.APPEAL,
            events={"notified": D(2026, 4, 17)},
            due=D(2026, 5, 4),
            rolled=True,
            period="14 days",
            rule="pl-2015/agp-appeal",
        ),
        id="pl-may-1-3-2026",
    ),
    pytest.param(
        Worked(
            why="Thu 1 Apr 2027 + 30 days = Sat 1 May; Sun 2, Mon 3 May (Constitution Day) "
            "-> Tue 4",
            pack="pl-2015",
            clock=C.DECISION,
            procedure=Procedure.ACCELERATED,
            events={"lodged": D(2027, 4, 1)},
            due=D(2027, 5, 4),
            rolled=True,
            period="30 days",
            rule="pl-2015/agp-34-accelerated",
        ),
        id="pl-may-1-3-2027",
    ),
    pytest.param(
        Worked(
            why="Wed 28 Oct 2026 + 14 days = Wed 11 Nov (Independence Day) -> Thu 12 Nov",
            pack="pl-2015",
            clock=C.APPEAL,
            events={"notified": D(2026, 10, 28)},
            due=D(2026, 11, 12),
            rolled=True,
        ),
        id="pl-independence-day",
    ),
    pytest.param(
        Worked(
            why="Thu 10 Dec 2026 + 14 days = Thu 24 Dec (Christmas Eve, a holiday since 2025), "
            "25, Sat 26 (hol), Sun -> Mon 28",
            pack="pl-2015",
            clock=C.APPEAL,
            events={"notified": D(2026, 12, 10)},
            due=D(2026, 12, 28),
            rolled=True,
        ),
        id="pl-christmas-2026",
    ),
    pytest.param(
        Worked(
            why="Tue 10 Dec 2024 + 14 days = Tue 24 Dec 2024: not yet a holiday in 2024, no roll",
            pack="pl-2015",
            clock=C.APPEAL,
            events={"notified": D(2024, 12, 10)},
            due=D(2024, 12, 24),
            rolled=False,
        ),
        id="pl-christmas-eve-2024-working",
    ),
    pytest.param(
        Worked(
            why="Thu 24 Jun 2027 + 6 months = Fri 24 Dec (hol), Sat 25, Sun 26 -> Mon 27 Dec",
            pack="pl-2015",
            clock=C.DECISION,
            events={"lodged": D(2027, 6, 24)},
            due=D(2027, 12, 27),
            rolled=True,
        ),
        id="pl-christmas-2027",
    ),
    pytest.param(
        Worked(
            why="Wed 23 Dec 2026 + 14 days = Wed 6 Jan 2027 (Epiphany) -> Thu 7 Jan",
            pack="pl-2015",
            clock=C.APPEAL,
            events={"notified": D(2026, 12, 23)},
            due=D(2027, 1, 7),
            rolled=True,
        ),
        id="pl-epiphany",
    ),
    pytest.param(
        Worked(
            why="entitlement: Mon 11 May 2026 + 6 months = Wed 11 Nov (Independence Day): no roll",
            pack="pl-2015",
            clock=C.LABOUR_MARKET_ACCESS,
            events={"lodged": D(2026, 5, 11)},
            due=D(2026, 11, 11),
            rolled=False,
            rule="pl-2015/agp-35",
        ),
        id="pl-labour-on-holiday-no-roll",
    ),
    # ----------------------------------------------------------------- entitlement on weekend
    pytest.param(
        Worked(
            why="entitlement: registered Fri 12 Jun 2026 + 6 months = Sat 12 Dec 2026: no roll",
            pack="eu-2024",
            clock=C.LABOUR_MARKET_ACCESS,
            events={"made": D(2026, 6, 12), "registered": D(2026, 6, 12)},
            due=D(2026, 12, 12),
            rolled=False,
            rule="eu-2024/rcd24-17-1",
        ),
        id="eu2024-labour-on-saturday-no-roll",
    ),
    pytest.param(
        Worked(
            why="accelerated without Art 42(1)(a)-(f) grounds keeps the clock: 1 Jul 2026 + 6 "
            "months = Fri 1 Jan 2027 (no holidays in the eu calendar)",
            pack="eu-2024",
            clock=C.LABOUR_MARKET_ACCESS,
            procedure=Procedure.ACCELERATED,
            events={"made": D(2026, 6, 29), "registered": D(2026, 7, 1)},
            due=D(2027, 1, 1),
            rolled=False,
        ),
        id="eu2024-labour-accelerated-no-grounds",
    ),
    # ----------------------------------------------------------------- working-day clocks
    pytest.param(
        Worked(
            why="made Thu 4 Dec 2025: Fri 5, Mon 8, Tue 9 = 3 working days",
            pack="eu-2013",
            clock=C.REGISTRATION,
            events={"made": D(2025, 12, 4)},
            due=D(2025, 12, 9),
            rolled=False,
            period="3 working days",
            rule="eu-2013/apd-6-1",
        ),
        id="eu2013-registration-3wd-thu",
    ),
    pytest.param(
        Worked(
            why="made Fri 5 Dec 2025: Mon 8, Tue 9, Wed 10 = 3 working days",
            pack="eu-2013",
            clock=C.REGISTRATION,
            events={"made": D(2025, 12, 5)},
            due=D(2025, 12, 10),
            rolled=False,
        ),
        id="eu2013-registration-3wd-fri",
    ),
    pytest.param(
        Worked(
            why="other authority, made Wed 10 Dec 2025: Thu 11, Fri 12, Mon 15..Thu 18 = 6 wd",
            pack="eu-2013",
            clock=C.REGISTRATION,
            facts=frozenset({"to_other_authority"}),
            events={"made": D(2025, 12, 10)},
            due=D(2025, 12, 18),
            period="6 working days",
            rule="eu-2013/apd-6-1-other-authority",
        ),
        id="eu2013-registration-6wd",
    ),
    pytest.param(
        Worked(
            why="mass influx, made Mon 22 Dec 2025: 23..26, 29..31, 1, 2, 5 Jan = 10 wd (eu "
            "calendar has no holidays: 25 Dec and 1 Jan count)",
            pack="eu-2013",
            clock=C.REGISTRATION,
            facts=frozenset({"mass_influx"}),
            events={"made": D(2025, 12, 22)},
            due=D(2026, 1, 5),
            period="10 working days",
            rule="eu-2013/apd-6-5-mass-influx",
        ),
        id="eu2013-registration-10wd-over-christmas",
    ),
    pytest.param(
        Worked(
            why="UASC, made Fri 12 Jun 2026: 15..19, 22..26, 29 Jun..3 Jul = 15 wd -> Fri 3 Jul",
            pack="eu-2024",
            clock=C.UASC_REPRESENTATIVE,
            facts=frozenset({"unaccompanied_child"}),
            events={"made": D(2026, 6, 12)},
            due=D(2026, 7, 3),
            rolled=False,
            period="15 working days",
            rule="eu-2024/apr-23-2-b",
        ),
        id="eu2024-uasc-15wd-fri",
    ),
    pytest.param(
        Worked(
            why="UASC, made Wed 17 Jun 2026: Thu 18, Fri 19 (2), 22-26 (7), 29-3 Jul (12), "
            "6, 7, 8 Jul (15) -> Wed 8 Jul",
            pack="eu-2024",
            clock=C.UASC_REPRESENTATIVE,
            facts=frozenset({"unaccompanied_child"}),
            events={"made": D(2026, 6, 17)},
            due=D(2026, 7, 8),
        ),
        id="eu2024-uasc-15wd-wed",
    ),
    pytest.param(
        Worked(
            why="UASC in disproportionate numbers: 15 + 10 wd from Fri 12 Jun 2026 -> 3 Jul, "
            "then 6-10, 13-17 Jul -> Fri 17 Jul",
            pack="eu-2024",
            clock=C.UASC_REPRESENTATIVE,
            facts=frozenset({"unaccompanied_child", "mass_influx"}),
            events={"made": D(2026, 6, 12)},
            due=D(2026, 7, 17),
            period="25 working days",
            rule="eu-2024/apr-23-3",
        ),
        id="eu2024-uasc-25wd-mass-influx",
    ),
    pytest.param(
        Worked(
            why="subsequent application lodged Thu 2 Jul 2026: Fri 3, 6-10, 13-16 Jul = 10 wd",
            pack="eu-2024",
            clock=C.ADMISSIBILITY_DECISION,
            facts=frozenset({"subsequent"}),
            events={"lodged": D(2026, 7, 2)},
            due=D(2026, 7, 16),
            period="10 working days",
            rule="eu-2024/apr-35-1-subsequent",
        ),
        id="eu2024-subsequent-admissibility-10wd",
    ),
    # ----------------------------------------------------------------- Art 3(5), eu packs
    pytest.param(
        Worked(
            why="screening 3 days from Thu 2 Jul 2026 = Sun 5 Jul -> Mon 6 (Fri 3 + Mon 6 = 2 wd)",
            pack="eu-2024",
            clock=C.SCREENING,
            events={"identified": D(2026, 7, 2)},
            due=D(2026, 7, 6),
            rolled=True,
            period="3 days",
            rule="eu-2024/screening-8-4",
        ),
        id="eu2024-screening-3d-thu",
    ),
    pytest.param(
        Worked(
            why="screening 3 days from Fri 3 Jul 2026 = Mon 6, but Sat-Mon holds 1 working day: "
            "Art 3(5) -> 2nd working day, Tue 7 Jul",
            pack="eu-2024",
            clock=C.SCREENING,
            events={"identified": D(2026, 7, 3)},
            due=D(2026, 7, 7),
        ),
        id="eu2024-screening-3d-fri-art-3-5",
    ),
    pytest.param(
        Worked(
            why="screening 3 days from Wed 1 Jul 2026 = Sat 4 -> rolls to Mon 6 Jul",
            pack="eu-2024",
            clock=C.SCREENING,
            events={"identified": D(2026, 7, 1)},
            due=D(2026, 7, 6),
            rolled=True,
        ),
        id="eu2024-screening-3d-wed",
    ),
    pytest.param(
        Worked(
            why="border screening held >72 h: 4 days from Fri 3 Jul 2026 = Tue 7 (Mon, Tue: 2 wd)",
            pack="eu-2024",
            clock=C.SCREENING,
            facts=frozenset({"identified_at_border", "held_over_72h"}),
            events={"identified": D(2026, 7, 3)},
            due=D(2026, 7, 7),
            rolled=False,
            period="4 days",
            rule="eu-2024/screening-8-3-held",
        ),
        id="eu2024-screening-4d-held",
    ),
    pytest.param(
        Worked(
            why="border screening: 7 days from Fri 3 Jul 2026 = Fri 10 Jul",
            pack="eu-2024",
            clock=C.SCREENING,
            facts=frozenset({"identified_at_border"}),
            events={"identified": D(2026, 7, 3)},
            due=D(2026, 7, 10),
            rolled=False,
            period="7 days",
            rule="eu-2024/screening-8-3",
        ),
        id="eu2024-screening-7d-border",
    ),
    # ----------------------------------------------------------------- the 12 June 2026 switch
    pytest.param(
        Worked(
            why="made 10 Jun, registered 11 Jun, lodged 15 Jun 2026 -> eu-2024 pinned; labour "
            "market 6 months after registration -> Fri 11 Dec 2026",
            pack="eu",
            clock=C.LABOUR_MARKET_ACCESS,
            events=SWITCH_EVENTS,
            due=D(2026, 12, 11),
            resolved="eu-2024",
            rolled=False,
            period="6 months",
            rule="eu-2024/rcd24-17-1",
            trigger=("registered", D(2026, 6, 11)),
        ),
        id="switch-labour-from-registration",
    ),
    pytest.param(
        Worked(
            why="made 1 Jun, lodged Thu 11 Jun 2026 (before 12 Jun) -> eu-2013; 9 months after "
            "lodging -> Thu 11 Mar 2027",
            pack="eu",
            clock=C.LABOUR_MARKET_ACCESS,
            events={"made": D(2026, 6, 1), "registered": D(2026, 6, 3), "lodged": D(2026, 6, 11)},
            due=D(2027, 3, 11),
            resolved="eu-2013",
            period="9 months",
            rule="eu-2013/rcd-15-1",
            trigger=("lodged", D(2026, 6, 11)),
        ),
        id="switch-lodged-11-june-stays-eu2013",
    ),
    pytest.param(
        Worked(
            why="eu-2024 registration: made Wed 10 Jun 2026 + 5 days = Mon 15 Jun; met 11 Jun",
            pack="eu",
            clock=C.REGISTRATION,
            events=SWITCH_EVENTS,
            due=D(2026, 6, 15),
            resolved="eu-2024",
            as_of=D(2026, 6, 15),
            status=S.MET,
            period="5 days",
            rule="eu-2024/apr-27-1",
            late=False,
        ),
        id="switch-registration-met",
    ),
    pytest.param(
        Worked(
            why="eu-2024 lodging: registered Thu 11 Jun + 21 days = Thu 2 Jul 2026; met 15 Jun",
            pack="eu",
            clock=C.LODGING,
            events=SWITCH_EVENTS,
            due=D(2026, 7, 2),
            resolved="eu-2024",
            as_of=D(2026, 6, 20),
            status=S.MET,
            period="21 days",
            rule="eu-2024/apr-28-1",
        ),
        id="switch-lodging-21d-met",
    ),
    pytest.param(
        Worked(
            why="made Mon 8 Jun 2026, not lodged: eu-2013 provisionally; 3 wd -> Thu 11 Jun",
            pack="eu",
            clock=C.REGISTRATION,
            events={"made": D(2026, 6, 8)},
            due=D(2026, 6, 11),
            resolved="eu-2013",
            as_of=D(2026, 6, 9),
            status=S.RUNNING,
            period="3 working days",
        ),
        id="switch-provisional-eu2013",
    ),
    pytest.param(
        Worked(
            why="made Mon 15 Jun 2026: eu-2024 provisionally; 5 days = Sat 20 -> Mon 22 Jun",
            pack="eu",
            clock=C.REGISTRATION,
            events={"made": D(2026, 6, 15)},
            due=D(2026, 6, 22),
            resolved="eu-2024",
            rolled=True,
            period="5 days",
        ),
        id="switch-provisional-eu2024",
    ),
    pytest.param(
        Worked(
            why="border procedure: registered Mon 29 Jun 2026 + 5 days = Sat 4 Jul -> Mon 6 Jul",
            pack="eu-2024",
            clock=C.LODGING,
            procedure=Procedure.BORDER,
            events={"made": D(2026, 6, 29), "registered": D(2026, 6, 29)},
            due=D(2026, 7, 6),
            rolled=True,
            period="5 days",
            rule="eu-2024/apr-51-1",
        ),
        id="eu2024-border-lodging-5d",
    ),
    pytest.param(
        Worked(
            why="border procedure 12 weeks from registration Wed 1 Jul 2026 -> Wed 23 Sep 2026",
            pack="eu-2024",
            clock=C.BORDER_PROCEDURE,
            procedure=Procedure.BORDER,
            events={"made": D(2026, 6, 30), "registered": D(2026, 7, 1)},
            due=D(2026, 9, 23),
            period="12 weeks",
            rule="eu-2024/apr-51-2",
        ),
        id="eu2024-border-procedure-12w",
    ),
    # ----------------------------------------------------------------- rs-2018 vs rs-2023
    pytest.param(
        Worked(
            why="lodged Thu 3 Aug 2023 -> rs-2018: 9 months = Fri 3 May 2024 (Good Friday): "
            "entitlement, no roll",
            pack="rs",
            clock=C.LABOUR_MARKET_ACCESS,
            events={"registered": D(2023, 7, 20), "lodged": D(2023, 8, 3)},
            due=D(2024, 5, 3),
            resolved="rs-2018",
            rolled=False,
            period="9 months",
            rule="rs-2018/efa-2014",
        ),
        id="rs2018-labour-9m",
    ),
    pytest.param(
        Worked(
            why="lodged Thu 1 Feb 2024, the day rs-2023 applies -> 6 months = Thu 1 Aug 2024",
            pack="rs",
            clock=C.LABOUR_MARKET_ACCESS,
            events={"registered": D(2024, 1, 20), "lodged": D(2024, 2, 1)},
            due=D(2024, 8, 1),
            resolved="rs-2023",
            rolled=False,
            period="6 months",
            rule="rs-2023/efa-2023",
        ),
        id="rs2023-labour-6m",
    ),
    pytest.param(
        Worked(
            why="lodged Fri 4 Aug 2023: the 2023 amendment was in force but its work provisions "
            "applied from 1 Feb 2024 -> rs-2018: 9 months = Sat 4 May 2024, no roll",
            pack="rs",
            clock=C.LABOUR_MARKET_ACCESS,
            events={"registered": D(2023, 7, 20), "lodged": D(2023, 8, 4)},
            due=D(2024, 5, 4),
            resolved="rs-2018",
            rolled=False,
            period="9 months",
            rule="rs-2018/efa-2014",
        ),
        id="rs2018-labour-lodged-aug-2023",
    ),
    pytest.param(
        Worked(
            why="lodged Wed 31 Jan 2024, the last day before rs-2023 applies -> rs-2018: "
            "9 months = Wed 31 Oct 2024",
            pack="rs",
            clock=C.LABOUR_MARKET_ACCESS,
            events={"registered": D(2024, 1, 20), "lodged": D(2024, 1, 31)},
            due=D(2024, 10, 31),
            resolved="rs-2018",
            rolled=False,
            period="9 months",
            rule="rs-2018/efa-2014",
        ),
        id="rs2018-labour-lodged-31-jan-2024",
    ),
    # ----------------------------------------------------------------- appeal windows
    pytest.param(
        Worked(
            why="rs regular: notified Mon 2 Mar 2026 + 15 days = Tue 17 Mar",
            pack=RS_2026,
            clock=C.APPEAL,
            outcome=Outcome.REJECTED,
            events={"decided": D(2026, 2, 27), "notified": D(2026, 3, 2)},
            due=D(2026, 3, 17),
            rolled=False,
            period="15 days",
            rule="rs-2023/lat-95",
            trigger=("notified", D(2026, 3, 2)),
        ),
        id="rs-appeal-regular-15d",
    ),
    pytest.param(
        Worked(
            why="rs accelerated: notified Mon 2 Mar 2026 + 8 days = Tue 10 Mar",
            pack=RS_2026,
            clock=C.APPEAL,
            procedure=Procedure.ACCELERATED,
            outcome=Outcome.MANIFESTLY_UNFOUNDED,
            events={"notified": D(2026, 3, 2)},
            due=D(2026, 3, 10),
            period="8 days",
            rule="rs-2023/lat-95-accelerated",
        ),
        id="rs-appeal-accelerated-8d",
    ),
    pytest.param(
        Worked(
            why="rs border: notified Mon 2 Mar 2026 + 5 days = Sat 7 Mar -> Mon 9 Mar",
            pack=RS_2026,
            clock=C.APPEAL,
            procedure=Procedure.BORDER,
            outcome=Outcome.REJECTED,
            events={"notified": D(2026, 3, 2)},
            due=D(2026, 3, 9),
            rolled=True,
            period="5 days",
            rule="rs-2023/lat-95-border",
        ),
        id="rs-appeal-border-5d",
    ),
    pytest.param(
        Worked(
            why="rs inadmissible subsequent application: 8 days from Mon 2 Mar 2026 = Tue 10 Mar",
            pack=RS_2026,
            clock=C.APPEAL,
            procedure=Procedure.ADMISSIBILITY,
            outcome=Outcome.INADMISSIBLE,
            facts=frozenset({"subsequent"}),
            events={"notified": D(2026, 3, 2)},
            due=D(2026, 3, 10),
            rule="rs-2023/lat-95-accelerated",
        ),
        id="rs-appeal-inadmissible-subsequent-8d",
    ),
    pytest.param(
        Worked(
            why="eu-2024 rejected (regular): 2 weeks from Wed 1 Jul 2026 = Wed 15 Jul",
            pack="eu-2024",
            clock=C.APPEAL,
            outcome=Outcome.REJECTED,
            events={"notified": D(2026, 7, 1)},
            due=D(2026, 7, 15),
            rolled=False,
            period="2 weeks",
            rule="eu-2024/apr-67-7-b",
        ),
        id="eu2024-appeal-2w",
    ),
    pytest.param(
        Worked(
            why="eu-2024 manifestly unfounded in the regular procedure is not Art 67(7)(a): "
            "2 weeks from Wed 1 Jul 2026 = Wed 15 Jul",
            pack="eu-2024",
            clock=C.APPEAL,
            outcome=Outcome.MANIFESTLY_UNFOUNDED,
            events={"notified": D(2026, 7, 1)},
            due=D(2026, 7, 15),
            rule="eu-2024/apr-67-7-b",
        ),
        id="eu2024-appeal-mu-regular-2w",
    ),
    pytest.param(
        Worked(
            why="eu-2024 inadmissible: 5 days from Wed 1 Jul 2026 = Mon 6 Jul",
            pack="eu-2024",
            clock=C.APPEAL,
            outcome=Outcome.INADMISSIBLE,
            events={"notified": D(2026, 7, 1)},
            due=D(2026, 7, 6),
            rolled=False,
            period="5 days",
            rule="eu-2024/apr-67-7-a",
        ),
        id="eu2024-appeal-inadmissible-5d",
    ),
    pytest.param(
        Worked(
            why="eu-2024 rejected in the accelerated procedure: 5 days from Thu 2 Jul 2026 = Tue 7",
            pack="eu-2024",
            clock=C.APPEAL,
            procedure=Procedure.ACCELERATED,
            outcome=Outcome.REJECTED,
            events={"notified": D(2026, 7, 2)},
            due=D(2026, 7, 7),
            rolled=False,
            rule="eu-2024/apr-67-7-a",
        ),
        id="eu2024-appeal-accelerated-rejected-5d",
    ),
    pytest.param(
        Worked(
            why="eu-2024 implicit withdrawal: 5 days from discontinuation Fri 3 Jul 2026 = Wed 8",
            pack="eu-2024",
            clock=C.APPEAL,
            outcome=Outcome.IMPLICITLY_WITHDRAWN,
            events={"lodged": D(2026, 6, 15), "discontinued": D(2026, 7, 3)},
            due=D(2026, 7, 8),
            as_of=D(2026, 7, 6),
            status=S.RUNNING,
            rule="eu-2024/apr-67-7-a-withdrawn",
            trigger=("discontinued", D(2026, 7, 3)),
        ),
        id="eu2024-appeal-implicit-withdrawal-5d",
    ),
    pytest.param(
        Worked(
            why="pl: 14 days from Mon 2 Mar 2026 = Mon 16 Mar",
            pack="pl-2015",
            clock=C.APPEAL,
            outcome=Outcome.REJECTED,
            events={"notified": D(2026, 3, 2)},
            due=D(2026, 3, 16),
            rolled=False,
            period="14 days",
        ),
        id="pl-appeal-14d",
    ),
    # ----------------------------------------------------------------- decision clocks
    pytest.param(
        Worked(
            why="rs regular: lodged Thu 15 Jan 2026 + 3 months = Wed 15 Apr; running on 1 Mar",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            due=D(2026, 4, 15),
            as_of=D(2026, 3, 1),
            status=S.RUNNING,
            rolled=False,
            pause_days=0,
            period="3 months",
            rule="rs-2023/lat-39",
            trigger=("lodged", D(2026, 1, 15)),
        ),
        id="rs-decision-3m",
    ),
    pytest.param(
        Worked(
            why="rs accelerated: Mon 2 Mar 2026 + 30 days = Wed 1 Apr (20 days of March + 10)",
            pack=RS_2026,
            clock=C.DECISION,
            procedure=Procedure.ACCELERATED,
            events={"lodged": D(2026, 3, 2)},
            due=D(2026, 4, 1),
            rolled=False,
            period="30 days",
            rule="rs-2023/lat-40",
        ),
        id="rs-decision-accelerated-30d",
    ),
    pytest.param(
        Worked(
            why="rs border: Mon 2 Mar 2026 + 28 days = Mon 30 Mar",
            pack=RS_2026,
            clock=C.BORDER_PROCEDURE,
            procedure=Procedure.BORDER,
            events={"lodged": D(2026, 3, 2)},
            due=D(2026, 3, 30),
            period="28 days",
            rule="rs-2023/lat-41",
        ),
        id="rs-border-28d",
    ),
    pytest.param(
        Worked(
            why="pl: Thu 15 Jan 2026 + 6 months = Wed 15 Jul",
            pack="pl-2015",
            clock=C.DECISION,
            events=RS_LODGED,
            due=D(2026, 7, 15),
            period="6 months",
            rule="pl-2015/agp-34",
        ),
        id="pl-decision-6m",
    ),
    pytest.param(
        Worked(
            why="eu-2013: Thu 15 Jan 2026 + 6 months = Wed 15 Jul",
            pack="eu-2013",
            clock=C.DECISION,
            events=RS_LODGED,
            due=D(2026, 7, 15),
            period="6 months",
            rule="eu-2013/apd-31-3",
        ),
        id="eu2013-decision-6m",
    ),
    pytest.param(
        Worked(
            why="eu-2024 accelerated: Wed 1 Jul 2026 + 3 months = Thu 1 Oct",
            pack="eu-2024",
            clock=C.DECISION,
            procedure=Procedure.ACCELERATED,
            events={"lodged": D(2026, 7, 1)},
            due=D(2026, 10, 1),
            period="3 months",
            rule="eu-2024/apr-35-3",
        ),
        id="eu2024-decision-accelerated-3m",
    ),
    pytest.param(
        Worked(
            why="eu-2024 admissibility: Tue 30 Jun 2026 + 2 months = Sun 30 Aug -> Mon 31 Aug",
            pack="eu-2024",
            clock=C.ADMISSIBILITY_DECISION,
            procedure=Procedure.ADMISSIBILITY,
            events={"lodged": D(2026, 6, 30)},
            due=D(2026, 8, 31),
            rolled=True,
            period="2 months",
            rule="eu-2024/apr-35-1",
        ),
        id="eu2024-admissibility-2m",
    ),
    # ----------------------------------------------------------------- extensions
    pytest.param(
        Worked(
            why="eu-2013 6 + 9 months = 15 months from 15 Jan 2026 -> Thu 15 Apr 2027",
            pack="eu-2013",
            clock=C.DECISION,
            events=RS_LODGED,
            extensions=1,
            due=D(2027, 4, 15),
            period="15 months",
        ),
        id="eu2013-decision-extended-15m",
    ),
    pytest.param(
        Worked(
            why="eu-2013 6 + 9 + 3 months = 18 months from 15 Jan 2026 -> Thu 15 Jul 2027",
            pack="eu-2013",
            clock=C.DECISION,
            events=RS_LODGED,
            extensions=2,
            due=D(2027, 7, 15),
            period="18 months",
        ),
        id="eu2013-decision-extended-18m",
    ),
    pytest.param(
        Worked(
            why="rs 3 + 3 months = 6 months from 15 Jan 2026 -> Wed 15 Jul 2026",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            extensions=1,
            due=D(2026, 7, 15),
            period="6 months",
        ),
        id="rs-decision-extended-6m",
    ),
    pytest.param(
        Worked(
            why="rs 3 + 3 + 3 months = 9 months from 15 Jan 2026 -> Thu 15 Oct 2026",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            extensions=2,
            due=D(2026, 10, 15),
            period="9 months",
        ),
        id="rs-decision-extended-9m",
    ),
    pytest.param(
        Worked(
            why="pl has one 9-month step (cap 15): 3 steps asked still give 15 months "
            "-> 15 Apr 2027",
            pack="pl-2015",
            clock=C.DECISION,
            events=RS_LODGED,
            extensions=3,
            due=D(2027, 4, 15),
            period="15 months",
        ),
        id="pl-decision-extension-capped",
    ),
    # ----------------------------------------------------------------- pauses
    pytest.param(
        Worked(
            why="pause 2-11 Feb (10 days) inside the period: 15 Apr + 10 = Sat 25 Apr -> Mon 27",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            pauses=(FEB_PAUSE,),
            due=D(2026, 4, 27),
            rolled=True,
            pause_days=10,
        ),
        id="pause-one",
    ),
    pytest.param(
        Worked(
            why="two separate pauses, 2-11 Feb (10) and 1-5 Mar (5): 15 Apr + 15 = Thu 30 Apr",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            pauses=(FEB_PAUSE, pause(D(2026, 3, 1), D(2026, 3, 6))),
            due=D(2026, 4, 30),
            rolled=False,
            pause_days=15,
        ),
        id="pause-two-separate",
    ),
    pytest.param(
        Worked(
            why="overlapping pauses 2-11 Feb and 8-19 Feb merge to 2-19 Feb (18 days): 15 Apr + 18 "
            "= Sun 3 May; 1-2 May holidays already past -> Mon 4 May",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            pauses=(FEB_PAUSE, pause(D(2026, 2, 8), D(2026, 2, 20))),
            due=D(2026, 5, 4),
            rolled=True,
            pause_days=18,
        ),
        id="pause-two-overlapping",
    ),
    pytest.param(
        Worked(
            why="pause 14-19 Apr straddles the 15 Apr due date: 14, 15 left, run on 20, 21 -> "
            "Tue 21 Apr (all 6 days count)",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            pauses=(pause(D(2026, 4, 14), D(2026, 4, 20)),),
            due=D(2026, 4, 21),
            rolled=False,
            pause_days=6,
        ),
        id="pause-straddles-due",
    ),
    pytest.param(
        Worked(
            why="pause 15-16 Apr starts on the due day: 15 Apr still to run -> runs on Fri 17 Apr",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            pauses=(pause(D(2026, 4, 15), D(2026, 4, 17)),),
            due=D(2026, 4, 17),
            pause_days=2,
        ),
        id="pause-starts-on-due-day",
    ),
    pytest.param(
        Worked(
            why="pause from 16 Apr, the day after the due date: no effect",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            pauses=(pause(D(2026, 4, 16), D(2026, 5, 1)),),
            due=D(2026, 4, 15),
            pause_days=0,
        ),
        id="pause-after-due",
    ),
    pytest.param(
        Worked(
            why="pause in May, wholly after the 15 Apr due date: no effect",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            pauses=(pause(D(2026, 5, 1), D(2026, 6, 1)),),
            due=D(2026, 4, 15),
            rolled=False,
            pause_days=0,
        ),
        id="pause-wholly-after",
    ),
    pytest.param(
        Worked(
            why="pause 5-19 Jan begins before the 15 Jan trigger: only 16-19 Jan count (4) -> "
            "Sun 19 Apr -> Mon 20 Apr",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            pauses=(pause(D(2026, 1, 5), D(2026, 1, 20)),),
            due=D(2026, 4, 20),
            rolled=True,
            pause_days=4,
        ),
        id="pause-begins-before-trigger",
    ),
    pytest.param(
        Worked(
            why="a delay attributable to the authority stops nothing: 15 Apr",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            pauses=(pause(D(2026, 2, 2), D(2026, 2, 12), by=Attribution.AUTHORITY),),
            due=D(2026, 4, 15),
            pause_days=0,
        ),
        id="pause-authority-no-effect",
    ),
    pytest.param(
        Worked(
            why="a pause limited to the labour-market clock leaves the decision clock at 15 Apr",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            pauses=(pause(D(2026, 2, 2), D(2026, 2, 12), clocks=[C.LABOUR_MARKET_ACCESS]),),
            due=D(2026, 4, 15),
            pause_days=0,
        ),
        id="pause-other-clock-only",
    ),
    pytest.param(
        Worked(
            why="labour market 15 Jul + 10 paused days = Sat 25 Jul 2026: entitlement, no roll",
            pack=RS_2026,
            clock=C.LABOUR_MARKET_ACCESS,
            events=RS_LODGED,
            pauses=(FEB_PAUSE,),
            due=D(2026, 7, 25),
            rolled=False,
            pause_days=10,
        ),
        id="pause-labour-market-no-roll",
    ),
    pytest.param(
        Worked(
            why="the appeal clock is not pausable: Mon 2 Mar 2026 + 15 days = Tue 17 Mar",
            pack=RS_2026,
            clock=C.APPEAL,
            events={"notified": D(2026, 3, 2)},
            pauses=(pause(D(2026, 3, 5), D(2026, 3, 10)),),
            due=D(2026, 3, 17),
            pause_days=0,
        ),
        id="pause-appeal-not-pausable",
    ),
    pytest.param(
        Worked(
            why="open pause since 1 Mar, as of 10 Mar: 1-9 Mar count (9) -> Fri 24 Apr, paused",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            pauses=(pause(D(2026, 3, 1), None),),
            as_of=D(2026, 3, 10),
            due=D(2026, 4, 24),
            status=S.PAUSED,
            pause_days=9,
        ),
        id="pause-open",
    ),
    # ----------------------------------------------------------------- statuses
    pytest.param(
        Worked(
            why="the due day itself (15 Apr) is still running: the act may be done all day",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            as_of=D(2026, 4, 15),
            due=D(2026, 4, 15),
            status=S.RUNNING,
        ),
        id="status-running-on-due-day",
    ),
    pytest.param(
        Worked(
            why="no decision by 15 Apr: expired on 16 Apr",
            pack=RS_2026,
            clock=C.DECISION,
            events=RS_LODGED,
            as_of=D(2026, 4, 16),
            due=D(2026, 4, 15),
            status=S.EXPIRED,
        ),
        id="status-expired",
    ),
    pytest.param(
        Worked(
            why="decided 10 Apr, before the 15 Apr due date: met, on time",
            pack=RS_2026,
            clock=C.DECISION,
            events={**RS_LODGED, "decided": D(2026, 4, 10)},
            as_of=D(2026, 4, 20),
            due=D(2026, 4, 15),
            status=S.MET,
            late=False,
        ),
        id="status-met",
    ),
    pytest.param(
        Worked(
            why="decided 20 Apr, after the 15 Apr due date: late by 5 calendar days",
            pack=RS_2026,
            clock=C.DECISION,
            events={**RS_LODGED, "decided": D(2026, 4, 20)},
            as_of=D(2026, 5, 1),
            due=D(2026, 4, 15),
            status=S.LATE,
            late=True,
        ),
        id="status-late",
    ),
    pytest.param(
        Worked(
            why="a decision dated 10 Apr is not known on 1 Apr: still running",
            pack=RS_2026,
            clock=C.DECISION,
            events={**RS_LODGED, "decided": D(2026, 4, 10)},
            as_of=D(2026, 4, 1),
            due=D(2026, 4, 15),
            status=S.RUNNING,
        ),
        id="status-future-event-unknown",
    ),
    pytest.param(
        Worked(
            why="withdrawn 1 Feb: the decision clock is cancelled",
            pack=RS_2026,
            clock=C.DECISION,
            events={**RS_LODGED, "withdrawn": D(2026, 2, 1)},
            as_of=D(2026, 3, 1),
            due=D(2026, 4, 15),
            status=S.CANCELLED,
        ),
        id="status-cancelled-by-withdrawal",
    ),
    pytest.param(
        Worked(
            why="labour market due 15 Jul 2026: running the day before",
            pack=RS_2026,
            clock=C.LABOUR_MARKET_ACCESS,
            events=RS_LODGED,
            as_of=D(2026, 7, 14),
            due=D(2026, 7, 15),
            status=S.RUNNING,
            rule="rs-2023/efa-2023",
        ),
        id="status-labour-running",
    ),
    pytest.param(
        Worked(
            why="labour market reached on its due day, 15 Jul 2026 (an entitlement exists from "
            "the start of the day)",
            pack=RS_2026,
            clock=C.LABOUR_MARKET_ACCESS,
            events=RS_LODGED,
            as_of=D(2026, 7, 15),
            due=D(2026, 7, 15),
            status=S.REACHED,
        ),
        id="status-labour-reached",
    ),
    pytest.param(
        Worked(
            why="decided 1 Jul, before the 15 Jul labour-market date: cancelled",
            pack=RS_2026,
            clock=C.LABOUR_MARKET_ACCESS,
            events={**RS_LODGED, "decided": D(2026, 7, 1)},
            as_of=D(2026, 7, 20),
            due=D(2026, 7, 15),
            status=S.CANCELLED,
        ),
        id="status-labour-cancelled-by-decision",
    ),
    pytest.param(
        Worked(
            why="decided 20 Jul, after the 15 Jul labour-market date: stays reached",
            pack=RS_2026,
            clock=C.LABOUR_MARKET_ACCESS,
            events={**RS_LODGED, "decided": D(2026, 7, 20)},
            as_of=D(2026, 8, 1),
            due=D(2026, 7, 15),
            status=S.REACHED,
        ),
        id="status-labour-reached-then-decided",
    ),
    # Protection track (issue #19): the Polish guardian (kurator) for an unaccompanied child,
    # 3 days (Art 61; unverified: the court's 3 days run from its receipt of the request).
    pytest.param(
        Worked(
            why="UASC, made Mon 2 Nov 2026: Tue 3, Wed 4, Thu 5 Nov (3 days) -> Thu 5 Nov",
            pack="pl-2015",
            clock=C.UASC_REPRESENTATIVE,
            facts=frozenset({"unaccompanied_child"}),
            events={"made": D(2026, 11, 2)},
            due=D(2026, 11, 5),
            period="3 days",
            rolled=False,
            rule="pl-2015/agp-61",
        ),
        id="pl-uasc-3d",
    ),
    pytest.param(
        Worked(
            why="UASC, made Sun 8 Nov 2026: 3 days end Wed 11 Nov, Independence Day -> Thu 12 Nov",
            pack="pl-2015",
            clock=C.UASC_REPRESENTATIVE,
            facts=frozenset({"unaccompanied_child"}),
            events={"made": D(2026, 11, 8)},
            due=D(2026, 11, 12),
            rolled=True,
        ),
        id="pl-uasc-3d-holiday",
    ),
    pytest.param(
        Worked(
            why="UASC, made Wed 23 Dec 2026: 3 days end Sat 26 Dec (also a holiday); Sun 27 -> "
            "Mon 28 Dec",
            pack="pl-2015",
            clock=C.UASC_REPRESENTATIVE,
            facts=frozenset({"unaccompanied_child"}),
            events={"made": D(2026, 12, 23)},
            due=D(2026, 12, 28),
            rolled=True,
        ),
        id="pl-uasc-3d-christmas",
    ),
    # ------------------------------------------- issue #19: applicant's document, detention
    pytest.param(
        Worked(
            why="RCD 2013 Art 6(1): lodged Mon 2 Mar 2026 + 3 days = Thu 5 Mar (3, 4, 5 Mar are "
            "working days: Art 3(5) holds)",
            pack="eu-2013",
            clock=C.APPLICANT_DOCUMENT,
            events={"lodged": D(2026, 3, 2)},
            due=D(2026, 3, 5),
            rolled=False,
            period="3 days",
            rule="eu-2013/rcd-6-1",
            status=S.RUNNING,
        ),
        id="eu2013-applicant-document-3d",
    ),
    pytest.param(
        Worked(
            why="RCD 2013 Art 6(1): lodged Wed 4 Mar 2026 + 3 days = Sat 7 Mar -> Mon 9 Mar",
            pack="eu-2013",
            clock=C.APPLICANT_DOCUMENT,
            events={"lodged": D(2026, 3, 4)},
            due=D(2026, 3, 9),
            rolled=True,
        ),
        id="eu2013-applicant-document-rolls",
    ),
    pytest.param(
        Worked(
            why="RCD 2013 Art 6(1): lodged 2 Mar, document issued Thu 5 Mar, the due day: met",
            pack="eu-2013",
            clock=C.APPLICANT_DOCUMENT,
            events={"lodged": D(2026, 3, 2), "applicant_document_issued": D(2026, 3, 5)},
            due=D(2026, 3, 5),
            status=S.MET,
            late=False,
        ),
        id="eu2013-applicant-document-met",
    ),
    pytest.param(
        Worked(
            why="pl Art 55(1) (unverified): lodged Wed 23 Dec 2026 + 3 days = Sat 26 Dec (also "
            "the second day of Christmas) -> Sun 27 -> Mon 28 Dec",
            pack="pl-2015",
            clock=C.APPLICANT_DOCUMENT,
            events={"lodged": D(2026, 12, 23)},
            due=D(2026, 12, 28),
            rolled=True,
            rule="pl-2015/agp-55-1",
        ),
        id="pl-applicant-document-christmas",
    ),
    pytest.param(
        Worked(
            why="RCD 2024 Art 11(3): detained Wed 1 Jul 2026 + 15 days = Thu 16 Jul",
            pack="eu-2024",
            clock=C.DETENTION_REVIEW,
            events={"detained": D(2026, 7, 1)},
            due=D(2026, 7, 16),
            rolled=False,
            period="15 days",
            rule="eu-2024/rcd24-11-3",
            status=S.RUNNING,
            trigger=("detained", D(2026, 7, 1)),
        ),
        id="eu2024-detention-review-15d",
    ),
    pytest.param(
        Worked(
            why="RCD 2024 Art 11(3): detained Fri 3 Jul 2026 + 15 days = Sat 18 Jul -> Mon 20 Jul",
            pack="eu-2024",
            clock=C.DETENTION_REVIEW,
            events={"detained": D(2026, 7, 3)},
            due=D(2026, 7, 20),
            rolled=True,
        ),
        id="eu2024-detention-review-rolls",
    ),
    pytest.param(
        Worked(
            why="detained 1 Jul, reviewed Tue 14 Jul, before the 16 Jul due day: met",
            pack="eu-2024",
            clock=C.DETENTION_REVIEW,
            events={"detained": D(2026, 7, 1), "detention_reviewed": D(2026, 7, 14)},
            due=D(2026, 7, 16),
            status=S.MET,
        ),
        id="eu2024-detention-review-met",
    ),
    pytest.param(
        Worked(
            why="detained 1 Jul, released 10 Jul before any review: cancelled",
            pack="eu-2024",
            clock=C.DETENTION_REVIEW,
            events={"detained": D(2026, 7, 1), "released_from_detention": D(2026, 7, 10)},
            due=D(2026, 7, 16),
            status=S.CANCELLED,
        ),
        id="eu2024-detention-review-cancelled-by-release",
    ),
    pytest.param(
        Worked(
            why="detained 1 Jul, no review by 16 Jul: expired on 17 Jul (an authority clock)",
            pack="eu-2024",
            clock=C.DETENTION_REVIEW,
            events={"detained": D(2026, 7, 1)},
            as_of=D(2026, 7, 17),
            due=D(2026, 7, 16),
            status=S.EXPIRED,
        ),
        id="eu2024-detention-review-expired",
    ),
    # ----------------------------------------------------- further appeal (issue 20, tracks)
    pytest.param(
        Worked(
            why="rs: appeal dismissed Fri 9 May 2025 + 30 days = Sun 8 Jun -> rolls to Mon 9 Jun "
            "(Law on Administrative Disputes Art 18(1))",
            pack="rs-2023",
            clock=C.FURTHER_APPEAL,
            events={"lodged": D(2025, 1, 15), "appeal_decided": D(2025, 5, 9)},
            outcome=Outcome.REJECTED,
            due=D(2025, 6, 9),
            rolled=True,
            period="30 days",
            rule="rs-2023/lads-18",
            trigger=("appeal_decided", D(2025, 5, 9)),
            status=S.RUNNING,
            as_of=D(2025, 5, 9),
        ),
        id="rs-further-appeal-30d-rolls-sunday",
    ),
    pytest.param(
        Worked(
            why="pl: Refugee Board decided Wed 1 Apr 2026 + 30 days = Fri 1 May (Labour Day); "
            "Sat 2 May, Sun 3 May (Constitution Day) -> Mon 4 May (PPSA Art 53 §1, 83 §2)",
            pack="pl-2015",
            clock=C.FURTHER_APPEAL,
            events={"lodged": D(2025, 10, 1), "appeal_decided": D(2026, 4, 1)},
            outcome=Outcome.MANIFESTLY_UNFOUNDED,
            due=D(2026, 5, 4),
            rolled=True,
            period="30 days",
            rule="pl-2015/ppsa-53",
        ),
        id="pl-further-appeal-30d-holidays",
    ),
    pytest.param(
        Worked(
            why="rs: suit lodged Tue 3 Jun 2025, inside the window to Mon 9 Jun: met, not late",
            pack="rs-2023",
            clock=C.FURTHER_APPEAL,
            events={
                "lodged": D(2025, 1, 15),
                "appeal_decided": D(2025, 5, 9),
                "further_appeal_lodged": D(2025, 6, 3),
            },
            outcome=Outcome.REJECTED,
            due=D(2025, 6, 9),
            status=S.MET,
            late=False,
        ),
        id="rs-further-appeal-met",
    ),
    # ------------------------------------------- responsibility procedure (issue 20)
    # 604/2013 for applications registered before 1 July 2026, 2024/1351 from that day,
    # whatever pack the lodging pinned. The clocks start once a request is recorded (facts).
    pytest.param(
        Worked(
            why="604/2013 take charge: lodged Tue 10 Mar 2026 + 3 months = Wed 10 Jun 2026",
            pack="eu-2013",
            clock=C.RESPONSIBILITY_REQUEST,
            events={**DUB_604, "responsibility_requested": D(2026, 5, 4)},
            facts=frozenset({"take_charge"}),
            due=D(2026, 6, 10),
            status=S.MET,
            period="3 months",
            rule="eu-2013/dub3-21-1",
            trigger=("lodged", D(2026, 3, 10)),
        ),
        id="dub3-take-charge-3m-from-lodging",
    ),
    pytest.param(
        Worked(
            why="604/2013 take charge on a Eurodac hit received Fri 20 Mar + 2 months = Wed 20 May",
            pack="eu-2013",
            clock=C.RESPONSIBILITY_REQUEST,
            events={
                **DUB_604,
                "eurodac_hit": D(2026, 3, 20),
                "responsibility_requested": D(2026, 5, 4),
            },
            facts=frozenset({"take_charge", "eurodac_hit"}),
            due=D(2026, 5, 20),
            status=S.MET,
            period="2 months",
            rule="eu-2013/dub3-21-1-hit",
            trigger=("eurodac_hit", D(2026, 3, 20)),
        ),
        id="dub3-take-charge-hit-2m",
    ),
    pytest.param(
        Worked(
            why="604/2013 take charge requested Thu 11 Jun, a day after Wed 10 Jun: late",
            pack="eu-2013",
            clock=C.RESPONSIBILITY_REQUEST,
            events={**DUB_604, "responsibility_requested": D(2026, 6, 11)},
            facts=frozenset({"take_charge"}),
            due=D(2026, 6, 10),
            status=S.LATE,
            late=True,
        ),
        id="dub3-take-charge-late",
    ),
    pytest.param(
        Worked(
            why="604/2013 take back on a hit of Fri 20 Mar + 2 months = Wed 20 May (unverified)",
            pack="eu-2013",
            clock=C.RESPONSIBILITY_REQUEST,
            events={
                **DUB_604,
                "eurodac_hit": D(2026, 3, 20),
                "responsibility_requested": D(2026, 4, 1),
            },
            facts=frozenset({"take_back", "eurodac_hit"}),
            due=D(2026, 5, 20),
            rule="eu-2013/dub3-23-2-hit",
        ),
        id="dub3-take-back-hit-2m",
    ),
    pytest.param(
        Worked(
            why="registered Thu 11 Jun 2026 (before 1 July), lodged Mon 15 Jun: pinned eu-2024 "
            "but 604/2013 applies: 15 Jun + 3 months = Tue 15 Sep 2026",
            pack="eu",
            clock=C.RESPONSIBILITY_REQUEST,
            events={**SWITCH_EVENTS, "responsibility_requested": D(2026, 7, 1)},
            facts=frozenset({"take_charge"}),
            due=D(2026, 9, 15),
            resolved="eu-2024",
            rule="eu-2024/dub3-21-1",
        ),
        id="dub3-under-eu2024-by-registration-date",
    ),
    pytest.param(
        Worked(
            why="registered Tue 30 Jun 2026, the last day before 2024/1351: 604/2013, lodged "
            "Thu 2 Jul + 3 months = Fri 2 Oct 2026",
            pack="eu-2024",
            clock=C.RESPONSIBILITY_REQUEST,
            events={
                "registered": D(2026, 6, 30),
                "lodged": D(2026, 7, 2),
                "responsibility_requested": D(2026, 7, 10),
            },
            facts=frozenset({"take_charge"}),
            due=D(2026, 10, 2),
            rule="eu-2024/dub3-21-1",
        ),
        id="dub3-registered-30-june",
    ),
    pytest.param(
        Worked(
            why="registered Wed 1 Jul 2026, the first day of 2024/1351: 1 Jul + 2 months = "
            "Tue 1 Sep 2026 (from registration, Art 39(1))",
            pack="eu-2024",
            clock=C.RESPONSIBILITY_REQUEST,
            events={
                "registered": D(2026, 7, 1),
                "lodged": D(2026, 7, 2),
                "responsibility_requested": D(2026, 7, 10),
            },
            facts=frozenset({"take_charge"}),
            due=D(2026, 9, 1),
            rule="eu-2024/ammr-39-1",
            trigger=("registered", D(2026, 7, 1)),
        ),
        id="ammr-registered-1-july",
    ),
    pytest.param(
        Worked(
            why="2024/1351 take charge: registered Mon 6 Jul + 2 months = Sun 6 Sep -> Mon 7 Sep",
            pack="eu-2024",
            clock=C.RESPONSIBILITY_REQUEST,
            events={**DUB_AMMR, "responsibility_requested": D(2026, 8, 1)},
            facts=frozenset({"take_charge"}),
            due=D(2026, 9, 7),
            rolled=True,
            status=S.MET,
            period="2 months",
            rule="eu-2024/ammr-39-1",
        ),
        id="ammr-take-charge-2m-rolls",
    ),
    pytest.param(
        Worked(
            why="2024/1351 take charge on a hit received Wed 8 Jul + 1 month = Sat 8 Aug -> "
            "Mon 10 Aug",
            pack="eu-2024",
            clock=C.RESPONSIBILITY_REQUEST,
            events={
                **DUB_AMMR,
                "eurodac_hit": D(2026, 7, 8),
                "responsibility_requested": D(2026, 8, 1),
            },
            facts=frozenset({"take_charge", "eurodac_hit"}),
            due=D(2026, 8, 10),
            rolled=True,
            period="1 month",
            rule="eu-2024/ammr-39-1-hit",
        ),
        id="ammr-take-charge-hit-1m",
    ),
    pytest.param(
        Worked(
            why="2024/1351 take-back notification: hit Wed 8 Jul + 2 weeks = Wed 22 Jul",
            pack="eu-2024",
            clock=C.RESPONSIBILITY_REQUEST,
            events={
                **DUB_AMMR,
                "eurodac_hit": D(2026, 7, 8),
                "responsibility_requested": D(2026, 7, 21),
            },
            facts=frozenset({"take_back", "eurodac_hit"}),
            due=D(2026, 7, 22),
            status=S.MET,
            period="2 weeks",
            rule="eu-2024/ammr-41-1",
        ),
        id="ammr-take-back-notification-2w",
    ),
    pytest.param(
        Worked(
            why="604/2013 reply to take charge: requested Wed 1 Apr + 2 months = Mon 1 Jun",
            pack="eu-2013",
            clock=C.RESPONSIBILITY_REPLY,
            events={**DUB_604, "responsibility_requested": D(2026, 4, 1)},
            facts=frozenset({"take_charge"}),
            due=D(2026, 6, 1),
            status=S.RUNNING,
            rule="eu-2013/dub3-22-1",
        ),
        id="dub3-reply-take-charge-2m",
    ),
    pytest.param(
        Worked(
            why="604/2013 reply to take back: requested Wed 1 Apr + 1 month = Fri 1 May (no "
            "holidays in the generic eu calendar)",
            pack="eu-2013",
            clock=C.RESPONSIBILITY_REPLY,
            events={**DUB_604, "responsibility_requested": D(2026, 4, 1)},
            facts=frozenset({"take_back"}),
            due=D(2026, 5, 1),
            rule="eu-2013/dub3-25-1",
        ),
        id="dub3-reply-take-back-1m",
    ),
    pytest.param(
        Worked(
            why="604/2013 reply to take back on Eurodac data: Wed 1 Apr + 2 weeks = Wed 15 Apr",
            pack="eu-2013",
            clock=C.RESPONSIBILITY_REPLY,
            events={
                **DUB_604,
                "eurodac_hit": D(2026, 3, 20),
                "responsibility_requested": D(2026, 4, 1),
            },
            facts=frozenset({"take_back", "eurodac_hit"}),
            due=D(2026, 4, 15),
            rule="eu-2013/dub3-25-1-hit",
        ),
        id="dub3-reply-take-back-hit-2w",
    ),
    pytest.param(
        Worked(
            why="604/2013 reply accepted Mon 1 Jun, on the last day: met",
            pack="eu-2013",
            clock=C.RESPONSIBILITY_REPLY,
            events={
                **DUB_604,
                "responsibility_requested": D(2026, 4, 1),
                "responsibility_accepted": D(2026, 6, 1),
            },
            facts=frozenset({"take_charge"}),
            due=D(2026, 6, 1),
            status=S.MET,
        ),
        id="dub3-reply-met-on-last-day",
    ),
    pytest.param(
        Worked(
            why="2024/1351 reply: requested Tue 1 Sep + 1 month = Thu 1 Oct",
            pack="eu-2024",
            clock=C.RESPONSIBILITY_REPLY,
            events={**DUB_AMMR, "responsibility_requested": D(2026, 9, 1)},
            facts=frozenset({"take_charge"}),
            due=D(2026, 10, 1),
            rule="eu-2024/ammr-40-1",
        ),
        id="ammr-reply-1m",
    ),
    pytest.param(
        Worked(
            why="2024/1351 reply on a hit: requested Tue 1 Sep + 2 weeks = Tue 15 Sep",
            pack="eu-2024",
            clock=C.RESPONSIBILITY_REPLY,
            events={
                **DUB_AMMR,
                "eurodac_hit": D(2026, 7, 8),
                "responsibility_requested": D(2026, 9, 1),
            },
            facts=frozenset({"take_charge", "eurodac_hit"}),
            due=D(2026, 9, 15),
            rule="eu-2024/ammr-40-2",
        ),
        id="ammr-reply-hit-2w",
    ),
    pytest.param(
        Worked(
            why="2024/1351 take-back confirmation: notified Tue 21 Jul + 2 weeks = Tue 4 Aug",
            pack="eu-2024",
            clock=C.RESPONSIBILITY_REPLY,
            events={
                **DUB_AMMR,
                "eurodac_hit": D(2026, 7, 8),
                "responsibility_requested": D(2026, 7, 21),
            },
            facts=frozenset({"take_back", "eurodac_hit"}),
            due=D(2026, 8, 4),
            rule="eu-2024/ammr-41-3",
        ),
        id="ammr-take-back-confirmation-2w",
    ),
    pytest.param(
        Worked(
            why="604/2013 transfer: accepted Mon 1 Jun + 6 months = Tue 1 Dec 2026",
            pack="eu-2013",
            clock=C.TRANSFER,
            events={
                **DUB_604,
                "responsibility_requested": D(2026, 4, 1),
                "responsibility_accepted": D(2026, 6, 1),
            },
            facts=frozenset({"take_charge"}),
            due=D(2026, 12, 1),
            status=S.RUNNING,
            period="6 months",
            rule="eu-2013/dub3-29",
            as_of=D(2026, 6, 2),
        ),
        id="dub3-transfer-6m",
    ),
    pytest.param(
        Worked(
            why="604/2013 transfer extended once (imprisonment): 1 Jun + 12 months = "
            "Tue 1 Jun 2027",
            pack="eu-2013",
            clock=C.TRANSFER,
            events={
                **DUB_604,
                "responsibility_requested": D(2026, 4, 1),
                "responsibility_accepted": D(2026, 6, 1),
            },
            facts=frozenset({"take_charge"}),
            extensions=1,
            due=D(2027, 6, 1),
            period="12 months",
        ),
        id="dub3-transfer-imprisoned-1y",
    ),
    pytest.param(
        Worked(
            why="604/2013 transfer extended twice (absconded): 1 Jun + 18 months = Wed 1 Dec 2027",
            pack="eu-2013",
            clock=C.TRANSFER,
            events={
                **DUB_604,
                "responsibility_requested": D(2026, 4, 1),
                "responsibility_accepted": D(2026, 6, 1),
            },
            facts=frozenset({"take_charge"}),
            extensions=2,
            due=D(2027, 12, 1),
            period="18 months",
        ),
        id="dub3-transfer-absconded-18m",
    ),
    pytest.param(
        Worked(
            why="604/2013 transfer not done by Tue 1 Dec: expired on 2 Dec",
            pack="eu-2013",
            clock=C.TRANSFER,
            events={
                **DUB_604,
                "responsibility_requested": D(2026, 4, 1),
                "responsibility_accepted": D(2026, 6, 1),
            },
            facts=frozenset({"take_charge"}),
            due=D(2026, 12, 1),
            as_of=D(2026, 12, 2),
            status=S.EXPIRED,
        ),
        id="dub3-transfer-expired",
    ),
    pytest.param(
        Worked(
            why="2024/1351 transfer: accepted Thu 1 Oct + 6 months = Thu 1 Apr 2027",
            pack="eu-2024",
            clock=C.TRANSFER,
            events={
                **DUB_AMMR,
                "responsibility_requested": D(2026, 9, 1),
                "responsibility_accepted": D(2026, 10, 1),
            },
            facts=frozenset({"take_charge"}),
            due=D(2027, 4, 1),
            period="6 months",
            rule="eu-2024/ammr-46-1",
        ),
        id="ammr-transfer-6m",
    ),
    pytest.param(
        Worked(
            why="pl, 604/2013 transfer: accepted Mon 11 May + 6 months = Wed 11 Nov 2026, "
            "Independence Day -> Thu 12 Nov",
            pack="pl-2015",
            clock=C.TRANSFER,
            events={
                **DUB_604,
                "responsibility_requested": D(2026, 4, 1),
                "responsibility_accepted": D(2026, 5, 11),
            },
            facts=frozenset({"take_charge"}),
            due=D(2026, 11, 12),
            rolled=True,
            rule="pl-2015/dub3-29",
        ),
        id="pl-dub3-transfer-rolls-over-independence-day",
    ),
    pytest.param(
        Worked(
            why="pl, 2024/1351 take charge: registered Tue 1 Sep + 2 months = Sun 1 Nov (All "
            "Saints' Day) -> Mon 2 Nov",
            pack="pl-2015",
            clock=C.RESPONSIBILITY_REQUEST,
            events={
                "registered": D(2026, 9, 1),
                "lodged": D(2026, 9, 3),
                "responsibility_requested": D(2026, 9, 10),
            },
            facts=frozenset({"take_charge"}),
            due=D(2026, 11, 2),
            rolled=True,
            rule="pl-2015/ammr-39-1",
        ),
        id="pl-ammr-take-charge-rolls",
    ),
]


def _occurrences(events: dict[str, date]) -> list[Occurrence]:
    return [
        Occurrence(event=LegalEvent(name), on=on, seq=i)
        for i, (name, on) in enumerate(events.items(), start=1)
    ]


def _deadline(ex: Worked) -> Deadline:
    if ex.pack in CALENDAR:
        pack = get_pack(ex.pack)
    else:
        pack, _pinned = governing_pack(
            ex.pack,
            made=ex.events.get("made"),
            lodged=ex.events.get("lodged"),
            fallback=min(ex.events.values()),
        )
    if ex.resolved is not None:
        assert pack.id == ex.resolved, ex.why
    situation = Situation(
        procedure=ex.procedure,
        outcome=ex.outcome,
        facts=ex.facts,
        grounds=ex.grounds,
        # The responsibility regime turns on the registration date (CaseState.situation).
        registered_on=ex.events.get("registered"),
    )
    deadlines = compute_deadlines(
        pack,
        _occurrences(ex.events),
        situation,
        as_of=ex.as_of or max(ex.events.values()),
        pauses=list(ex.pauses),
        extensions={ex.clock: ex.extensions} if ex.extensions else None,
    )
    found = [d for d in deadlines if d.clock is ex.clock]
    assert len(found) == 1, f"{ex.clock} not computed under {pack.id}: {ex.why}"
    return found[0]


def test_table_is_big_enough() -> None:
    assert len(WORKED) >= 45
    assert len({p.id for p in WORKED}) == len(WORKED)


@pytest.mark.parametrize("ex", WORKED)
def test_worked_example(ex: Worked) -> None:
    d = _deadline(ex)
    assert d.due == ex.due, ex.why
    if ex.rolled is not None:
        assert d.rolled is ex.rolled, ex.why
    if ex.pause_days is not None:
        assert d.pause_days == ex.pause_days, ex.why
    if ex.period is not None:
        assert d.period == ex.period, ex.why
    if ex.status is not None:
        assert d.status is ex.status, ex.why
    if ex.rule is not None:
        assert d.rule == ex.rule, ex.why
    if ex.trigger is not None:
        assert (d.trigger, d.trigger_date) == (LegalEvent(ex.trigger[0]), ex.trigger[1]), ex.why
    if ex.late is not None:
        assert d.late is ex.late, ex.why
        if ex.late:
            assert d.completed_on is not None, ex.why
            assert d.days_late == (d.completed_on - d.due).days, ex.why
        else:
            assert d.days_late is None, ex.why
    assert d.extensions == ex.extensions
    # Provenance every deadline carries.
    assert d.calendar == CALENDAR[d.pack]
    assert d.rule.startswith(f"{d.pack}/")
    assert d.citation.strip()


def test_provenance_of_a_serbian_decision() -> None:
    (d,) = [
        x
        for x in compute_deadlines(
            get_pack("rs-2023"),
            [Occurrence(event=LegalEvent.LODGED, on=D(2026, 1, 15), seq=1)],
            Situation(procedure=Procedure.REGULAR),
            as_of=D(2026, 11, 23),
            pauses=[FEB_PAUSE],
            extensions={C.DECISION: 1},
        )
        if x.clock is C.DECISION
    ]
    # 15 Jan + (3+3) months = 15 Jul; + 10 paused days = Sat 25 Jul -> Mon 27 Jul 2026.
    assert d.due == D(2026, 7, 27)
    assert d.rolled is True
    assert d.status is S.EXPIRED
    assert d.rule == "rs-2023/lat-39"
    assert d.pack == "rs-2023"
    assert d.citation == "Law on Asylum and Temporary Protection Art 39"
    assert d.calendar == "RS"
    assert d.trigger is LegalEvent.LODGED
    assert d.trigger_date == D(2026, 1, 15)
    assert d.period == "6 months"
    assert d.extensions == 1
    assert [(p.start, p.end, p.days) for p in d.pauses] == [(D(2026, 2, 2), D(2026, 2, 12), 10)]


def test_switch_pins_eu2024_and_recomputes_every_clock() -> None:
    pack, pinned = governing_pack(
        "eu", made=D(2026, 6, 10), lodged=D(2026, 6, 15), fallback=D(2026, 6, 10)
    )
    assert (pack.id, pinned) == ("eu-2024", True)
    provisional, pinned = governing_pack(
        "eu", made=D(2026, 6, 10), lodged=None, fallback=D(2026, 6, 1)
    )
    assert (provisional.id, pinned) == ("eu-2013", False)
    deadlines = {
        d.clock: d
        for d in compute_deadlines(
            pack,
            _occurrences(SWITCH_EVENTS),
            Situation(),
            as_of=D(2026, 6, 15),
        )
    }
    # made Wed 10 Jun + 30 days = Fri 10 Jul (reception needs); lodged Mon 15 Jun + 6 months
    # = Tue 15 Dec (decision); registered 11 Jun + 6 months = Fri 11 Dec (labour market).
    assert deadlines[C.RECEPTION_NEEDS_ASSESSMENT].due == D(2026, 7, 10)
    assert deadlines[C.DECISION].due == D(2026, 12, 15)
    assert deadlines[C.LABOUR_MARKET_ACCESS].due == D(2026, 12, 11)
    assert all(d.pack == "eu-2024" for d in deadlines.values())


ABSENT = [
    pytest.param("eu-2013", C.APPEAL, {"notified": D(2026, 3, 2)}, Situation(), id="eu2013-appeal"),
    pytest.param(
        "eu-2013", C.LODGING, {"registered": D(2026, 3, 2)}, Situation(), id="eu2013-lodging"
    ),
    pytest.param(
        "eu-2013", C.SCREENING, {"identified": D(2026, 3, 2)}, Situation(), id="eu2013-screening"
    ),
    pytest.param(
        "me-2018",
        C.APPEAL,
        {"notified": D(2026, 3, 2)},
        Situation(outcome=Outcome.REJECTED),
        id="me-suit-before-administrative-court-period-unverified",
    ),
    pytest.param(
        "eu-2024",
        C.REOPEN_WINDOW,
        {"discontinued": D(2026, 7, 1)},
        Situation(),
        id="eu2024-reopen-no-figure",
    ),
    pytest.param(
        "rs-2023",
        C.DECISION,
        {"lodged": D(2026, 3, 2)},
        Situation(procedure=Procedure.BORDER),
        id="rs-border-has-no-decision-clock",
    ),
    pytest.param("pl-2015", C.LODGING, {"registered": D(2026, 3, 2)}, Situation(), id="pl-lodging"),
    pytest.param("me-2018", C.APPEAL, {"lodged": D(2026, 3, 2)}, Situation(), id="me-no-trigger"),
    # Issue #19: no figure in the law (or none found) -> no clock.
    pytest.param(
        "eu-2013", C.DETENTION_REVIEW, {"detained": D(2026, 3, 2)}, Situation(), id="eu2013-art9"
    ),
    pytest.param(
        "eu-2024", C.APPLICANT_DOCUMENT, {"registered": D(2026, 7, 1)}, Situation(), id="apr-29"
    ),
    *(
        pytest.param(pack_id, clock, events, Situation(), id=f"{pack_id}-{clock.value}")
        for pack_id in ("rs-2023", "me-2018", "pl-2015")
        for clock, events in (
            (C.DETENTION_REVIEW, {"detained": D(2026, 3, 2)}),
            (C.APPLICANT_DOCUMENT, {"lodged": D(2026, 3, 2)}),
        )
        if (pack_id, clock) != ("pl-2015", C.APPLICANT_DOCUMENT)
    ),
    # Further appeal (issue 20, tracks): EU law and me set none; a positive outcome has none.
    pytest.param(
        "eu-2024",
        C.FURTHER_APPEAL,
        {"appeal_decided": D(2026, 9, 1)},
        Situation(outcome=Outcome.REJECTED),
        id="eu-no-further-appeal",
    ),
    pytest.param(
        "me-2018",
        C.FURTHER_APPEAL,
        {"appeal_decided": D(2026, 9, 1)},
        Situation(outcome=Outcome.REJECTED),
        id="me-no-further-appeal",
    ),
    pytest.param(
        "rs-2023",
        C.FURTHER_APPEAL,
        {"appeal_decided": D(2026, 9, 1)},
        Situation(outcome=Outcome.SUBSIDIARY_PROTECTION),
        id="rs-no-further-appeal-against-a-grant",
    ),
]


@pytest.mark.parametrize(("pack_id", "clock", "events", "situation"), ABSENT)
def test_clock_absent(
    pack_id: str, clock: ClockName, events: dict[str, date], situation: Situation
) -> None:
    deadlines = compute_deadlines(
        get_pack(pack_id), _occurrences(events), situation, as_of=max(events.values())
    )
    assert clock not in {d.clock for d in deadlines}


PERIODS = [
    pytest.param(D(2027, 1, 31), 1, Unit.MONTHS, "weekends", D(2027, 2, 28), id="31jan+1m"),
    pytest.param(D(2028, 1, 31), 1, Unit.MONTHS, "weekends", D(2028, 2, 29), id="31jan+1m-leap"),
    pytest.param(D(2026, 5, 31), 9, Unit.MONTHS, "weekends", D(2027, 2, 28), id="31may+9m"),
    pytest.param(D(2027, 5, 31), 9, Unit.MONTHS, "weekends", D(2028, 2, 29), id="31may+9m-leap"),
    pytest.param(D(2028, 2, 29), 1, Unit.MONTHS, "weekends", D(2028, 3, 29), id="29feb+1m"),
    pytest.param(D(2026, 3, 31), 1, Unit.MONTHS, "weekends", D(2026, 4, 30), id="31mar+1m"),
    pytest.param(D(2026, 4, 30), 1, Unit.MONTHS, "weekends", D(2026, 5, 30), id="30apr+1m"),
    pytest.param(D(2026, 12, 31), 2, Unit.MONTHS, "weekends", D(2027, 2, 28), id="31dec+2m"),
    pytest.param(D(2026, 7, 3), 2, Unit.WEEKS, "weekends", D(2026, 7, 17), id="fri+2w"),
    pytest.param(D(2026, 12, 28), 7, Unit.DAYS, "weekends", D(2027, 1, 4), id="28dec+7d"),
    # Fri 13 Feb 2026: Mon 16 and Tue 17 are Statehood Day holidays -> 18, 19, 20.
    pytest.param(D(2026, 2, 13), 3, Unit.WORKING_DAYS, "RS", D(2026, 2, 20), id="rs-3wd"),
    # Wed 23 Dec 2026: 24, 25 Dec holidays, weekend -> 28, 29, 30.
    pytest.param(D(2026, 12, 23), 3, Unit.WORKING_DAYS, "PL", D(2026, 12, 30), id="pl-3wd"),
    # The same in the eu calendar: only weekends -> 24, 25, 28.
    pytest.param(D(2026, 12, 23), 3, Unit.WORKING_DAYS, "weekends", D(2026, 12, 28), id="eu-3wd"),
]


@pytest.mark.parametrize(("start", "n", "unit", "cal", "expected"), PERIODS)
def test_add_period(start: date, n: int, unit: Unit, cal: str, expected: date) -> None:
    assert add_period(start, Period(n=n, unit=unit), calendar_for(cal)) == expected


WORKING_DAY_PAUSES = [
    # 10 working days from Mon 6 Jul 2026: 7-10 (4), 13-17 (9), 20 (10) -> Mon 20 Jul.
    pytest.param((), D(2026, 7, 20), 0, id="no-pause"),
    # Pause Mon 13 - Tue 14 Jul: 2 working days -> 21, 22 -> Wed 22 Jul.
    pytest.param(((D(2026, 7, 13), D(2026, 7, 15)),), D(2026, 7, 22), 2, id="two-working-days"),
    # Pause over the weekend of 11-12 Jul: no working day lost.
    pytest.param(((D(2026, 7, 11), D(2026, 7, 13)),), D(2026, 7, 20), 0, id="weekend-only"),
    # Pause Fri 17 - Wed 22 Jul straddles the due Mon 20: Fri 17, Mon 20, Tue 21 (3 wd) lost;
    # the clock had 17 and 20 left, runs on Wed 22, Thu 23 -> Thu 23 Jul.
    pytest.param(((D(2026, 7, 17), D(2026, 7, 22)),), D(2026, 7, 23), 3, id="straddling"),
]


@pytest.mark.parametrize(("pauses", "expected", "paused"), WORKING_DAY_PAUSES)
def test_working_day_clock_pauses(
    pauses: tuple[tuple[date, date], ...], expected: date, paused: int
) -> None:
    result = compute_due(
        D(2026, 7, 6),
        Period(n=10, unit=Unit.WORKING_DAYS),
        calendar_for("weekends"),
        rolls=True,
        two_working_days=True,
        pauses=pauses,
    )
    assert (result.due, result.pause_days, result.rolled) == (expected, paused, False)


def test_a_repeated_event_restarts_the_clock_from_the_latest() -> None:
    # First notification Mon 2 Mar 2026, appealed 10 Mar, quashed and remanded, decided again,
    # notified again Mon 1 Jun 2026: 15 days -> Tue 16 Jun. The first appeal does not meet the
    # new window.
    history = [
        (LegalEvent.LODGED, D(2026, 1, 15)),
        (LegalEvent.DECIDED, D(2026, 2, 27)),
        (LegalEvent.NOTIFIED, D(2026, 3, 2)),
        (LegalEvent.APPEAL_LODGED, D(2026, 3, 10)),
        (LegalEvent.APPEAL_DECIDED, D(2026, 5, 4)),
        (LegalEvent.DECIDED, D(2026, 5, 20)),
        (LegalEvent.NOTIFIED, D(2026, 6, 1)),
    ]
    occurrences = [Occurrence(event=e, on=on, seq=i) for i, (e, on) in enumerate(history, 1)]
    (appeal,) = [
        d
        for d in compute_deadlines(
            get_pack("rs-2023"),
            occurrences,
            Situation(outcome=Outcome.REJECTED),
            as_of=D(2026, 6, 5),
        )
        if d.clock is C.APPEAL
    ]
    assert (appeal.trigger_date, appeal.due, appeal.status) == (
        D(2026, 6, 1),
        D(2026, 6, 16),
        S.RUNNING,
    )


def test_representative_clock_only_where_the_law_sets_a_period() -> None:
    """Issue #19: the representative clock where the law sets a period, and only there.

    eu-2024 and pl-2015 set one; eu-2013 says "as soon as possible" (no clock); rs and me: no
    period found, so no clock (never a guess).
    """
    child = Situation(procedure=Procedure.REGULAR, facts=frozenset({"unaccompanied_child"}))
    adult = Situation(procedure=Procedure.REGULAR)
    for pack_id, has in [
        ("eu-2024", True),
        ("pl-2015", True),
        ("eu-2013", False),
        ("rs-2018", False),
        ("rs-2023", False),
        ("me-2018", False),
    ]:
        made = [Occurrence(event=LegalEvent.MADE, on=D(2026, 11, 2), seq=1)]
        names = {
            d.clock for d in compute_deadlines(get_pack(pack_id), made, child, as_of=D(2026, 11, 3))
        }
        assert (C.UASC_REPRESENTATIVE in names) is has, pack_id
        names = {
            d.clock for d in compute_deadlines(get_pack(pack_id), made, adult, as_of=D(2026, 11, 3))
        }
        assert C.UASC_REPRESENTATIVE not in names, pack_id
    pl = get_pack("pl-2015").clock_for(C.UASC_REPRESENTATIVE, child)
    assert pl is not None and pl.unverified
