"""What-if simulator: the real `CaseWorkflow` on the time-skipping test server, week by week.

Arrivals, caseworker capacity, appeals and absconding are drawn from the given rates; the legal
clocks, their consequences (overdue decisions, labour-market access, finality) and the stages come
from the workflows themselves, so the charts show what the rules make of a given capacity.
The read-model projection is replaced by an in-memory function of the same name: nothing touches
SQL, and the projection tells the simulator which cases changed by themselves (only those are
queried again). The simulator's own acts take the read model's batch in their answer, as the API
does (`project`), so they cost no projection activity and no second workflow task.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import uuid
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from models.deadlines import preload
from models.enums import Action, IdentifiedAt, Stage
from models.messages import ActionBatch, ActionRequest, CaseInput, ProjectionBatch
from models.reminders import ReminderRequest, RetractionRequest
from models.rules import PackError, RulePack, resolve_pack
from tools.sim_output import OPEN, TERMINAL, write_outputs
from workflows.case import PROJECT_CASE, SEND_REMINDER, SEND_RETRACTION, CaseWorkflow, workflow_id

T = TypeVar("T")
Handle = WorkflowHandle[CaseWorkflow, dict[str, Any]]

ACTOR = "simulated-caseworker"
APPEAL_WEEKS = 8
"""Weeks the appeal body takes (every appeal is decided after this long)."""
REVIEW_WEEKS = 4
"""Weeks until a supervisor confirms a reported absconding (discontinuation)."""
CONCURRENCY = 32
"""Requests in flight at once: enough to keep server and worker busy, few enough not to queue."""


class SimulationError(Exception):
    """The simulation cannot run (unknown pack, missing test server binary)."""


@dataclass(frozen=True)
class SimulationConfig:
    """The what-if question: arrivals, capacity and behaviour rates."""

    pack: str
    arrivals_per_week: int = 40
    weeks: int = 52
    caseworkers: int = 6
    abscond_rate: float = 0.1
    appeal_rate: float = 0.6
    recognition_rate: float = 0.3
    decisions_per_caseworker_week: int = 3
    seed: int = 1


@dataclass
class SimCase:
    """What the simulator knows of one case besides its workflow's view."""

    id: str
    handle: Handle
    arrived: date
    lodged: date | None = None
    decided: date | None = None
    outcome: str | None = None
    will_appeal: bool = False
    appealed: date | None = None
    abscond_on: date | None = None
    absconded: date | None = None
    last_contact: date | None = None
    view: dict[str, Any] = field(default_factory=dict)

    @property
    def stage(self) -> str:
        """The stage in the latest view."""
        return str(self.view.get("stage", "identified"))


class Projections:
    """Stands in for the read model: remembers which cases changed since the last look."""

    def __init__(self) -> None:
        self.changed: set[str] = set()
        self.batches = 0

    @activity.defn(name=PROJECT_CASE)
    async def project_case(self, batch: ProjectionBatch) -> None:
        """Note the case as changed (same name and input as the SQL projection).

        Only changes the simulator did not make itself count: after its own actions it already
        holds the view the update returned. Events by anyone else (the clocks settling, the
        no-contact watch) mean the view moved on by itself and must be queried.
        """
        self.batches += 1
        if any(e.actor != ACTOR for e in batch.events):
            self.changed.add(batch.case.id)

    def take(self) -> set[str]:
        """The cases changed since the last call."""
        changed, self.changed = self.changed, set()
        return changed


@activity.defn(name=SEND_REMINDER)
async def send_reminder(request: ReminderRequest) -> None:
    """Simulated cases have no legal aid org to remind: nothing to deliver."""


@activity.defn(name=SEND_RETRACTION)
async def send_reminder_retraction(request: RetractionRequest) -> None:
    """Nor any reminder to withdraw."""


def _choose_pack(name: str, today: date) -> RulePack:
    try:
        chosen = resolve_pack(name, made=today, lodged=today, fallback=today)
        in_force = resolve_pack(chosen.family, made=today, lodged=today, fallback=today)
    except PackError as exc:
        raise SimulationError(f"--pack: {exc}") from None
    if chosen.id != in_force.id:
        # The workflows pick the version in force on the lodging day; a simulation of another
        # version would silently run under the wrong rules.
        raise SimulationError(
            f"--pack {name}: the simulation starts today, when {in_force.id} is in force; "
            f"use --pack {chosen.family}"
        )
    return chosen


