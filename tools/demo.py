"""A demo caseload: about 300 fake cases in every situation a supervisor should see.

Cases are made through the same code path as `POST /cases` (the person in SQL first, then the
workflow by update-with-start) and moved on with the same `act` update the action routes send.
Every legal date is in the past, so the caseload already has overdue decisions, stuck and
abandoned cases, entitlements reached but blocked, appeals, integration, return and closed cases.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client, RPCTimeoutOrCancelledError, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from api.casework import send_action, start_case
from api.errors import Conflict, Unavailable
from api.routes.cases import _remember
from api.schemas import CaseCreate, PersonIn
from core.settings import Settings
from db import reception
from db.tables import InterpreterRecord, UserRecord
from db.users import Role, create_user, issue_token
from models.actions import SEALED_FIELDS
from models.case_state import CaseState
from models.enums import Action, IdentifiedAt, Vulnerability
from models.messages import ActionRequest
from workflows.case import CaseWorkflow, workflow_id

log = logging.getLogger("asylumflow.demo")

MARKER_USER = "demo-supervisor"

FAMILIES = ("rs", "me", "pl", "eu")
LEGAL_AID_ORGS = ("legal-aid-belgrade", "legal-aid-podgorica")
CASEWORKERS = ("demo-caseworker", "demo-caseworker-2", "demo-caseworker-3")
ROLE_USERS: dict[Role, tuple[str, str | None]] = {
    Role.BORDER_OFFICER: ("demo-border-officer", None),
    Role.CASEWORKER: ("demo-caseworker", None),
    Role.LEGAL_AID: ("demo-legal-aid", LEGAL_AID_ORGS[0]),
    Role.ADMIN: ("demo-admin", None),
    Role.SUPERVISOR: (MARKER_USER, None),
}

# Obviously fake names, so nobody mistakes the demo for real applicants.
GIVEN = ("Demo", "Sample", "Test", "Example", "Placeholder", "Fixture")
FAMILY_NAMES = ("Person", "Applicant", "Claimant", "Caseholder", "Dummy", "Mock")
NATIONALITIES = ("SYR", "AFG", "IRQ", "PAK", "BDI", "CUB", "IRN", "TUR")

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

INTERPRETERS = (
    ("demo-interpreter-prs", "Demo Interpreter (Dari, Farsi)", ["prs", "fa"], True),
    ("demo-interpreter-ar", "Demo Interpreter (Arabic)", ["ar"], True),
    ("demo-interpreter-ps", "Demo Interpreter (Pashto, on leave)", ["ps"], False),
)
"""The demo's interpreter pool: no Pashto interpreter is available (issue #19)."""


def ensure_interpreters(engine: Engine) -> None:
    """Add the demo interpreters that are not in the pool yet."""
    with Session(engine) as session:
        for ident, name, languages, available in INTERPRETERS:
            if session.get(InterpreterRecord, ident) is None:
                session.add(
                    InterpreterRecord(
                        id=ident,
                        name=name,
                        languages=languages,
                        available=available,
                        created_by=MARKER_USER,
                        created_at=datetime.now(UTC),
                    )
                )
        session.commit()


DEMO_CENTRES = {"small": ("small reception centre", 1), "main": ("main reception centre", 60)}
"""Per family: `demo-<family>-<key>`, with a name and a capacity."""


def ensure_centres(engine: Engine) -> None:
    """The demo's reception centres (each created once)."""
    for family in FAMILIES:
        for key, (name, capacity) in DEMO_CENTRES.items():
            centre_id = f"demo-{family}-{key}"
            if not reception.centre_exists(engine, centre_id):
                reception.save_centre(
                    engine,
                    centre_id=centre_id,
                    name=f"Demo {family.upper()} {name}",
                    jurisdiction=family,
                    capacity=capacity,
                    by=ROLE_USERS[Role.ADMIN][0],
                    create=True,
                )


def _plan(n: int, rng: random.Random) -> list[Scenario]:
    """One case of each scenario first (so even a small n covers them all), then by weight."""
    extra = rng.choices(
        SCENARIOS, weights=[s.weight for s in SCENARIOS], k=max(0, n - len(SCENARIOS))
    )
    return [*SCENARIOS, *extra][:n]


class SeedOutcome(StrEnum):
    """What one run did with one demo case."""

    CREATED = "created"
    RESUMED = "resumed"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass
