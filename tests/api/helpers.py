"""Shared helpers of the API tests: the app under test, a person, cases and actions over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
from dateutil.relativedelta import relativedelta
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from db.tables import DuplicateRecord
from db.users import Role, create_user, revoke_user
from models.rules import local_today

SUP = "sup"
"""The supervisor of the supervision and statistics tests."""


@dataclass
class Api:
    """An HTTP client on the app plus a token per role."""

    http: httpx.AsyncClient
    engine: Engine
    env: WorkflowEnvironment
    task_queue: str
    app: FastAPI
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        """Headers for one of the users created by `user`."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def user(self, name: str, role: Role, org: str | None = None) -> dict[str, str]:
        """Create a user and return its auth headers."""
        self.tokens[name] = create_user(self.engine, name, role, org)
        return self.auth(name)

    async def wait_for(
        self, check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20
    ) -> None:
        """Poll a condition (the read model catches up asynchronously)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if await check():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")


NAMES = ("Zainab", "Qarawi-Testperson")
"""The given and family name of `person` (searched for in histories, logs and webhooks)."""


def person(**overrides: Any) -> dict[str, Any]:
    """A test person (the names are searched for in workflow histories)."""
    return {
        "given_name": NAMES[0],
        "family_name": NAMES[1],
        "date_of_birth": "1991-04-17",
        "nationality": "IRQ",
        "sex": "female",
        **overrides,
    }


def today() -> date:
    """Today in Belgrade, where the tests' cases are (read at each call, never at import).

    An hour ahead of UTC, so around midnight the server's own date is a day behind the cases'
    calendar.
    """
    return local_today("rs", datetime.now(UTC))


def ago(days: int = 0, months: int = 0) -> str:
    """An ISO date that many months and days before today (negative: after)."""
    return (today() - relativedelta(months=months, days=days)).isoformat()


async def create(api: Api, who: str, **overrides: Any) -> dict[str, Any]:
    """Open a case through the API and return its body."""
    body = {
        "jurisdiction": "rs",
        "person": person(),
        "identified_on": ago(400),
        "identified_at": "border",
        "vulnerabilities": [],
        "legal_aid_org": None,
        **overrides,
    }
    response = await api.http.post("/cases", json=body, headers=api.auth(who))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def act(api: Api, who: str, case_id: str, action: str, **body: Any) -> dict[str, Any]:
    """Take an action that must succeed."""
    response = await api.http.post(
        f"/cases/{case_id}/actions/{action}", json=body, headers=api.auth(who)
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def fetch_history(
    api: Api, who: str, case_id: str, order: str = "legal"
) -> list[dict[str, Any]]:
    """A case's history items through `GET /cases/{id}/history` (legal order by default)."""
    response = await api.http.get(f"/cases/{case_id}/history?order={order}", headers=api.auth(who))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def caught_up(api: Api, ids: Sequence[str]) -> None:
    """Wait until the read model shows every case at its workflow's last event."""
    want: dict[str, int] = {}
    for case_id in ids:
        history = (await api.http.get(f"/cases/{case_id}/history", headers=api.auth(SUP))).json()
        want[case_id] = max(e["seq"] for e in history["items"])

    async def check() -> bool:
        listed = (await api.http.get("/cases?limit=500", headers=api.auth(SUP))).json()["items"]
        seen = {c["id"]: c["last_seq"] for c in listed}
        return all(seen.get(c) == seq for c, seq in want.items())

    await api.wait_for(check, "the read model to catch up with every case")


async def open_case(api: Api, org: str | None, steps: list[tuple[str, dict[str, Any]]]) -> str:
    """Create a Serbian case for `org` and take `steps` (action, body) as the caseworker ("cw")."""
    body: dict[str, Any] = {
        "jurisdiction": "rs",
        "person": person(),
        "identified_on": ago(months=8),
        "identified_at": "inland",
        "vulnerabilities": [],
        "legal_aid_org": org,
    }
    created = await api.http.post("/cases", json=body, headers=api.auth("cw"))
    assert created.status_code == 201, created.text
    case_id: str = created.json()["id"]
    for action, fields in steps:
        response = await api.http.post(
            f"/cases/{case_id}/actions/{action}", json=fields, headers=api.auth("cw")
        )
        assert response.status_code == 200, response.text
    return case_id


