"""A demo caseload: about 300 fake cases in every situation a supervisor should see.

Cases are made through the same code path as `POST /cases` (the person in SQL first, then the
workflow by update-with-start) and moved on with the same `act` update the action routes send.
Every legal date is in the past, so the caseload already has overdue decisions, stuck and
abandoned cases, entitlements reached but blocked, appeals, integration, return and closed cases.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from api.casework import send_action, start_case
from api.errors import Conflict
from api.routes.cases import _remember
from api.schemas import CaseCreate, PersonIn
from core.settings import Settings
from db.tables import UserRecord
from db.users import Role, create_user
from models.enums import Action, IdentifiedAt, Vulnerability
from models.messages import ActionRequest

log = logging.getLogger("asylumflow.demo")

MARKER_USER = "demo-supervisor"
"""Its existence means the demo data was seeded: a second run does nothing."""

FAMILIES = ("rs", "me", "pl", "eu")
LEGAL_AID_ORGS = ("legal-aid-belgrade", "legal-aid-podgorica")
CASEWORKERS = ("demo-caseworker", "demo-caseworker-2", "demo-caseworker-3")
ROLE_USERS: dict[Role, tuple[str, str | None]] = {
    Role.BORDER_OFFICER: ("demo-border-officer", None),
    Role.CASEWORKER: ("demo-caseworker", None),
    Role.LEGAL_AID: ("demo-legal-aid", LEGAL_AID_ORGS[0]),
    Role.ADMIN: ("demo-admin", None),
    # Last: created at the very end, it marks the demo as complete.
    Role.SUPERVISOR: (MARKER_USER, None),
}

# Obviously fake names, so nobody mistakes the demo for real applicants.
GIVEN = ("Demo", "Sample", "Test", "Example", "Placeholder", "Fixture")
FAMILY_NAMES = ("Person", "Applicant", "Claimant", "Caseholder", "Dummy", "Mock")
NATIONALITIES = ("SYR", "AFG", "IRQ", "PAK", "BDI", "CUB", "IRN", "TUR")

Step = tuple[Action, int, dict[str, Any]]
"""An action, how many days before today it happened, and its fields."""


@dataclass(frozen=True)
class Scenario:
    """One intended situation and the past-dated actions that lead to it."""

    name: str
    weight: int
    steps: list[Step]
    optional: frozenset[Action] = field(default_factory=frozenset)


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
)


def demo_exists(engine: Engine) -> bool:
    """Whether the demo was already seeded (its supervisor exists)."""
    with Session(engine) as session:
        return (
            session.exec(select(UserRecord).where(UserRecord.name == MARKER_USER)).first()
            is not None
        )


def _plan(n: int, rng: random.Random) -> list[Scenario]:
    """One case of each scenario first (so even a small n covers them all), then by weight."""
    extra = rng.choices(
        SCENARIOS, weights=[s.weight for s in SCENARIOS], k=max(0, n - len(SCENARIOS))
    )
    return [*SCENARIOS, *extra][:n]


async def _seed_case(
    client: Client,
    engine: Engine,
    settings: Settings,
    border: UserRecord,
    index: int,
    scenario: Scenario,
    rng: random.Random,
    today: date,
) -> None:
    family = FAMILIES[index % len(FAMILIES)]
    first_day = today - timedelta(days=max(ago for _, ago, _ in scenario.steps) + 2)
    vulnerabilities = [Vulnerability.TORTURE_SURVIVOR] if index % 11 == 0 else []
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
    # A fixed idempotency key per case: a seeding run cut short never makes duplicates.
    case_id, _, intent, reference = await asyncio.to_thread(
        _remember, engine, border, f"demo-{index}", body
    )
    view = await start_case(
        client, engine, settings, case_id, body, border.name, intent, reference=reference
    )
    if view["stage"] != "identified":
        return  # already seeded by an earlier, interrupted run
    caseworker = CASEWORKERS[index % len(CASEWORKERS)]
    steps = list(scenario.steps)
    # The case is assigned when it is lodged (or at once, if it never gets there).
    lodge_ago = next((ago for a, ago, _ in steps if a is Action.LODGE), steps[-1][1])
    at = next(i for i, (a, _, _) in enumerate(steps) if a is Action.LODGE or i == len(steps) - 1)
    steps.insert(at + 1, (Action.ASSIGN_CASEWORKER, lodge_ago, {"user": caseworker}))
    for action, ago, fields in steps:
        actor = border.name if action is Action.MAKE_APPLICATION else caseworker
        if action in scenario.optional and action.value not in view["allowed_actions"]:
            continue
        body_json = {
            "on": (today - timedelta(days=ago)).isoformat(),
            **{k: v.isoformat() if isinstance(v, date) else v for k, v in fields.items()},
        }
        try:
            view = await send_action(
                client, engine, case_id, ActionRequest(action=action, body=body_json, actor=actor)
            )
        except Conflict as exc:
            # A pack without the step (say, no appeal window): the case stays where it is.
            log.warning("demo case %s (%s): %s skipped: %s", index, scenario.name, action, exc)
            break


async def seed_demo(
    client: Client, engine: Engine, settings: Settings, n: int = 300
) -> dict[str, str]:
    """Seed the demo caseload and its users; return user name → bearer token.

    Idempotent: when the demo supervisor already exists, nothing is done and `{}` is returned.

    Args:
        client: Temporal client the worker listens to (task queue from `settings`).
        engine: The read-model database (persons and users are stored there).
        settings: Task queue, search attributes and history threshold, as the API uses them.
        n: How many cases to create.

    Returns:
        The new users' names and their bearer tokens (shown only this once).
    """
    if await asyncio.to_thread(demo_exists, engine):
        return {}
    rng = random.Random(2026)
    today = date.today()
    border_name = ROLE_USERS[Role.BORDER_OFFICER][0]
    with Session(engine) as session:
        border = session.exec(select(UserRecord).where(UserRecord.name == border_name)).first()
    tokens: dict[str, str] = {}
    if border is None:
        tokens[border_name] = create_user(engine, border_name, Role.BORDER_OFFICER)
        with Session(engine) as session:
            border = session.exec(select(UserRecord).where(UserRecord.name == border_name)).one()
    plan = _plan(n, rng)
    # Bounded: hundreds of concurrent updates would only queue up in the server and the worker.
    gate = asyncio.Semaphore(16)

    async def one(index: int, scenario: Scenario) -> None:
        async with gate:
            await _seed_case(
                client, engine, settings, border, index, scenario, random.Random(index), today
            )

    await asyncio.gather(*(one(i, s) for i, s in enumerate(plan)))
    # Users last, the supervisor at the very end: it marks the demo as complete.
    with Session(engine) as session:
        existing = set(session.exec(select(UserRecord.name)).all())
    for name in CASEWORKERS[1:]:
        if name not in existing:
            create_user(engine, name, Role.CASEWORKER)
    for role, (name, org) in ROLE_USERS.items():
        if name not in existing and name not in tokens:
            tokens[name] = create_user(engine, name, role, org)
    return tokens


def role_of(name: str) -> str:
    """The role of a demo user (for printing `role: token`)."""
    return next(role.value for role, (user, _) in ROLE_USERS.items() if user == name)