class DemoReport:
    """What a seeding run did, and every demo user's bearer token."""

    outcomes: dict[SeedOutcome, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every case is seeded (nothing failed)."""
        return not self.outcomes.get(SeedOutcome.FAILED)

    @property
    def worked(self) -> bool:
        """This run made or moved a case, or created a user."""
        return bool(
            self.outcomes.get(SeedOutcome.CREATED) or self.outcomes.get(SeedOutcome.RESUMED)
        )


def _user(engine: Engine, name: str) -> UserRecord | None:
    with Session(engine) as session:
        return session.exec(select(UserRecord).where(UserRecord.name == name)).first()


def ensure_users(engine: Engine) -> dict[str, str]:
    """Create the demo users that do not exist yet (each once); their new tokens by name."""
    created: dict[str, str] = {}
    for name in CASEWORKERS[1:]:
        if _user(engine, name) is None:
            created[name] = create_user(engine, name, Role.CASEWORKER)
    for role, (name, org) in ROLE_USERS.items():
        if _user(engine, name) is None:
            created[name] = create_user(engine, name, role, org)
    return created


def fresh_tokens(engine: Engine, keep: dict[str, str] | None = None) -> dict[str, str]:
    """A bearer token for every role's demo user.

    `keep`'s tokens as they are, new ones for the rest (an earlier token of those stops
    working). Creates a missing user.
    """
    keep = dict(keep or {})
    keep.update(ensure_users(engine))
    tokens: dict[str, str] = {}
    for _role, (name, _org) in ROLE_USERS.items():
        tokens[name] = keep[name] if name in keep else issue_token(engine, name)
    return tokens


def demo_anchor(engine: Engine) -> date:
    """The day the demo's legal dates count back from: the day its first user was made.

    Fixed once, so a run resumed days later sends the very same cases and actions (the same
    idempotency keys with the same bodies) and skips what exists.
    """
    border = _user(engine, ROLE_USERS[Role.BORDER_OFFICER][0])
    assert border is not None, "ensure_users first"
    return border.created_at.date()


def _applied_actions(state: CaseState) -> set[str]:
    return {e.action for e in state.history if not e.derived}


def _field(value: Any) -> Any:
    """A step's field as sent (dates as ISO strings)."""
    return value.isoformat() if isinstance(value, date) else value


async def _seed_case(
    client: Client,
    engine: Engine,
    settings: Settings,
    border: UserRecord,
    index: int,
    scenario: Scenario,
    rng: random.Random,
    today: date,
) -> SeedOutcome:
    family = scenario.family or FAMILIES[index % len(FAMILIES)]
    first_day = today - timedelta(days=max(ago for _, ago, _ in scenario.steps) + 2)
    vulnerable = index % 11 == 0 or scenario.name == "detained_vulnerable"
    vulnerabilities = [Vulnerability.TORTURE_SURVIVOR] if vulnerable else []
    body = CaseCreate(
        jurisdiction=family,
        person=PersonIn(
            given_name=f"{rng.choice(GIVEN)}{index:03d}",
            family_name=rng.choice(FAMILY_NAMES),
            date_of_birth=date(1970 + index % 35, 1 + index % 12, 1 + index % 28),
            nationality=rng.choice(NATIONALITIES),
            sex=rng.choice(("female", "male")),
        ),
        identified_on=first_day,
        identified_at=IdentifiedAt.BORDER if index % 3 else IdentifiedAt.INLAND,
        vulnerabilities=vulnerabilities,
        # A third of the cases have legal aid, split between the two orgs.
        legal_aid_org=LEGAL_AID_ORGS[index % 2] if index % 3 == 0 else None,
    )
    # A fixed idempotency key per case: the case id is derived from it, so a seeding run cut
    # short never makes duplicates, and the next run finds the case again.
    case_id, _, intent, reference = await asyncio.to_thread(
        _remember, engine, border, f"demo-{index}", body, settings.task_queue
    )
    handle = client.get_workflow_handle(workflow_id(case_id))
    try:
        described = await handle.describe()
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        existed = False
    else:
        if described.status is not WorkflowExecutionStatus.RUNNING:
            return SeedOutcome.COMPLETE  # a closed case: nothing more to do (never restart it)
        existed = True
    view = await start_case(
        client, engine, settings, case_id, body, border.name, intent, reference=reference
    )
    applied = _applied_actions(await handle.query(CaseWorkflow.case_state)) if existed else set()
    caseworker = CASEWORKERS[index % len(CASEWORKERS)]
    steps = list(scenario.steps)
    # The case is assigned when it is lodged (or at once, if it never gets there).
    lodge_ago = next((ago for a, ago, _ in steps if a is Action.LODGE), steps[-1][1])
    at = next(i for i, (a, _, _) in enumerate(steps) if a is Action.LODGE or i == len(steps) - 1)
    steps.insert(at + 1, (Action.ASSIGN_CASEWORKER, lodge_ago, {"user": caseworker}))
    # The steps after the last one the case has (a step its pack refused stays refused).
    done = max((i + 1 for i, step in enumerate(steps) if step[0].value in applied), default=0)
    moved = 0
    for action, ago, fields in steps[done:]:
        actor = border.name if action is Action.MAKE_APPLICATION else caseworker
        if action in scenario.optional and action.value not in view["allowed_actions"]:
            continue
        body_json = {
            "on": (today - timedelta(days=ago)).isoformat(),
            **{k: _field(v) for k, v in fields.items()},
        }
        if body_json.get("referral") == LATEST:
            body_json["referral"] = view["protection"]["referrals"][-1]["id"]
        # Special-category detail (a detention ground) goes to SQL, never to the workflow.
        sealed = {k: body_json.pop(k) for k in SEALED_FIELDS.get(action, ()) if k in body_json}
        try:
            view = await send_action(
                client,
                engine,
                case_id,
                ActionRequest(action=action, body=body_json, actor=actor),
                # A retry after a timeout reaches the same update: applied once.
                update_id=f"demo-{case_id}-{action.value}",
            )
            moved += 1
            if sealed.get("ground") and not await asyncio.to_thread(
                reception.detention_grounds, engine, case_id, settings
            ):
                await asyncio.to_thread(
                    functools.partial(
                        reception.record_detention_ground,
                        engine,
                        case_id=case_id,
                        ordered_on=date.fromisoformat(body_json["on"]),
                        alternative=bool(body_json.get("alternative", False)),
                        ground=str(sealed["ground"]),
                        by=actor,
                        settings=settings,
                    )
                )
        except Conflict as exc:
            # A pack without the step (say, no appeal window): the case stays where it is.
            log.warning("demo case %s (%s): %s skipped: %s", index, scenario.name, action, exc)
            break
    if not existed:
        return SeedOutcome.CREATED
    return SeedOutcome.RESUMED if moved else SeedOutcome.COMPLETE