def lodged_on(day: str) -> list[tuple[str, dict[str, Any]]]:
    """The steps (for `open_case`) that make, register and lodge an application on `day`."""
    return [
        ("make_application", {"on": day}),
        ("register", {"on": day}),
        ("lodge", {"on": day}),
    ]


@dataclass
class Seed:
    """Real resources for path parameters: org-a's case, a pending duplicate, org-a's webhook.

    `readable` maps each user to the seeded case ids it may read; `case_ids` are all of them.
    """

    case_id: str
    duplicate_id: int
    webhook_id: int
    readable: dict[str, set[str]] = field(default_factory=dict)
    case_ids: set[str] = field(default_factory=set)


def case_body() -> dict[str, Any]:
    return {
        "jurisdiction": "rs",
        "person": {
            "given_name": "Matrix",
            "family_name": "Probe-Testperson",
            "date_of_birth": "1990-01-01",
            "nationality": "SYR",
            "sex": "male",
        },
        "identified_on": ago(3),
        "identified_at": "border",
        "vulnerabilities": [],
        "legal_aid_org": None,
    }


async def seed(api: Api) -> Seed:
    """Users of every role and the resources the path parameters name."""
    api.user("officer", Role.BORDER_OFFICER)
    api.user("cw", Role.CASEWORKER)
    api.user("sup", Role.SUPERVISOR)
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    api.user("la-b", Role.LEGAL_AID, org="org-b")
    api.user("officer-b", Role.BORDER_OFFICER)
    api.user("admin", Role.ADMIN)
    api.user("monitor", Role.MONITOR)
    api.user("spare", Role.CASEWORKER)
    api.user("revoked", Role.CASEWORKER)
    revoke_user(api.engine, "revoked")
    # The border officer opens org-a's case, so it is within the officer's reach too.
    case_id = (await create(api, "officer", **{**case_body(), "legal_aid_org": "org-a"}))["id"]
    other_id = (await create(api, "officer", **case_body()))["id"]
    # Another officer's case of org-b, confirmed to be the same person as org-a's case.
    far_id = (await create(api, "officer-b", **{**case_body(), "legal_aid_org": "org-b"}))["id"]
    with Session(api.engine) as session:
        session.add(
            DuplicateRecord(
                case_id=case_id,
                other_case_id=far_id,
                score=0.95,
                reasons=["access matrix: linked across orgs and officers"],
                status="confirmed",
                decided_by="sup",
                decided_at=datetime.now(UTC),
                created_at=datetime.now(UTC),
            )
        )
        duplicate = DuplicateRecord(
            case_id=case_id,
            other_case_id=other_id,
            score=0.9,
            reasons=["access matrix"],
            created_at=datetime.now(UTC),
        )
        session.add(duplicate)
        session.commit()
        session.refresh(duplicate)
        assert duplicate.id is not None
        duplicate_id = duplicate.id
    # The person of org-a's case consents to monitors reading it; the other cases' did not.
    await act(api, "cw", case_id, "record_monitor_consent", on=ago(0), given=True)
    hook = await api.http.post(
        "/legal-aid/webhooks", json={"url": "http://127.0.0.1:9/seed"}, headers=api.auth("la-a")
    )
    assert hook.status_code == 201, hook.text
    readable = {
        "officer": {case_id, other_id},
        "officer-b": {far_id},
        "la-a": {case_id},
        "la-b": {far_id},
        "monitor": {case_id},
    }
    return Seed(case_id, duplicate_id, hook.json()["id"], readable, {case_id, other_id, far_id})
