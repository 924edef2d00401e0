"""`asylumflow import`: JSON Lines and CSV against the dev server and a real worker.

Good rows become cases at the right stage with deadlines from the given legal dates, in the
read model; bad rows are refused with row, field and reason and leave nothing behind; a second
import skips everything; an import cut short resumes; the command itself exits 1 with a report.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.routes.cases import _remember
from api.schemas import CaseCreate
from core.settings import Settings
from db.imports import import_key
from db.tables import (
    AuditRecord,
    CaseRecord,
    DuplicateRecord,
    IdempotencyRecord,
    PersonRecord,
)
from models.enums import Action
from models.messages import ActionRequest
from tests.tools.conftest import import_worker
from tools.import_rows import Format, PreparedRow, Rejection, RowError, csv_columns
from tools.importer import DEFAULT_ACTOR, _actor, import_row, read_report, run_import
from workflows.case import CaseWorkflow, workflow_id

FUTURE = (date.today() + timedelta(days=5)).isoformat()


def person(n: int) -> dict[str, Any]:
    return {
        "given_name": f"Imported{n}",
        "family_name": "Applicant",
        "date_of_birth": "1990-05-01",
        "nationality": "SYR",
        "sex": "female",
    }


def case(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "jurisdiction": "rs",
        "person": person(n),
        "identified_on": "2025-02-24",
        "identified_at": "border",
        **extra,
    }


LODGED = [
    {"action": "make_application", "on": "2025-02-24"},
    {"action": "register", "on": "2025-02-25"},
    {"action": "lodge", "on": "2025-03-03"},
]


@dataclass
class Ctx:
    client: Client
    engine: Engine
    settings: Settings
    db_url: str
    tmp: Path

    async def run(self, path: Path, fmt: Format = "jsonl", **kwargs: Any) -> Any:
        return await run_import(
            self.client,
            self.engine,
            self.settings,
            path,
            fmt,
            **kwargs,
        )

    async def view(self, external_id: str) -> dict[str, Any]:
        with Session(self.engine) as session:
            key = session.get(IdempotencyRecord, (DEFAULT_ACTOR, import_key(external_id)))
        assert key is not None, external_id
        handle = self.client.get_workflow_handle(workflow_id(key.case_id))
        view: dict[str, Any] = await handle.query(CaseWorkflow.state)
        view["case_id"] = key.case_id
        return view

    def count(self, table: Any) -> int:
        with Session(self.engine) as session:
            return len(session.exec(select(table)).all())


@pytest_asyncio.fixture
async def ctx(dev_env: WorkflowEnvironment, task_queue: str, tmp_path: Path) -> AsyncIterator[Ctx]:
    async with import_worker(dev_env.client, task_queue, tmp_path / "readmodel.db") as w:
        yield Ctx(w.client, w.engine, w.settings, w.url, tmp_path)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def by_field(rejected: list[Rejection]) -> dict[str, tuple[int, str, str]]:
    return {r.external_id or "": (r.row, r.field, r.reason) for r in rejected}


async def test_jsonl_imports_good_rows_refuses_bad_ones_and_skips_on_a_second_run(
    ctx: Ctx,
) -> None:
    decided = [
        *LODGED,
        {"action": "decide", "on": "2025-05-02", "outcome": "rejected"},
        {"action": "notify_decision", "on": "2025-05-05"},
    ]
    rows: list[dict[str, Any]] = [
        {"external_id": "lodged-1", "case": case(1), "actions": LODGED},
        # Given out of order: acts are recorded by their legal dates.
        {"external_id": "notified-1", "case": case(2), "actions": decided[::-1]},
        {"external_id": "bad-field", "case": {**case(3), "person": {**person(3), "sex": "x"}}},
        {"external_id": "future", "case": case(4), "actions": [{**LODGED[0], "on": FUTURE}]},
        {"external_id": "too-early", "case": case(5), "actions": [decided[3]]},
        {
            "external_id": "unknown",
            "case": case(6),
            "actions": [{"action": "teleport", "on": "2025-03-01"}],
        },
        {"external_id": "lodged-1", "case": case(7), "actions": LODGED},
        # A case with no act yet opens as POST /cases opens one.
        {"external_id": "identified-1", "case": case(8, identified_at="inland")},
    ]
    path = write_jsonl(ctx.tmp / "cases.jsonl", rows)
    path.write_text(path.read_text() + "not json\n")
    report = await ctx.run(path)

    assert report.imported == 3 and report.skipped == 0 and not report.failed
    refused = by_field(report.rejected)
    assert refused["bad-field"][:2] == (3, "case.person.sex")
    assert refused["future"][:2] == (4, "actions.0.on")
    assert "future" in refused["future"][2]
    assert refused["too-early"][:2] == (5, "actions.0.action")
    assert (
        "not allowed" in refused["too-early"][2] and "make_application" in refused["too-early"][2]
    )
    assert refused["unknown"][:2] == (6, "actions.0.action")
    assert refused["lodged-1"][:2] == (7, "external_id")
    assert refused[""][:2] == (9, "line")
    # Nothing of a refused row is stored: only the good cases have persons and keys.
    assert ctx.count(PersonRecord) == ctx.count(IdempotencyRecord) == ctx.count(CaseRecord) == 3
    # Registration ran the duplicate check: the two registered persons share a date of birth
    # and nearly a name.
    assert ctx.count(DuplicateRecord) >= 1
    assert (await ctx.view("identified-1"))["stage"] == "identified"
    if ctx.engine.dialect.name == "sqlite":
        # The grown read model has its planner statistics at once (`db.engine`).
        with ctx.engine.connect() as conn:
            analysed = conn.execute(
                text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'cases'")
            ).scalar_one()
        assert analysed > 0

    lodged = await ctx.view("lodged-1")
    assert lodged["stage"] == "lodged" and lodged["reference"].startswith("RS-2025-")
    decision = next(d for d in lodged["deadlines"] if d["clock"] == "decision")
    # rs: three months from lodging (3 March 2025), from the legal dates given.
    assert (decision["trigger_date"], decision["due"]) == ("2025-03-03", "2025-06-03")
    assert decision["status"] == "expired" and "overdue" in lodged["flags"]
    notified = await ctx.view("notified-1")
    # Rejected and notified in May 2025: the appeal window closed long ago, so the decision
    # became final and the case moved on to return, as the record's own dates say.
    assert notified["stage"] == "return" and notified["outcome"] == "rejected"
    with Session(ctx.engine) as session:
        row = session.get(CaseRecord, notified["case_id"])
        assert row is not None and row.stage == "return" and row.final
        assert row.lodged_on == date(2025, 3, 3) and row.decided_on == date(2025, 5, 2)
        # The person behind the case, as POST /cases stores it, by the import's actor.
        stored = session.get(PersonRecord, notified["case_id"])
        assert stored is not None and stored.created_by == DEFAULT_ACTOR

    # Each case the import opened is in the audit trail once, by the import's actor.
    with Session(ctx.engine) as session:
        audited = session.exec(select(AuditRecord).where(AuditRecord.method == "IMPORT")).all()
    assert sorted(a.case_id or "" for a in audited) == sorted(
        [(await ctx.view(x))["case_id"] for x in ("lodged-1", "notified-1", "identified-1")]
    )
    assert {(a.user_name, a.kind, a.status) for a in audited} == {(DEFAULT_ACTOR, "change", 201)}

    again = await ctx.run(path)
    assert again.imported == 0 and again.skipped == 3
    assert by_field(again.rejected).keys() == refused.keys()
    assert ctx.count(PersonRecord) == 3
    assert ctx.count(AuditRecord) == 3


async def test_csv_columns_map_to_acts_and_fields(ctx: Ctx) -> None:
    header = [
        "external_id",
        "jurisdiction",
        "identified_on",
        "given_name",
        "family_name",
        "nationality",
        "vulnerabilities",
        "make_application_on",
        "register_on",
        "lodge_on",
        "decide_on",
        "decide_outcome",
        "schedule_interview_on",
        "schedule_interview_interview_on",
    ]
    assert set(header) <= set(csv_columns())
    rows = [
        # Same day for application and registration: lifecycle order breaks the tie.
        [
            "c-1",
            "rs",
            "2025-02-24",
            "Ana",
            "Imported",
            "SYR",
            "",
            "2025-02-25",
            "2025-02-25",
            "2025-03-03",
            "2025-05-02",
            "refugee_status",
            "",
            "",
        ],
        [
            "c-2",
            "rs",
            "2025-02-24",
            "Ben",
            "Imported",
            "AFG",
            "child;disability",
            "2025-02-24",
            "2025-02-25",
            "2025-03-03",
            "",
            "",
            "2025-03-10",
            "2025-03-20",
        ],
        [
            "c-bad",
            "rs",
            "2025-02-24",
            "Cy",
            "Imported",
            "IRQ",
            "",
            "2025-02-24",
            "2025-02-25",
            "2025-03-03",
            "2025-05-02",
            "maybe",
            "",
            "",
        ],
        [
            "c-early",
            "rs",
            "2025-02-24",
            "Di",
            "Imported",
            "IRQ",
            "",
            "2025-02-24",
            "",
            "2025-03-03",
            "",
            "",
            "",
            "",
        ],
    ]
    path = ctx.tmp / "cases.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    report = await ctx.run(path, "csv")

    assert report.imported == 2
    refused = by_field(report.rejected)
    assert refused["c-bad"][:2] == (4, "decide_outcome")
    # Lodging before registration: refused on the act's date column.
    assert refused["c-early"][:2] == (5, "lodge_on") and "not allowed" in refused["c-early"][2]
    first, second = await ctx.view("c-1"), await ctx.view("c-2")
    assert first["stage"] == "decided" and first["outcome"] == "refugee_status"
    assert second["stage"] == "interview_scheduled"
    with Session(ctx.engine) as session:
        stored = session.get(PersonRecord, second["case_id"])
    assert stored is not None and stored.vulnerabilities == ["child", "disability"]
    assert ctx.count(PersonRecord) == 2


async def test_interrupted_import_resumes(ctx: Ctx) -> None:
    rows = [{"external_id": f"r-{n}", "case": case(n), "actions": LODGED} for n in range(5)]
    path = write_jsonl(ctx.tmp / "five.jsonl", rows)
    # Cut short after two cases.
    first = await ctx.run(path, limit=2, concurrency=1)
    assert (first.imported, first.not_reached, first.ok) == (2, 3, False)
    # A crash between storing the third row's person and starting its case.
    body = CaseCreate.model_validate(case(2))
    await asyncio.to_thread(
        _remember,
        ctx.engine,
        _actor(DEFAULT_ACTOR),
        import_key("r-2"),
        body,
        ctx.settings.task_queue,
    )
    resumed = await ctx.run(path)
    assert (resumed.imported, resumed.skipped, resumed.ok) == (3, 2, True)
    assert ctx.count(PersonRecord) == ctx.count(CaseRecord) == 5
    stages = [(await ctx.view(f"r-{n}"))["stage"] for n in range(5)]
    assert stages == ["lodged"] * 5


async def test_a_batch_the_workflow_refuses_leaves_no_case(ctx: Ctx) -> None:
    """Past the dry run (here skipped on purpose), the workflow's refusal removes the case."""
    row = PreparedRow(
        1,
        "slipped",
        CaseCreate.model_validate(case(9)),
        [
            ActionRequest(
                action=Action.DECIDE,
                body={"on": "2025-03-01", "outcome": "rejected"},
                actor=DEFAULT_ACTOR,
            )
        ],
    )
    user = _actor(DEFAULT_ACTOR)
    with pytest.raises(RowError) as refused:
        await import_row(ctx.client, ctx.engine, ctx.settings, user, row)
    assert "not allowed" in refused.value.reason
    assert ctx.count(PersonRecord) == ctx.count(IdempotencyRecord) == ctx.count(CaseRecord) == 0
    body = CaseCreate.model_validate(case(9))
    case_id = _remember(ctx.engine, user, import_key("slipped"), body, ctx.settings.task_queue)[0]
    handle = ctx.client.get_workflow_handle(workflow_id(case_id))
    # Deletion is asynchronous in the server: wait for it, bounded.
    for _ in range(100):
        try:
            await handle.describe()
        except RPCError as exc:
            status = exc.status
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the refused case's workflow is still there")
    assert status is RPCStatusCode.NOT_FOUND