async def seed_demo(
    client: Client, engine: Engine, settings: Settings, n: int = 300, attempts: int = 5
) -> DemoReport:
    """Seed the demo caseload and its users, or finish an earlier run's; every role's token.

    Idempotent and resumable: users are made once (first, so the cases have their border
    officer), each case's identity is derived from its index, a case that exists gets only the
    steps its history lacks, and a closed one is left alone. A case that fails (the server or
    the worker not answering) is tried `attempts` times with backoff, then counted as failed;
    the others go on. Tokens: the ones of users made now; for users made by an earlier run,
    new ones when this run had work to do (the earlier ones may be lost), none otherwise.

    Args:
        client: Temporal client the worker listens to (task queue from `settings`).
        engine: The read-model database (persons and users are stored there).
        settings: Task queue, search attributes and history threshold, as the API uses them.
        n: How many cases to create.
        attempts: Tries per case before it counts as failed.
    """
    made = await asyncio.to_thread(ensure_users, engine)
    await asyncio.to_thread(ensure_interpreters, engine)
    await asyncio.to_thread(ensure_centres, engine)
    border = _user(engine, ROLE_USERS[Role.BORDER_OFFICER][0])
    assert border is not None
    today = demo_anchor(engine)
    plan = _plan(n, random.Random(2026))
    report = DemoReport()
    # Bounded: hundreds of concurrent updates would only queue up in the server and the worker.
    gate = asyncio.Semaphore(16)

    async def one(index: int, scenario: Scenario) -> None:
        async with gate:
            for attempt in range(1, attempts + 1):
                try:
                    outcome = await _seed_case(
                        client,
                        engine,
                        settings,
                        border,
                        index,
                        scenario,
                        random.Random(index),
                        today,
                    )
                except (
                    RPCError,
                    RPCTimeoutOrCancelledError,
                    TimeoutError,
                    Unavailable,
                    OSError,
                ) as exc:
                    if attempt == attempts:
                        report.errors.append(f"case {index}: {exc}")
                        outcome = SeedOutcome.FAILED
                    else:
                        await asyncio.sleep(min(8.0, 0.5 * 2**attempt))
                        continue
                report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
                return

    await asyncio.gather(*(one(i, s) for i, s in enumerate(plan)))
    if made or report.worked:
        report.tokens = await asyncio.to_thread(fresh_tokens, engine, made)
    return report


def role_of(name: str) -> str:
    """The role of a demo user (for printing `role: token`)."""
    return next(role.value for role, (user, _) in ROLE_USERS.items() if user == name)
