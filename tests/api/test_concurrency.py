"""Concurrency through the HTTP API: conflicting actions race, and many cases advance at once.

The app runs over ASGI against the session's dev server and a real worker (tests/api/conftest).
Every action body carries a unique `note`, so each HTTP request can be traced to the history
event it produced, if any: a `200` must appear in the case's history exactly once, a `409` never.
Histories are checked against the pure transition table by replaying them through
`models.lifecycle` (`new_case`, `apply`, `settle`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from api.casework import handle_for
from db.users import Role
from models.actions import parse_input
from models.enums import Action, IdentifiedAt, Stage
from models.lifecycle import CaseState, allowed_actions, apply, local_date, new_case, settle
from tests.api.helpers import Api, person, today
from workflows.case import CaseWorkflow

USER = "cw"
"""The caseworker every request is made as (caseworkers may take every action used here)."""


def ago(days: int) -> str:
    """An ISO date `days` before today."""
    return (today() - timedelta(days=days)).isoformat()


async def create(
    api: Api, n: int, *, jurisdiction: str = "rs", identified_days_ago: int = 6
) -> str:
    """Open case number `n` (a distinct person, so registration finds no duplicates)."""
    body = {
        "jurisdiction": jurisdiction,
        "person": person(
            given_name=f"Concurrency{n}",
            family_name=f"Testperson{n:04d}",
            date_of_birth=(date(1960, 1, 1) + timedelta(days=37 * n)).isoformat(),
        ),
        "identified_on": ago(identified_days_ago),
        "identified_at": "border",
    }
    response = await api.http.post("/cases", json=body, headers=api.auth(USER))
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    return case_id


async def post_action(api: Api, case_id: str, action: str, body: dict[str, Any]) -> httpx.Response:
    """Send one action (whatever the answer)."""
    return await api.http.post(
        f"/cases/{case_id}/actions/{action}", json=body, headers=api.auth(USER)
    )


async def history(api: Api, case_id: str) -> list[dict[str, Any]]:
    """The case's history through the API."""
    response = await api.http.get(f"/cases/{case_id}/history", headers=api.auth(USER))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def view(api: Api, case_id: str) -> dict[str, Any]:
    """The case's current state through the API."""
    response = await api.http.get(f"/cases/{case_id}", headers=api.auth(USER))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def user_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events recorded for the caseworker's requests (not the system's, not `identify`)."""
    return [e for e in events if e["actor"] == USER and e["action"] != "identify"]


@dataclass
class Sent:
    """One request and its answer."""

    action: str
    body: dict[str, Any]
    status: int
    answer: dict[str, Any]


@dataclass
class Traffic:
    """Everything sent to one case."""

    case_id: str
    jurisdiction: str
    sent: list[Sent] = field(default_factory=list)

    def by_note(self) -> dict[str, Sent]:
        """Requests by their unique note."""
        return {s.body["note"]: s for s in self.sent}


async def burst(api: Api, traffic: Traffic, requests: list[tuple[str, dict[str, Any]]]) -> None:
    """Send `requests` to the case all at once and record the answers."""
    responses = await asyncio.gather(
        *(post_action(api, traffic.case_id, action, body) for action, body in requests)
    )
    for (action, body), response in zip(requests, responses, strict=True):
        traffic.sent.append(Sent(action, body, response.status_code, response.json()))


def check_against_history(traffic: Traffic, events: list[dict[str, Any]]) -> None:
    """Each 200 is in the history exactly once, each 409 not at all; nothing else came back."""
    statuses = Counter(s.status for s in traffic.sent)
    assert set(statuses) <= {200, 409}, [
        (s.action, s.status, s.answer) for s in traffic.sent if s.status not in (200, 409)
    ]
    notes = Counter(e["note"] for e in user_events(events))
    assert all(n == 1 for n in notes.values()), f"an action was applied twice: {notes}"
    by_note = traffic.by_note()
    assert set(notes) <= set(by_note), "the history holds an action nobody sent"
    for note, sent in by_note.items():
        if sent.status == 200:
            assert notes[note] == 1, f"accepted {sent.action} ({note}) missing from history"
        else:
            assert note not in notes, f"rejected {sent.action} ({note}) is in the history"
            # The 409 names a stage the case really went through, which does not allow it.
            assert sent.action not in sent.answer["allowed_actions"], sent.answer
            assert sent.answer["stage"] in {s.value for s in Stage}, sent.answer


def replay(traffic: Traffic, events: list[dict[str, Any]]) -> CaseState:
    """Rebuild the case from its history through the pure model, checking every step.

    Every accepted request must have been allowed by the transition table in the state before
    it; the clocks are settled at each recording instant as the workflow does.
    """
    identify = events[0]
    assert identify["action"] == "identify"
    recorded = datetime.fromisoformat(identify["recorded_at"])
    state = new_case(
        case_id=traffic.case_id,
        family=traffic.jurisdiction,
        identified_on=date.fromisoformat(identify["on"]),
        identified_at=IdentifiedAt.BORDER,
        unaccompanied_child=False,
        vulnerable=False,
        legal_aid_org=None,
        actor=USER,
        recorded_at=recorded,
    )
    state = settle(state, recorded, recorded_at=recorded).state
    by_note = traffic.by_note()
    for event in user_events(events):
        sent = by_note[event["note"]]
        action = Action(sent.action)
        before = allowed_actions(state)
        assert action in before, (
            f"{traffic.case_id}: {action.value} accepted in stage {state.stage.value}, "
            f"where the table allows {[a.value for a in before]}"
        )
        recorded = datetime.fromisoformat(event["recorded_at"])
        state = apply(
            state,
            action,
            parse_input(action, sent.body),
            actor=USER,
            recorded_at=recorded,
            today=local_date(state, recorded),
        ).state
        state = settle(state, recorded, recorded_at=recorded).state
    return state


# --------------------------------------------------------------------------------------------
# Many conflicting requests on one case


async def test_fifty_identical_actions_exactly_one_wins(api: Api) -> None:
    api.user(USER, Role.CASEWORKER)
    traffic = Traffic(await create(api, 1), "rs")
    await burst(api, traffic, [("make_application", {"on": ago(5), "note": "made"})])
    await burst(
        api, traffic, [("register", {"on": ago(4), "note": f"register#{i}"}) for i in range(50)]
    )
    statuses = Counter(s.status for s in traffic.sent[1:])
    assert statuses == {200: 1, 409: 49}, [s.answer for s in traffic.sent if s.status != 409]
    assert {s.answer["stage"] for s in traffic.sent[1:] if s.status == 409} == {"registered"}
    events = await history(api, traffic.case_id)
    assert [e["action"] for e in events].count("register") == 1
    check_against_history(traffic, events)
    print(f"\n50 x register: {statuses[200]} accepted, {statuses[409]} rejected (409)")


async def test_mutually_exclusive_actions_exactly_one_wins(api: Api) -> None:
    """25 `decide` against 25 `discontinue` on a lodged case: each excludes the other."""
    api.user(USER, Role.CASEWORKER)
    traffic = Traffic(await create(api, 2), "rs")
    for action in ("make_application", "register", "lodge"):
        await burst(api, traffic, [(action, {"on": ago(5), "note": action})])
    race: list[tuple[str, dict[str, Any]]] = []
    for i in range(25):
        race.append(("decide", {"on": ago(2), "outcome": "rejected", "note": f"decide#{i}"}))
        race.append(("discontinue", {"on": ago(2), "note": f"discontinue#{i}"}))
    await burst(api, traffic, race)
    raced = traffic.sent[3:]
    winners = [s for s in raced if s.status == 200]
    assert len(winners) == 1, [(s.action, s.status) for s in raced]
    assert len(raced) - len(winners) == 49
    winner = winners[0].action
    final_stage = "decided" if winner == "decide" else "discontinued"
    assert {s.answer["stage"] for s in raced if s.status == 409} == {final_stage}
    events = await history(api, traffic.case_id)
    actions = [e["action"] for e in events]
    assert actions.count("decide") + actions.count("discontinue") == 1, actions
    check_against_history(traffic, events)
    assert replay(traffic, events).stage.value == (await view(api, traffic.case_id))["stage"]
    print(f"\n25 x decide + 25 x discontinue: {winner} won, 49 rejected (409)")


async def test_register_racing_withdraw_follows_the_table(api: Api) -> None:
    """25 `register` against 25 `withdraw` on a case where the application was made.

    These two do not exclude each other: a registered case may still be withdrawn. So either
    `withdraw` wins first (every `register` is 409), or one `register` wins and then one
    `withdraw` (two accepted, in that order). Never two of the same, never `register` after.
    """
    api.user(USER, Role.CASEWORKER)
    traffic = Traffic(await create(api, 3), "rs")
    await burst(api, traffic, [("make_application", {"on": ago(5), "note": "made"})])
    race: list[tuple[str, dict[str, Any]]] = []
    for i in range(25):
        race.append(("register", {"on": ago(4), "note": f"register#{i}"}))
        race.append(("withdraw", {"on": ago(4), "note": f"withdraw#{i}"}))
    await burst(api, traffic, race)
    events = await history(api, traffic.case_id)
    check_against_history(traffic, events)
    accepted = [e["action"] for e in user_events(events)][1:]
    assert accepted in (["withdraw"], ["register", "withdraw"]), accepted
    assert (await view(api, traffic.case_id))["stage"] == "withdrawn"
    assert replay(traffic, events).stage is Stage.WITHDRAWN
    print(f"\n25 x register + 25 x withdraw: accepted in order {accepted}, 409 for the rest")


# --------------------------------------------------------------------------------------------
# Many cases at once


def _plan(rng: random.Random) -> tuple[str, list[list[tuple[str, dict[str, Any]]]]]:
    """A jurisdiction and the bursts to send to one case, in order.

    Each burst is sent all at once; it contains actions that conflict (the same one several
    times, mutually exclusive ones, or ones whose order decides whether both apply).
    """
    d = ago(3)
    kind = rng.choice(["full", "full", "withdraw", "admissibility", "referral"])
    jurisdiction = rng.choice(["rs", "me", "pl", "eu"])
    bursts: list[list[tuple[str, dict[str, Any]]]]
    if kind == "full":
        bursts = [
            [("make_application", {"on": d})],
            [("register", {"on": d})] * rng.randint(1, 2),
            [("lodge", {"on": d})],
            [("decide", {"on": ago(1), "outcome": "rejected"}), ("discontinue", {"on": ago(1)})],
            [("notify_decision", {"on": ago(1)})],
        ]
    elif kind == "withdraw":
        bursts = [
            [("make_application", {"on": d})],
            [("register", {"on": d}), ("withdraw", {"on": d})],
            [("lodge", {"on": d})],
        ]
    elif kind == "admissibility":
        bursts = [
            [("make_application", {"on": d})],
            [("register", {"on": d})],
            [("lodge", {"on": d})],
            [("assign_procedure", {"on": d, "procedure": "admissibility"})],
            [
                ("decide_admissibility", {"on": ago(1), "admissible": False}),
                ("decide_admissibility", {"on": ago(1), "admissible": True}),
            ],
        ]
    else:
        bursts = [
            [("complete_screening", {"on": d}), ("refer", {"on": d, "to": "none"})],
            [("close", {"on": d})] * 2,
            [("record_contact", {"on": d})],
        ]
    return jurisdiction, bursts


async def test_two_hundred_cases_advanced_concurrently_follow_the_table(api: Api) -> None:
    api.user(USER, Role.CASEWORKER)
    rng = random.Random(20240611)
    plans = [_plan(rng) for _ in range(200)]
    limit = asyncio.Semaphore(32)
    traffic: list[Traffic] = []

    async def advance(n: int) -> None:
        jurisdiction, bursts = plans[n]
        async with limit:
            case = Traffic(await create(api, 100 + n, jurisdiction=jurisdiction), jurisdiction)
            traffic.append(case)
            for b, requests in enumerate(bursts):
                await burst(
                    api,
                    case,
                    [
                        (action, {**body, "note": f"{action}#{b}.{i}"})
                        for i, (action, body) in enumerate(requests)
                    ],
                )

    started = time.monotonic()
    await asyncio.gather(*(advance(n) for n in range(len(plans))))
    driven_s = time.monotonic() - started
    started = time.monotonic()

    async def checked(case: Traffic) -> str:
        # Straight from the workflow (the API's history route returns this same query): the
        # figures above are about the API under load, not about reading 200 cases through it.
        handle = handle_for(api.env.client, case.case_id)
        async with limit:
            events = await handle.query(CaseWorkflow.history)
            current = await handle.query(CaseWorkflow.state)
        check_against_history(case, events)
        replayed = replay(case, events)
        assert replayed.stage.value == current["stage"], (
            case.case_id,
            [e["action"] for e in events],
        )
        # The system's own events (clocks settled at each step) come out the same too.
        assert [e.action for e in replayed.history] == [e["action"] for e in events], case.case_id
        stage: str = current["stage"]
        return stage

    stages = Counter(await asyncio.gather(*(checked(case) for case in traffic)))
    checked_s = time.monotonic() - started
    sent = [s for case in traffic for s in case.sent]
    statuses = Counter(s.status for s in sent)
    assert len(traffic) == 200
    assert statuses[200] + statuses[409] == len(sent)
    # Every kind of plan was exercised and the races went both ways somewhere.
    assert {"closed", "withdrawn", "notified", "discontinued"} <= set(stages), stages
    print(
        f"\n{len(traffic)} cases, {len(sent)} actions sent in {driven_s:.1f} s "
        f"({(len(sent) + len(traffic)) / driven_s:.0f} requests/s incl. creates): "
        f"{statuses[200]} accepted, {statuses[409]} rejected (409); final stages {dict(stages)}; "
        f"histories replayed and checked in {checked_s:.1f} s"
    )
