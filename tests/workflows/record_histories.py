"""Record case workflow histories for the replay test (run by hand when the workflow changes).

    .venv/bin/python -m tests.workflows.record_histories [SCENARIO ...]

Without names it records only the scenarios that have no history yet; name a scenario to record
it (again) on purpose. Histories recorded before a change must keep replaying after it: a change
to the commands a running workflow issues goes behind `workflow.patched()`. Never re-record to
make a failing replay pass; add the new histories beside the old ones.

`pre_reminders_legal_aid.json` is not a scenario here: it was recorded on the code from before
reminders (a legal aid org's case, lodged, a contact 86 days later, i.e. after the decision clock's
7-day reminder instant and before it falls due, then decided, notified and the appeal window
passing). It proves the `reminders` patch keeps such running cases replayable; it can only be
recorded on that older code.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from db.engine import make_engine, migrate
from models.enums import Action
from models.messages import ActionBatch, ActionRequest, Refresh
from tests.workflows.helpers import Handle, act, local_today, start_case
from worker import build_worker
from workflows.case import CaseWorkflow

HERE = Path(__file__).parent / "histories"


async def _integration(env: WorkflowEnvironment, handle: Handle) -> None:
    d = local_today(await env.get_current_time())
    for action in ("complete_screening", "make_application", "register", "lodge"):
        await act(handle, action, d)
    await env.sleep(timedelta(days=200))
    d = local_today(await env.get_current_time())
    await act(handle, "decide", d, outcome="refugee_status")
    await act(handle, "notify_decision", d)
    await env.sleep(timedelta(days=20))
    d = local_today(await env.get_current_time())
    await act(handle, "issue_permit", d)
    await act(handle, "issue_personal_id", d)
    await act(handle, "close", d)
    await handle.result()


async def _return(env: WorkflowEnvironment, handle: Handle) -> None:
    d = local_today(await env.get_current_time())
    for action in ("make_application", "register", "lodge"):
        await act(handle, action, d)
    await act(handle, "pause_clock", d, reason="absent", attributable_to="applicant")
    await env.sleep(timedelta(days=10))
    d = local_today(await env.get_current_time())
    await act(handle, "resume_clock", d)
    await act(handle, "decide", d, outcome="rejected")
    await act(handle, "notify_decision", d)
    await act(handle, "lodge_appeal", d)
    await act(handle, "decide_appeal", d, result="dismissed")
    steps: list[tuple[str, dict[str, Any]]] = [
        ("start_return", {}),
        ("record_return_consent", {}),
        ("record_risk_assessment", {"at_risk": False}),
        ("record_departure", {}),
    ]
    for action, fields in steps:
        await act(handle, action, d, **fields)


async def _continue_as_new(env: WorkflowEnvironment, handle: Handle) -> None:
    d = local_today(await env.get_current_time())
    for action in ("make_application", "register", "lodge"):
        await act(handle, action, d)
    for i in range(40):
        await act(handle, "assign_caseworker", d, user=f"cw-{i}")


async def _reminders(env: WorkflowEnvironment, handle: Handle) -> None:
    # A legal aid org's case: the decision clock's 7- and 2-day reminders, then the appeal
    # window's, then the window passes (send_reminder runs; the recording DB has no webhooks).
    d = local_today(await env.get_current_time())
    for action in ("make_application", "register", "lodge"):
        await act(handle, action, d)
    await env.sleep(timedelta(days=89))
    d = local_today(await env.get_current_time())
    await act(handle, "decide", d, outcome="rejected")
    await act(handle, "notify_decision", d)
    await env.sleep(timedelta(days=20))


async def _reminders_follow_org(env: WorkflowEnvironment, handle: Handle) -> None:
    # The decision clock's 7-day reminder goes to one org; the case then moves to another,
    # which is owed that reminder again at once (the patch "reminders-follow-org"), and the
    # 2-day one later.
    d = local_today(await env.get_current_time())
    for action in ("make_application", "register", "lodge"):
        await act(handle, action, d)
    await env.sleep(timedelta(days=85))
    d = local_today(await env.get_current_time())
    await act(handle, "assign_legal_aid", d, org="org-rec-2")
    await env.sleep(timedelta(days=4))
    d = local_today(await env.get_current_time())
    await act(handle, "decide", d, outcome="rejected")


async def _reminder_retracted(env: WorkflowEnvironment, handle: Handle) -> None:
    # A case with a reference, of a legal aid org: the decision clock's 7-day reminder goes
    # out; a decision dated before that reminder, recorded after it, shows the reminder was
    # about a deadline already met: it is withdrawn (the patch "reminder-retractions"; the
    # recording DB has no webhooks). Then the appeal window runs out.
    start = local_today(await env.get_current_time())
    for action in ("make_application", "register", "lodge"):
        await act(handle, action, start)
    await env.sleep(timedelta(days=87))
    await act(handle, "decide", start + timedelta(days=80), outcome="rejected")
    d = local_today(await env.get_current_time())
    await act(handle, "notify_decision", d)
    await env.sleep(timedelta(days=20))


async def _late_entry(env: WorkflowEnvironment, handle: Handle) -> None:
    # Legal time: acts typed in weeks after they happened and out of order. A rejection whose
    # appeal window closed (finality derived, return opened), then the appeal lodged in time
    # typed late (finality and return retracted), a pause typed by mistake and retracted, a
    # correction of the notification date.
    start = local_today(await env.get_current_time())
    await env.sleep(timedelta(days=60))
    for action, day, fields in [
        ("make_application", 0, {}),
        ("register", 1, {}),
        ("lodge", 2, {}),
        ("decide", 20, {"outcome": "rejected"}),
        ("notify_decision", 21, {}),
    ]:
        await act(handle, action, start + timedelta(days=day), **fields)
    d = local_today(await env.get_current_time())
    await act(handle, "start_return", d)
    await act(handle, "lodge_appeal", start + timedelta(days=30))
    await act(handle, "pause_clock", d, reason="typed by mistake", attributable_to="applicant")
    state = await handle.query(CaseWorkflow.history)
    pause = next(e["seq"] for e in state if e["action"] == "pause_clock")
    await act(handle, "retract_event", d, seq=pause, reason="wrong case")
    await act(handle, "correct_event", d, event="notified", date=(start + timedelta(days=22)))
    await env.sleep(timedelta(days=5))


async def _caller_projects(env: WorkflowEnvironment, handle: Handle) -> None:
    # As the API drives a case: started with caller_projects, every action with project=True
    # (the batch comes back in the result), clocks settled by the loop itself (projected by its
    # activity), a past-dated batch, closed by an action.
    def request(action: str, d: date, **fields: Any) -> ActionRequest:
        body = {"on": d.isoformat(), **fields}
        return ActionRequest(action=Action(action), body=body, actor="cw", project=True)

    await handle.execute_update(CaseWorkflow.refresh, Refresh(project=True))
    d = local_today(await env.get_current_time())
    for action in ("make_application", "register", "lodge"):
        await handle.execute_update(CaseWorkflow.act, request(action, d))
    await env.sleep(timedelta(days=200))
    d = local_today(await env.get_current_time())
    batch = ActionBatch(
        actions=[
            request("decide", d, outcome="refugee_status"),
            request("notify_decision", d),
        ],
        project=True,
    )
    await handle.execute_update(CaseWorkflow.act_batch, batch)
    await env.sleep(timedelta(days=20))
    d = local_today(await env.get_current_time())
    for action in ("issue_permit", "issue_personal_id", "close"):
        await handle.execute_update(CaseWorkflow.act, request(action, d))
    await handle.result()


async def _protection(env: WorkflowEnvironment, handle: Handle) -> None:
    # Issue #19: a referral that keeps the stage (the `referral-keeps-stage` patch), its
    # answer, information given, an interview waiting for an interpreter, a miss by the
    # authority, an age assessment, a representative and a decision.
    d = local_today(await env.get_current_time())
    await act(handle, "complete_screening", d, needs=["unaccompanied_child"])
    view = await act(handle, "refer", d, to="child_protection")
    referral = view["protection"]["referrals"][0]["id"]
    await act(handle, "record_information_given", d, language="fa", form="oral")
    for action in ("make_application", "register", "lodge"):
        await act(handle, action, d)
    await act(handle, "record_referral_outcome", d, referral=referral, acknowledged=True)
    await act(handle, "record_age_assessment", d, outcome="minor")
    await act(handle, "appoint_representative", d)
    await act(handle, "record_best_interests", d)
    await env.sleep(timedelta(days=10))
    d = local_today(await env.get_current_time())
    await act(handle, "schedule_interview", d, interview_on=d + timedelta(days=5), language="fa")
    await act(handle, "assign_interpreter", d, interpreter="int-fa")
    await env.sleep(timedelta(days=5))
    d = local_today(await env.get_current_time())
    await act(handle, "record_interview", d, attended=False, missed_by="authority")
    await act(handle, "schedule_interview", d, interview_on=d, language="fa", interpreter="int-fa")
    await act(handle, "record_interview", d, attended=True)
    await act(handle, "decide", d, outcome="refugee_status")


SCENARIOS = {
    "integration": _integration,
    "return": _return,
    "continue_as_new": _continue_as_new,
    "reminders": _reminders,
    "caller_projects": _caller_projects,
    "reminders_follow_org": _reminders_follow_org,
    "reminder_retracted": _reminder_retracted,
    "late_entry": _late_entry,
    "protection": _protection,
    # Started at patch level 1 (`workflows.patches`): no marker for the changes it folds.
    "integration_level_1": _integration,
    "continue_as_new_level_1": _continue_as_new,
    "caller_projects_level_1": _caller_projects,
}

START_OPTIONS: dict[str, dict[str, Any]] = {
    "continue_as_new": {"history_threshold": 60},
    "continue_as_new_level_1": {"history_threshold": 60},
    "reminders": {"legal_aid_org": "org-rec"},
    "caller_projects": {"legal_aid_org": "org-rec", "caller_projects": True},
    "caller_projects_level_1": {"legal_aid_org": "org-rec", "caller_projects": True},
    "reminders_follow_org": {"legal_aid_org": "org-rec"},
    "reminder_retracted": {"legal_aid_org": "org-rec", "reference": "RS-2026-000001"},
}


async def main() -> None:
    """Run each scenario on the time-skipping server and save its history as JSON."""
    bin_dir = Path(sys.executable).parent
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(bin_dir / "temporal-test-server"),
    )
    url = f"sqlite:////tmp/record-{uuid.uuid4().hex}.db"
    migrate(url)
    queue = f"record-{uuid.uuid4().hex[:8]}"
    names = sys.argv[1:] or [n for n in SCENARIOS if not (HERE / f"{n}.json").exists()]
    async with build_worker(env.client, queue, make_engine(url)):
        for name in names:
            scenario = SCENARIOS[name]
            today = local_today(await env.get_current_time())
            handle = await start_case(
                env.client,
                queue,
                f"rec-{name}",
                identified_on=today,
                **START_OPTIONS.get(name, {}),
            )
            await scenario(env, handle)
            history = await env.client.get_workflow_handle(
                handle.id, run_id=handle.result_run_id
            ).fetch_history()
            out = HERE / f"{name}.json"
            out.write_text(history.to_json())
            print(f"{out}: {len(history.events)} events")
            latest = (await handle.describe()).run_id
            if latest != handle.result_run_id:
                later = await env.client.get_workflow_handle(
                    handle.id, run_id=latest
                ).fetch_history()
                out = HERE / f"{name}_next_run.json"
                out.write_text(later.to_json())
                print(f"{out}: {len(later.events)} events")
    await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
