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
from tools.demo_scenarios import FAMILIES, LATEST, SCENARIOS, Scenario
from workflows.case import CaseWorkflow, workflow_id

log = logging.getLogger("asylumflow.demo")

MARKER_USER = "demo-supervisor"

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