def _without_batch(answer: dict[str, Any]) -> dict[str, Any]:
    """The view in an answer to a `project` update, without the read model's batch.

    The batch is what the projection activity would have been given; the simulator's read
    model is only "which cases changed by themselves", and the view answered is already after
    every change the batch holds (clocks the act settled included), so it is dropped.
    """
    answer.pop("projection", None)
    return answer


async def _bounded(gate: asyncio.Semaphore, work: Awaitable[T]) -> T:
    async with gate:
        return await work


class Simulation:
    """One run: the environment, the cases, and the metrics collected each week."""

    def __init__(
        self, config: SimulationConfig, env: WorkflowEnvironment, pack: RulePack, task_queue: str
    ) -> None:
        self.config = config
        self.env = env
        self.client: Client = env.client
        self.pack = pack
        self.task_queue = task_queue
        self.rng = random.Random(config.seed)
        self.cases: dict[str, SimCase] = {}
        self.gate = asyncio.Semaphore(CONCURRENCY)
        self.weekly: list[dict[str, Any]] = []
        self.failures: Counter[str] = Counter()
        # Contact is recorded before the no-contact watch would presume a waiting applicant gone
        # (checked weekly, so at most six days after it falls due).
        self.contact_every = max(1, pack.no_contact_days - 7)

    async def today(self) -> date:
        """The legal date now, in the pack's time zone."""
        now: datetime = await self.env.get_current_time()
        return now.astimezone(self.pack.tz).date()

    async def act(self, case: SimCase, action: Action, on: date, **fields: Any) -> bool:
        """Send one action; a refusal (say, a stage the clocks already moved on) is counted."""
        body = {"on": on.isoformat(), **fields}
        request = ActionRequest(action=action, body=body, actor=ACTOR, project=True)
        try:
            case.view = _without_batch(await case.handle.execute_update(CaseWorkflow.act, request))
        except WorkflowUpdateFailedError:
            self.failures[action.value] += 1
            return False
        return True

    async def act_batch(
        self, case: SimCase, acts: list[tuple[Action, date, dict[str, Any]]]
    ) -> bool:
        """Send several acts as one `act_batch` update (one round trip, one dry run, one view).

        All or nothing, in legal order, as the import sends a caseload's acts; a refusal is
        counted against the batch's actions together.
        """
        batch = ActionBatch(
            actions=[
                ActionRequest(action=a, body={"on": on.isoformat(), **fields}, actor=ACTOR)
                for a, on, fields in acts
            ],
            project=True,
        )
        try:
            case.view = _without_batch(
                await case.handle.execute_update(CaseWorkflow.act_batch, batch)
            )
        except WorkflowUpdateFailedError:
            self.failures["+".join(a.value for a, _, _ in acts)] += 1
            return False
        return True

    async def gather(self, jobs: list[Awaitable[None]]) -> None:
        """Run per-case jobs with bounded concurrency (a coroutine starts when admitted)."""
        await asyncio.gather(*(_bounded(self.gate, job) for job in jobs))

    # ----------------------------------------------------------------------------------------
    # One week

    async def arrive(self, today: date) -> None:
        """New applications, made, registered and lodged on days of the week just ended."""

        async def one() -> None:
            day = today - timedelta(days=self.rng.randint(0, 6))
            case_id = f"sim{uuid.UUID(int=self.rng.getrandbits(128)).hex[:16]}"
            handle = await self.client.start_workflow(
                CaseWorkflow.run,
                CaseInput.opening(
                    case_id,
                    self.pack.family,
                    day,
                    identified_at=IdentifiedAt.BORDER,
                    actor=ACTOR,
                    search_attributes=False,  # the test server has no search attributes
                    # The first act's answer carries the first batch (see `_without_batch`).
                    caller_projects=True,
                ),
                id=workflow_id(case_id),
                task_queue=self.task_queue,
            )
            case = SimCase(id=case_id, handle=handle, arrived=day, last_contact=day)
            if self.rng.random() < self.config.abscond_rate:
                case.abscond_on = day + timedelta(weeks=self.rng.randint(2, 20))
            will_appeal = self.rng.random() < self.config.appeal_rate
            case.will_appeal = will_appeal
            self.cases[case_id] = case
            lodge_on = min(day + timedelta(days=1), today)
            # One update for the three acts: a third of the round trips and dry runs.
            lodging: list[tuple[Action, date, dict[str, Any]]] = [
                (Action.MAKE_APPLICATION, day, {}),
                (Action.REGISTER, day, {}),
                (Action.LODGE, lodge_on, {}),
            ]
            if await self.act_batch(case, lodging):
                case.lodged = lodge_on

        await self.gather([one() for _ in range(self.config.arrivals_per_week)])

    async def decide(self, today: date) -> None:
        """Caseworkers decide the oldest lodged cases they can; each decision is notified."""
        capacity = self.config.caseworkers * self.config.decisions_per_caseworker_week
        queue = sorted(
            (
                c
                for c in self.cases.values()
                if c.stage == Stage.LODGED and c.absconded is None and c.lodged is not None
            ),
            key=lambda c: (c.lodged or today, c.id),
        )[:capacity]
        outcomes = []
        for _ in queue:
            if self.rng.random() < self.config.recognition_rate:
                # Two in three of those protected get refugee status, the rest subsidiary.
                outcomes.append(
                    "refugee_status" if self.rng.random() < 2 / 3 else "subsidiary_protection"
                )
            else:
                outcomes.append("rejected")

        async def one(case: SimCase, outcome: str) -> None:
            decision = [
                (Action.DECIDE, today, {"outcome": outcome}),
                (Action.NOTIFY_DECISION, today, {}),
            ]
            if not await self.act_batch(case, decision):
                return
            case.decided, case.outcome = today, outcome
            if "make_final" in case.view.get("allowed_actions", []):
                await self.act(case, Action.MAKE_FINAL, today)
            elif (
                outcome == "rejected"
                and case.will_appeal
                and await self.act(case, Action.LODGE_APPEAL, today)
            ):
                case.appealed = today

        await self.gather([one(c, o) for c, o in zip(queue, outcomes, strict=True)])

    async def appeals(self, today: date) -> None:
        """The appeal body decides appeals lodged APPEAL_WEEKS ago: mostly dismissed."""
        due = [
            c
            for c in self.cases.values()
            if c.stage == Stage.APPEAL_LODGED
            and c.appealed is not None
            and (today - c.appealed).days >= APPEAL_WEEKS * 7
        ]

        async def one(case: SimCase) -> None:
            if self.rng.random() < 0.85:
                await self.act(case, Action.DECIDE_APPEAL, today, result="dismissed")
            else:
                await self.act(
                    case,
                    Action.DECIDE_APPEAL,
                    today,
                    result="substituted",
                    outcome="subsidiary_protection",
                )

        await self.gather([one(c) for c in due])

    async def behave(self, today: date) -> None:
        """Applicants abscond (reported), keep in touch, and supervisors confirm abandonment."""
        in_procedure = {
            Stage.LODGED.value,
            Stage.NOTIFIED.value,
            Stage.APPEAL_LODGED.value,
            Stage.REGISTERED.value,
            Stage.APPLICATION_MADE.value,
        }
        jobs: list[Awaitable[None]] = []
        for case in self.cases.values():
            if case.stage not in in_procedure:
                continue
            if case.absconded is None and case.abscond_on is not None and case.abscond_on <= today:
                jobs.append(self._abscond(case, today))
            elif case.absconded is not None:
                if (today - case.absconded).days >= REVIEW_WEEKS * 7:
                    jobs.append(self._review(case, today))
            elif (today - (case.last_contact or case.arrived)).days >= self.contact_every:
                jobs.append(self._contact(case, today))
        await self.gather(jobs)

    async def _abscond(self, case: SimCase, today: date) -> None:
        if await self.act(case, Action.REPORT_ABSCONDED, today):
            case.absconded = today

    async def _review(self, case: SimCase, today: date) -> None:
        if "review_abandonment" in case.view.get("allowed_actions", []):
            await self.act(case, Action.REVIEW_ABANDONMENT, today, confirm=True)

    async def _contact(self, case: SimCase, today: date) -> None:
        if await self.act(case, Action.RECORD_CONTACT, today):
            case.last_contact = today

    async def refresh_views(self, changed: set[str]) -> None:
        """Query the state of the cases whose workflows ran since the last week."""

        async def one(case: SimCase) -> None:
            case.view = await case.handle.query(CaseWorkflow.state)

        await self.gather([one(self.cases[i]) for i in changed if i in self.cases])

    def record(self, week: int, today: date) -> dict[str, Any]:
        """The week's figures from the latest view of every case."""
        stages: Counter[str] = Counter()
        overdue = overdue_decisions = reached = blocked = abandoned = 0
        for case in self.cases.values():
            view = case.view
            stages[case.stage] += 1
            flags = view.get("flags", [])
            overdue += "overdue" in flags
            abandoned += "presumed_abandoned" in flags
            blocked += "entitled_but_blocked" in flags
            deadlines = {d["clock"]: d["status"] for d in view.get("deadlines", [])}
            overdue_decisions += deadlines.get("decision") == "expired"
            reached += deadlines.get("labour_market_access") == "reached"
        days = [(c.decided - c.lodged).days for c in self.cases.values() if c.decided and c.lodged]
        row: dict[str, Any] = {
            "week": week,
            "date": today.isoformat(),
            "cases": len(self.cases),
            "decided": len(days),
            "overdue": overdue,
            "overdue_decisions": overdue_decisions,
            "entitlements_reached": reached,
            "entitled_blocked": blocked,
            "presumed_abandoned": abandoned,
            "processing_days_median": statistics.median(days) if days else "",
            "processing_days_p90": _nearest_rank(days, 0.9) if days else "",
        }
        row.update({f"stage_{s}": stages.get(s, 0) for s in [*OPEN, *TERMINAL]})
        self.weekly.append(row)
        return row