async def test_the_command_reports_refused_rows_and_exits_1(ctx: Ctx) -> None:
    rows = [
        {"external_id": "cli-1", "case": case(1), "actions": LODGED},
        {"external_id": "cli-bad", "case": case(2), "actions": [{"action": "register", "on": "x"}]},
    ]
    path = write_jsonl(ctx.tmp / "cli.jsonl", rows)
    report = ctx.tmp / "refused.csv"

    code, text = await run_command(ctx, str(path), "--report", str(report), "--concurrency", "4")
    assert code == 1, text
    assert "imported 1, skipped as already imported 0, rejected 1" in text
    assert "Imported" not in text  # no personal data on the terminal
    [refused] = read_report(report)
    assert (refused["row"], refused["external_id"], refused["field"]) == (
        "2",
        "cli-bad",
        "actions.0.on",
    )
    assert "date" in refused["reason"]
    assert (await ctx.view("cli-1"))["stage"] == "lodged"

    # The row corrected, the same command again: the first case is skipped, the second in.
    rows[1]["actions"] = LODGED[:2]
    write_jsonl(path, rows)
    code, text = await run_command(ctx, str(path), "--report", str(report))
    assert code == 0, text
    assert "imported 1, skipped as already imported 1, rejected 0" in text
    assert read_report(report) == []
    assert (await ctx.view("cli-bad"))["stage"] == "registered"


