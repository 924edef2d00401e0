"""The demo caseload's situations: each a list of past-dated acts that lead to it.

Beside `tools.demo`, which seeds cases from them, so that module stays one a reader can hold in
their head. Issue #19's protection situations and issue #20's tracks are here with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from models.enums import Action

FAMILIES = ("rs", "me", "pl", "eu")
"""The jurisdictions cases rotate through (a scenario may name its own)."""

Step = tuple[Action, int, dict[str, Any]]
"""An action, how many days before today it happened, and its fields."""

LATEST = "latest"
"""A `referral` field's value in a step: the case's latest referral (its id is its seq)."""


@dataclass(frozen=True)
class Scenario:
    """One intended situation and the past-dated actions that lead to it."""

    name: str
    weight: int
    steps: list[Step]
    optional: frozenset[Action] = field(default_factory=frozenset)
    family: str | None = None
    """The jurisdiction its cases are in (None: each case's own, by its index): a track that
    needs a pack's law (EU law for the responsibility procedure) names it."""


def _applied(lodged_ago: int) -> list[Step]:
    """Application made, registered and lodged in time, `lodged_ago` days before today."""
    return [
        (Action.MAKE_APPLICATION, lodged_ago + 4, {}),
        (Action.REGISTER, lodged_ago + 3, {}),
        (Action.LODGE, lodged_ago, {}),
    ]


def _decided(lodged_ago: int, decided_ago: int, outcome: str, notified_ago: int) -> list[Step]:
    return [
        *_applied(lodged_ago),
        (Action.DECIDE, decided_ago, {"outcome": outcome}),
        (Action.NOTIFY_DECISION, notified_ago, {}),
    ]


# `make_final` only where the pack has no appeal window; elsewhere the window ends by itself.
_FINAL = frozenset({Action.MAKE_FINAL})

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("registered", 20, [(Action.MAKE_APPLICATION, 4, {}), (Action.REGISTER, 3, {})]),
    Scenario("lodged", 50, [*_applied(20), (Action.RECORD_CONTACT, 3, {})]),
    Scenario(
        "interview_scheduled",
        20,
        [
            *_applied(40),
            (Action.SCHEDULE_INTERVIEW, 10, {"interview_on": (date.today() + timedelta(14))}),
            (Action.RECORD_CONTACT, 5, {}),
        ],
    ),
    # Past the decision deadline (3 months in rs, 6 elsewhere) with the applicant in touch.
    Scenario("overdue", 30, [*_applied(200), (Action.RECORD_CONTACT, 4, {})]),
    # Labour-market access reached (6-9 months after lodging), no personal ID number.
    Scenario("entitled_blocked", 25, [*_applied(290), (Action.RECORD_CONTACT, 6, {})]),
    # Decided six weeks ago and never notified: longer than the stage's service level.
    Scenario(
        "stuck",
        20,
        [*_applied(75), (Action.DECIDE, 42, {"outcome": "rejected"})],
    ),
    # No contact for longer than the no-contact watch.
    Scenario("abandoned", 15, [*_applied(90), (Action.RECORD_CONTACT, 50, {})]),
    Scenario(
        "absconded",
        10,
        [*_applied(60), (Action.RECORD_CONTACT, 20, {}), (Action.REPORT_ABSCONDED, 8, {})],
    ),
    Scenario(
        "appeal",
        25,
        [*_decided(100, 12, "rejected", 8), (Action.LODGE_APPEAL, 4, {})],
    ),
    Scenario(
        "integration",
        30,
        [
            *_decided(150, 60, "refugee_status", 55),
            (Action.MAKE_FINAL, 40, {}),
            (Action.ISSUE_PERMIT, 30, {}),
            (Action.ISSUE_PERSONAL_ID, 30, {}),
        ],
        _FINAL,
    ),
    Scenario(
        "return",
        25,
        [
            *_decided(150, 60, "rejected", 55),
            (Action.MAKE_FINAL, 40, {}),
            (Action.START_RETURN, 20, {}),
        ],
        _FINAL,
    ),
    Scenario(
        "closed",
        30,
        [
            *_decided(200, 100, "subsidiary_protection", 95),
            (Action.MAKE_FINAL, 80, {}),
            (Action.ISSUE_PERMIT, 70, {}),
            (Action.ISSUE_PERSONAL_ID, 70, {}),
            (Action.CLOSE, 10, {}),
        ],
        _FINAL,
    ),
    # Protection track (issue #19).
    # An interview in Pashto with no Pashto interpreter available: waits, stuck for that.
    Scenario(
        "waiting_for_interpreter",
        10,
        [
            *_applied(30),
            (
                Action.SCHEDULE_INTERVIEW,
                3,
                {"interview_on": (date.today() + timedelta(10)), "language": "ps"},
            ),
        ],
    ),
    # The authority cancelled the interview: back to lodged, nothing against the applicant.
    Scenario(
        "interview_missed_by_authority",
        8,
        [
            *_applied(50),
            (Action.SCHEDULE_INTERVIEW, 30, {"interview_on": date.today() - timedelta(20)}),
            (Action.RECORD_INTERVIEW, 20, {"attended": False, "missed_by": "authority"}),
            (Action.REFER, 18, {"to": "medical_care"}),
        ],
    ),
    # Screened at the border and not seeking protection: referred (the pre-application end).
    Scenario(
        "declined_to_apply",
        6,
        [(Action.COMPLETE_SCREENING, 3, {}), (Action.REFER, 3, {"to": "none"})],
    ),
    # An unaccompanied child identified at the border, referred to child protection (the stage
    # stays), informed in Dari, age-assessed, represented, interviewed with an interpreter of
    # the pool and recognised.
    Scenario(
        "child_protection",
        8,
        [
            (Action.COMPLETE_SCREENING, 40, {"needs": ["unaccompanied_child"]}),
            (Action.REFER, 40, {"to": "child_protection"}),
            (Action.RECORD_INFORMATION_GIVEN, 40, {"language": "prs", "form": "oral"}),
            (Action.MAKE_APPLICATION, 39, {}),
            (Action.RECORD_REFERRAL_OUTCOME, 38, {"referral": LATEST, "acknowledged": True}),
            (Action.RECORD_AGE_ASSESSMENT, 38, {"outcome": "minor"}),
            (Action.APPOINT_REPRESENTATIVE, 38, {}),
            (Action.REGISTER, 38, {}),
            (Action.RECORD_BEST_INTERESTS, 37, {}),
            (Action.LODGE, 35, {}),
            (
                Action.SCHEDULE_INTERVIEW,
                30,
                {
                    "interview_on": date.today() - timedelta(20),
                    "language": "prs",
                    "interpreter": "demo-interpreter-prs",
                },
            ),
            (Action.RECORD_INTERVIEW, 20, {"attended": True}),
            (Action.DECIDE, 10, {"outcome": "refugee_status"}),
        ],
    ),
    # Issue #19 (protection track b): reception and detention, in one jurisdiction each so that
    # even a small caseload shows them: two people in the Serbian centre of one place (the
    # second beyond capacity), one in a large centre; a vulnerable person detained under
    # eu-2024 (whose detention review clock runs); an alternative to detention.
    Scenario(
        "accommodated",
        10,
        [*_applied(30), (Action.ASSIGN_ACCOMMODATION, 28, {"centre": "demo-rs-small"})],
        family="rs",
    ),
    Scenario(
        "accommodated_over_capacity",
        10,
        [
            *_applied(12),
            (Action.ASSIGN_ACCOMMODATION, 10, {"centre": "demo-rs-small"}),
            (Action.RECORD_CONTACT, 3, {}),
        ],
        family="rs",
    ),
    Scenario(
        "accommodated_large_centre",
        10,
        [*_applied(25), (Action.ASSIGN_ACCOMMODATION, 24, {"centre": "demo-pl-main"})],
        family="pl",
    ),
    Scenario(
        "detained_vulnerable",
        8,
        [*_applied(20), (Action.ORDER_DETENTION, 8, {"ground": "demo: risk of absconding"})],
        family="eu",
    ),
    Scenario(
        "alternative_to_detention",
        5,
        [
            *_applied(20),
            (
                Action.ORDER_DETENTION,
                6,
                {"ground": "demo: regular reporting instead of detention", "alternative": True},
            ),
        ],
        family="me",
    ),
    # Tracks around a decision (issue 20, branch `tracks`), each in the family whose pack
    # has what it needs.
    # rs: the Administrative Court seized after the Asylum Commission dismissed the appeal.
    Scenario(
        "further_appeal",
        5,
        [
            *_decided(200, 120, "rejected", 118),
            (Action.LODGE_APPEAL, 114, {}),
            (Action.DECIDE_APPEAL, 20, {"result": "dismissed"}),
            (Action.LODGE_FURTHER_APPEAL, 10, {}),
        ],
        family="rs",
    ),
    # me: assisted voluntary return refused; the return goes on without assistance.
    Scenario(
        "return_refused",
        5,
        [
            *_decided(150, 60, "rejected", 55),
            (Action.MAKE_FINAL, 40, {}),
            (Action.START_RETURN, 20, {}),
            (Action.REFUSE_RETURN_CONSENT, 15, {"withdrawn": False}),
            (Action.RECORD_RISK_ASSESSMENT, 10, {"at_risk": False}),
        ],
        _FINAL,
        family="me",
    ),
    # pl: a person who cannot be returned, consent for tolerated stay.
    Scenario(
        "tolerated",
        5,
        [
            *_decided(200, 120, "rejected", 118),
            (Action.START_RETURN, 60, {}),
            (Action.GRANT_TOLERATION, 30, {}),
        ],
        family="pl",
    ),
    # eu: an assisted return departed; the case stays open until the reintegration follow-up.
    Scenario(
        "return_departed",
        5,
        [
            *_decided(200, 100, "rejected", 95),
            (Action.MAKE_FINAL, 80, {}),
            (Action.START_RETURN, 60, {}),
            # The Return Directive's period for voluntary departure, fixed at 30 days; met.
            (Action.RECORD_RETURN_DECISION, 58, {"departure_days": 30}),
            (Action.RECORD_RETURN_CONSENT, 55, {}),
            (Action.RECORD_RISK_ASSESSMENT, 50, {"at_risk": False}),
            (Action.RECORD_DEPARTURE, 30, {}),
        ],
        _FINAL,
        family="eu",
    ),
    # rs: the Asylum Commission dismissed the appeal; the 30 days for a suit run.
    Scenario(
        "appeal_decided",
        5,
        [
            *_decided(200, 120, "rejected", 118),
            (Action.LODGE_APPEAL, 110, {}),
            (Action.DECIDE_APPEAL, 5, {"result": "dismissed"}),
        ],
        family="rs",
    ),
    # me and pl: a refugee's family reunification decided (no clock in their packs).
    Scenario(
        "family_reunification_decided",
        5,
        [
            *_decided(200, 100, "refugee_status", 95),
            (Action.MAKE_FINAL, 80, {}),
            (Action.ISSUE_PERMIT, 70, {}),
            (Action.REQUEST_FAMILY_REUNIFICATION, 60, {}),
            (Action.DECIDE_FAMILY_REUNIFICATION, 10, {"outcome": "granted"}),
        ],
        _FINAL,
        family="me",
    ),
    Scenario(
        "tolerated_again",
        2,
        [
            *_decided(220, 130, "rejected", 128),
            (Action.START_RETURN, 70, {}),
            (Action.GRANT_TOLERATION, 40, {}),
        ],
        family="pl",
    ),
    # eu: a refugee's family reunification pending, the Directive's nine months running.
    # (Index 19; the resettlement cases after it fit any pack.)
    Scenario(
        "family_reunification",
        5,
        [
            *_decided(200, 100, "refugee_status", 95),
            (Action.MAKE_FINAL, 80, {}),
            (Action.ISSUE_PERMIT, 70, {}),
            (Action.REQUEST_FAMILY_REUNIFICATION, 60, {}),
        ],
        _FINAL,
        family="eu",
    ),
    # Safe legal pathways: identified for resettlement and submitted, awaiting the answer;
    # and one accepted and departed (Eurostat's resettled persons).
    Scenario(
        "resettlement",
        5,
        [
            (Action.IDENTIFY_FOR_RESETTLEMENT, 60, {}),
            (Action.SUBMIT_FOR_RESETTLEMENT, 50, {"to_state": "SE"}),
        ],
        family="rs",
    ),
    Scenario(
        "resettled",
        3,
        [
            (Action.IDENTIFY_FOR_RESETTLEMENT, 120, {}),
            (Action.SUBMIT_FOR_RESETTLEMENT, 110, {"to_state": "NO"}),
            (Action.DECIDE_RESETTLEMENT, 40, {"accepted": True}),
            (Action.RECORD_RESETTLEMENT_DEPARTURE, 12, {}),
        ],
        family="me",
    ),
    # Responsibility procedure (issue 20), EU law: registered after 1 July 2026 these run under
    # Regulation 2024/1351. A take charge accepted by Germany, the transfer pending.
    Scenario(
        "dublin_transfer_pending",
        10,
        [
            *_applied(50),
            (Action.REQUEST_TAKE_CHARGE, 40, {"to_state": "DE"}),
            (Action.RECORD_RESPONSIBILITY_REPLY, 20, {"accepted": True}),
        ],
        family="eu",
    ),
    # A take-back notification on a Eurodac hit, confirmed by Lithuania's silence (the engine
    # records it when the two weeks end).
    Scenario(
        "dublin_take_back_silence",
        5,
        [
            *_applied(60),
            (
                Action.REQUEST_TAKE_BACK,
                30,
                {"to_state": "LT", "eurodac_hit_on": date.today() - timedelta(32)},
            ),
        ],
        family="pl",
    ),
)
