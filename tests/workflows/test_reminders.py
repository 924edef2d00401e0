"""Reminders from durable timers: a real webhook gets signed reminders at the right legal instant.

On the time-skipping server, with the real `send_reminder` activity and a real HTTP receiver on
127.0.0.1. The case: Serbia, lodged today; its decision clock (3 months) is reminded of 7 and 2
days before it falls due; a decision then cancels labour-market access before its own reminder.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest_asyncio
from sqlalchemy.engine import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.helpers import venv_binary
from tests.webhooks import WebhookReceiver
from tests.workflows.helpers import (
    SECRET,
    Handle,
    act,
    add_webhook,
    attempts,
    deadline,
    local_today,
    start_case,
)
from worker import build_worker
from workflows.case import CaseWorkflow

BELGRADE = ZoneInfo("Europe/Belgrade")


@pytest_asyncio.fixture(scope="module")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of this module's own (overrides the session's).

    The session's server sometimes keeps time locked once earlier tests terminated their
    leftover workflows (seen with the code from before reminders too): every later
    `env.sleep()` then times out. These tests sleep months, so they get a fresh server.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=venv_binary("temporal-test-server"),
    )
    try:
        yield env
    finally:
        await env.shutdown()


def start_of_day(day: date) -> datetime:
    """Midnight in Belgrade, in UTC: when a reminder `n` days before a due date falls due."""
    return datetime.combine(day, time(0), tzinfo=BELGRADE).astimezone(UTC)


async def reminder_activity_times(handle: Handle) -> list[datetime]:
    """When (server time, i.e. simulated) each `send_reminder` activity was scheduled."""
    times: list[datetime] = []
    async for event in handle.fetch_history_events():
        if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            continue
        attributes = event.activity_task_scheduled_event_attributes
        if attributes.activity_type.name == "send_reminder":
            times.append(event.event_time.ToDatetime(tzinfo=UTC))
    return times


async def lodged_for_org_a(
    env: WorkflowEnvironment, task_queue: str, case_id: str
) -> tuple[Handle, dict[str, Any]]:
    """A case of org-a, applied for, registered and lodged today: its handle and state."""
    day0 = local_today(await env.get_current_time())
    handle = await start_case(
        env.client, task_queue, case_id, identified_on=day0, legal_aid_org="org-a"
    )
    for action in ("make_application", "register", "lodge"):
        state = await act(handle, action, day0)
    return handle, state


async def sleep_until(env: WorkflowEnvironment, instant: datetime) -> None:
    now = await env.get_current_time()
    assert instant > now, f"{instant} is already past ({now})"
    await env.sleep(instant - now)


async def test_reminders_at_their_instants_and_none_after_cancellation(
    time_env: WorkflowEnvironment, task_queue: str, case_id: str, sqlite_engine: Engine
) -> None:
    env = time_env
    with WebhookReceiver(fail_first=1) as receiver:
        mine = add_webhook(sqlite_engine, "org-a", f"{receiver.url}/org-a")
        other = add_webhook(sqlite_engine, "org-b", f"{receiver.url}/org-b")
        async with build_worker(env.client, task_queue, sqlite_engine, private_webhooks=True):
            handle, state = await lodged_for_org_a(env, task_queue, case_id)
            decision_due = date.fromisoformat(deadline(state, "decision")["due"])
            labour = deadline(state, "labour_market_access")
            labour_due = date.fromisoformat(labour["due"])
            assert labour["status"] == "running"
            at7 = start_of_day(decision_due - timedelta(days=7))
            at2 = start_of_day(decision_due - timedelta(days=2))

            # An hour before the first reminder: nothing was sent.
            await sleep_until(env, at7 - timedelta(hours=1))
            await asyncio.sleep(0.5)
            assert receiver.requests == []
            assert await reminder_activity_times(handle) == []

            # Its instant passes: the first POST fails (500), Temporal retries, the second lands.
            await sleep_until(env, at7 + timedelta(hours=1))
            first = (await receiver.wait_accepted(1))[0]
            assert first.path == "/org-a"
            assert first.signed_with(SECRET)
            assert first.json() == {
                "kind": "reminder",
                "case_id": case_id,
                "clock": "decision",
                "due": decision_due.isoformat(),
                "days_left": 7,
            }
            assert first.headers["content-type"] == "application/json"
            assert [r.status for r in receiver.requests] == [500, 200]
            assert receiver.requests[0].body == first.body  # a retry sends the same bytes
            (scheduled,) = await reminder_activity_times(handle)
            assert at7 <= scheduled < at7 + timedelta(minutes=1)

            await sleep_until(env, at2 + timedelta(hours=1))
            second = (await receiver.wait_accepted(2))[1]
            assert second.signed_with(SECRET)
            assert second.json()["clock"] == "decision"
            assert second.json()["days_left"] == 2
            times = await reminder_activity_times(handle)
            assert len(times) == 2
            assert at2 <= times[1] < at2 + timedelta(minutes=1)

            # The decision is taken before it falls due: it meets the decision clock and
            # cancels labour-market access, whose reminders must then never come.
            today = local_today(await env.get_current_time())
            state = await act(handle, "decide", today, outcome="rejected")
            assert deadline(state, "labour_market_access")["status"] == "cancelled"
            await sleep_until(env, start_of_day(labour_due + timedelta(days=1)))
            await asyncio.sleep(1)
            internal = await handle.query(CaseWorkflow.case_state)

    assert len(receiver.requests) == 3
    assert [r.json()["clock"] for r in receiver.accepted] == ["decision", "decision"]
    assert len(await reminder_activity_times(handle)) == 2
    assert sorted(internal.reminders_sent) == [
        f"{case_id}:decision:{decision_due.isoformat()}:2d",
        f"{case_id}:decision:{decision_due.isoformat()}:7d",
    ]
    # Every attempt is in the delivery log, the failed one with its status; org-b got nothing.
    log = attempts(sqlite_engine)
    assert [(d.webhook_id, d.attempt, d.status_code, d.ok, d.days_left) for d in log] == [
        (mine, 1, 500, False, 7),
        (mine, 2, 200, True, 7),
        (mine, 1, 200, True, 2),
    ]
    assert log[0].error == "HTTP 500"
    assert other not in {d.webhook_id for d in log}


async def test_a_case_handed_to_another_org_is_reminded_to_it(
    time_env: WorkflowEnvironment, task_queue: str, case_id: str, sqlite_engine: Engine
) -> None:
    env = time_env
    with WebhookReceiver() as receiver:
        add_webhook(sqlite_engine, "org-a", f"{receiver.url}/org-a")
        add_webhook(sqlite_engine, "org-b", f"{receiver.url}/org-b")
        async with build_worker(env.client, task_queue, sqlite_engine, private_webhooks=True):
            handle, state = await lodged_for_org_a(env, task_queue, case_id)
            decision_due = date.fromisoformat(deadline(state, "decision")["due"])
            at7 = start_of_day(decision_due - timedelta(days=7))
            at2 = start_of_day(decision_due - timedelta(days=2))
            await sleep_until(env, at7 + timedelta(hours=1))
            assert [r.path for r in await receiver.wait_accepted(1)] == ["/org-a"]

            # With five days left the case moves to org-b, which hears of the deadline at once.
            await sleep_until(env, at7 + timedelta(days=2, hours=1))
            today = local_today(await env.get_current_time())
            await act(handle, "assign_legal_aid", today, org="org-b")
            handed = (await receiver.wait_accepted(2))[1]
            assert handed.path == "/org-b"
            assert handed.json()["clock"] == "decision"
            assert handed.json()["days_left"] == (decision_due - today).days == 5

            # Its later reminder goes to org-b alone; org-a hears nothing more.
            await sleep_until(env, at2 + timedelta(hours=1))
            last = (await receiver.wait_accepted(3))[2]
            assert (last.path, last.json()["days_left"]) == ("/org-b", 2)
            await asyncio.sleep(0.5)
    assert [r.path for r in receiver.accepted] == ["/org-a", "/org-b", "/org-b"]
    assert len(receiver.requests) == 3


async def test_no_org_no_reminders_and_unreachable_webhook_is_logged(
    time_env: WorkflowEnvironment, task_queue: str, case_id: str, sqlite_engine: Engine
) -> None:
    env = time_env
    with WebhookReceiver() as receiver:
        add_webhook(sqlite_engine, "org-a", f"{receiver.url}/org-a")
    # The receiver is gone: its port refuses connections from now on.
    async with build_worker(env.client, task_queue, sqlite_engine, private_webhooks=True):
        day0 = local_today(await env.get_current_time())
        without = await start_case(env.client, task_queue, f"{case_id}-none", identified_on=day0)
        with_org = await start_case(
            env.client, task_queue, case_id, identified_on=day0, legal_aid_org="org-a"
        )
        for handle in (without, with_org):
            for action in ("make_application", "register", "lodge"):
                state = await act(handle, action, day0)
        decision_due = date.fromisoformat(deadline(state, "decision")["due"])
        await sleep_until(env, start_of_day(decision_due - timedelta(days=7)) + timedelta(hours=1))
        loop = asyncio.get_running_loop()
        stop = loop.time() + 20
        while loop.time() < stop and len(attempts(sqlite_engine)) < 2:
            await asyncio.sleep(0.1)
        assert await reminder_activity_times(without) == []
        assert len(await reminder_activity_times(with_org)) == 1

    log = attempts(sqlite_engine)
    assert len(log) >= 2, "the failed attempt was not retried"
    assert {d.case_id for d in log} == {case_id}
    assert all(not d.ok and d.status_code is None and d.error for d in log)
    assert [d.attempt for d in log][:2] == [1, 2]
    assert "ConnectError" in (log[0].error or "")