def _nearest_rank(values: list[int], fraction: float) -> int:
    ordered = sorted(values)
    return ordered[max(0, -(-int(fraction * 100) * len(ordered) // 100) - 1)]


async def run_simulation(
    config: SimulationConfig, out: Path, *, progress: bool = False
) -> list[Path]:
    """Simulate `config.weeks` weeks and write CSVs and charts to `out`.

    Args:
        config: Arrivals, capacity and rates.
        out: Directory for `weekly.csv`, `cases.csv` and the PNG charts (created if missing).
        progress: Show a progress bar on the terminal.

    Returns:
        The files written.

    Raises:
        SimulationError: The pack is unknown or the test server binary is missing.
    """
    server = Path(sys.executable).parent / "temporal-test-server"
    if not server.exists():
        raise SimulationError(f"{server} is missing: run `make install`")
    preload()
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=str(server)
    )
    try:
        return await _run(config, out, env, progress)
    finally:
        await env.shutdown()


async def _run(
    config: SimulationConfig, out: Path, env: WorkflowEnvironment, progress: bool
) -> list[Path]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    now: datetime = await env.get_current_time()
    pack = _choose_pack(config.pack, now.date())
    task_queue = f"simulate-{uuid.uuid4().hex[:8]}"
    sim = Simulation(config, env, pack, task_queue)
    projections = Projections()
    worker = Worker(
        env.client,
        task_queue=task_queue,
        workflows=[CaseWorkflow],
        activities=[projections.project_case, send_reminder, send_reminder_retraction],
        # No sandbox for any workflow here (`CaseWorkflow` runs without one everywhere; a
        # sandbox's per-task import isolation was a quarter of the run time).
        workflow_runner=UnsandboxedWorkflowRunner(),
        # Every case stays cached: evicting one means replaying its history on the next query.
        max_cached_workflows=max(1000, config.arrivals_per_week * config.weeks + 100),
        max_concurrent_workflow_tasks=CONCURRENCY * 2,
    )
    bar = Progress(
        TextColumn("[bold]week {task.completed:.0f}/{task.total:.0f}"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        disable=not progress,
    )
    async with worker:
        with bar:
            task = bar.add_task("", total=config.weeks)
            for week in range(1, config.weeks + 1):
                # Time first: the clocks of the week run out (and fire) before anyone acts.
                await env.sleep(timedelta(weeks=1))
                today = await sim.today()
                await sim.arrive(today)
                await sim.decide(today)
                await sim.appeals(today)
                await sim.behave(today)
                await sim.refresh_views(projections.take())
                row = sim.record(week, today)
                backlog = sum(row[f"stage_{s}"] for s in ("lodged", "notified", "appeal_lodged"))
                bar.update(
                    task,
                    advance=1,
                    description=f"{row['cases']} cases, {backlog} in procedure, "
                    f"{row['overdue_decisions']} overdue",
                )
        # Let the last projections land, then read every case once more for cases.csv.
        await sim.refresh_views(set(sim.cases))
    return write_outputs(sim, out)