def command_env(ctx: Ctx) -> dict[str, str]:
    """The command's environment: this test's Temporal server, task queue and database."""
    return {
        **os.environ,
        "DATABASE_URL": ctx.db_url,
        "TEMPORAL_ADDRESS": ctx.client.service_client.config.target_host,
        "ASYLUMFLOW_TASK_QUEUE": ctx.settings.task_queue,
    }


async def run_command(ctx: Ctx, *args: str) -> tuple[int | None, str]:
    """`asylumflow import` as a process of its own, on this test's server, queue and database."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "asylumflow"),
        "import",
        *args,
        "--no-progress",
        cwd=ctx.tmp,
        env=command_env(ctx),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, err.decode()


async def test_ctrl_c_stops_the_command_and_the_same_command_resumes(ctx: Ctx) -> None:
    # More rows than one written group holds (`WRITE_GROUP`, 64): the first group's cases are in
    # when the interrupt comes, and the rest cannot all be.
    total = 200
    rows = [{"external_id": f"sig-{n}", "case": case(n), "actions": LODGED} for n in range(total)]
    path = write_jsonl(ctx.tmp / "sigint.jsonl", rows)
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "asylumflow"),
        "import",
        str(path),
        "--no-progress",
        cwd=ctx.tmp,
        env=command_env(ctx),
        stderr=asyncio.subprocess.PIPE,
    )
    # Interrupted once some cases are in (bounded wait on that condition).
    for _ in range(600):
        if ctx.count(CaseRecord) >= 5 or process.returncode is not None:
            break
        await asyncio.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 130, err.decode()
    assert "run the same command again to resume" in err.decode()
    assert "Traceback" not in err.decode()
    assert ctx.count(CaseRecord) < total

    code, text = await run_command(ctx, str(path))
    assert code == 0, text
    # Every row once: no person or case twice, whatever the interruption cut short.
    assert ctx.count(CaseRecord) == ctx.count(PersonRecord) == total
