"""Readable case references and `POST /cases/search`, over HTTP against a real worker.

References: `RS-2026-000123` (family, year of identification, a number per family and year),
unique under concurrent creation, kept by the workflow (a rebuilt read model keeps them), in the
case and in lists, and found by `GET /cases?reference=` within the caller's reach. Search: by
name across transliterations and typos, by date of birth, by reference; only what the caller
may read; never in a URL or a log; audited.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from db.engine import alembic_config, make_engine
from db.intents import record_intent, repair_pending
from db.projection import write_projection
from db.tables import AuditRecord, CaseRecord, CaseReferenceRecord
from db.users import Role
from models.enums import IdentifiedAt
from models.lifecycle import new_case
from models.messages import ProjectionBatch, case_row
from tests.api.helpers import Api, ago, person, today

REFERENCE = re.compile(r"^[A-Z]{2}-\d{4}-\d{6}$")


async def open_case(api: Api, who: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "jurisdiction": "rs",
        "person": person(),
        "identified_on": ago(3),
        "identified_at": "border",
        "vulnerabilities": [],
        "legal_aid_org": None,
        **overrides,
    }
    response = await api.http.post("/cases", json=body, headers=api.auth(who))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def by_reference(api: Api, who: str, reference: str) -> list[dict[str, Any]]:
    response = await api.http.get("/cases", params={"reference": reference}, headers=api.auth(who))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def search(api: Api, who: str, q: str, status: int = 200) -> list[dict[str, Any]]:
    response = await api.http.post("/cases/search", json={"q": q}, headers=api.auth(who))
    assert response.status_code == status, response.text
    items: list[dict[str, Any]] = response.json().get("items", [])
    return items


# ---------------------------------------------------------------------------------------------
# References


async def test_references_are_readable_and_unique_under_concurrent_creation(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    last_year = date(today().year - 1, 6, 1).isoformat()
    plans = [
        *({"jurisdiction": "rs", "identified_on": ago(3)} for _ in range(12)),
        *({"jurisdiction": "rs", "identified_on": last_year} for _ in range(6)),
        *({"jurisdiction": "me", "identified_on": ago(3)} for _ in range(6)),
    ]

    async def create(plan: dict[str, Any]) -> dict[str, Any]:
        response = await api.http.post(
            "/cases",
            json={
                "person": person(),
                "identified_at": "border",
                "vulnerabilities": [],
                **plan,
            },
            headers=api.auth("cw"),
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    cases = await asyncio.gather(*(create(p) for p in plans))
    references = [c["reference"] for c in cases]
    assert all(REFERENCE.match(r) for r in references), references
    assert len(set(references)) == len(references)
    # Each family and year numbers its own cases from 1, without gaps.
    numbers: dict[str, list[int]] = {}
    for case, plan in zip(cases, plans, strict=True):
        family, year, number = case["reference"].split("-")
        assert family == plan["jurisdiction"].upper()
        assert year == plan["identified_on"][:4]
        numbers.setdefault(f"{family}-{year}", []).append(int(number))
    assert {k: sorted(v) for k, v in numbers.items()} == {
        f"RS-{today().year}": list(range(1, 13)),
        f"RS-{today().year - 1}": list(range(1, 7)),
        f"ME-{today().year}": list(range(1, 7)),
    }
    # The case shows it; so do the list's items.
    one = cases[0]
    shown = await api.http.get(f"/cases/{one['id']}", headers=api.auth("cw"))
    assert shown.json()["reference"] == one["reference"]
    listed = await api.http.get("/cases", params={"limit": 100}, headers=api.auth("cw"))
    assert {i["id"]: i["reference"] for i in listed.json()["items"]} == {
        c["id"]: c["reference"] for c in cases
    }
    # `?reference=` gives that case, however the reference is typed; an empty list when none.
    found = await by_reference(api, "cw", one["reference"])
    assert [(i["id"], i["reference"]) for i in found] == [(one["id"], one["reference"])]
    family, year, number = one["reference"].split("-")
    assert await by_reference(api, "cw", f" {family.lower()}-{year}-{int(number)}") == found
    assert await by_reference(api, "cw", f"{family}-{year}-999999") == []
    assert await by_reference(api, "cw", "not-a-reference") == []


async def test_a_retried_creation_keeps_its_reference_and_numbers_are_never_reused(
    api: Api,
) -> None:
    api.user("cw", Role.CASEWORKER)
    body = {
        "jurisdiction": "rs",
        "person": person(),
        "identified_on": ago(3),
        "identified_at": "border",
        "vulnerabilities": [],
    }
    headers = {**api.auth("cw"), "Idempotency-Key": "refs-retry-1"}
    retries = await asyncio.gather(
        *(api.http.post("/cases", json=body, headers=headers) for _ in range(5))
    )
    assert {r.status_code for r in retries} <= {200, 201}
    assert len({(r.json()["id"], r.json()["reference"]) for r in retries}) == 1
    first = retries[0].json()["reference"]
    # The next case takes the next number: the retries took none.
    nxt = await open_case(api, "cw")
    assert int(nxt["reference"].rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 1
    # The number stays taken even if the case's row is lost: a rebuilt read model (from the
    # workflow, which keeps the reference in its input) has it again.
    with Session(api.engine) as session:
        session.execute(sa.delete(CaseRecord).where(col(CaseRecord.id) == nxt["id"]))
        session.commit()
    assert await by_reference(api, "cw", nxt["reference"]) == []
    record_intent(api.engine, nxt["id"])
    assert await repair_pending(api.engine, api.env.client, timedelta(0)) == [nxt["id"]]
    rebuilt = await by_reference(api, "cw", nxt["reference"])
    assert [i["id"] for i in rebuilt] == [nxt["id"]]
    third = await open_case(api, "cw")
    assert int(third["reference"].rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 2


async def test_reference_lookups_respect_the_callers_reach(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("sup", Role.SUPERVISOR)
    api.user("officer-1", Role.BORDER_OFFICER)
    api.user("officer-2", Role.BORDER_OFFICER)
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    api.user("la-b", Role.LEGAL_AID, org="org-b")
    api.user("admin", Role.ADMIN)
    case = await open_case(api, "officer-1", legal_aid_org="org-a")
    reference = case["reference"]
    for who in ("cw", "sup", "officer-1", "la-a"):
        assert [i["id"] for i in await by_reference(api, who, reference)] == [case["id"]], who
    for who in ("officer-2", "la-b"):
        assert await by_reference(api, who, reference) == [], who
    refused = await api.http.get(
        "/cases", params={"reference": reference}, headers=api.auth("admin")
    )
    assert refused.status_code == 403
    assert (await api.http.get("/cases", params={"reference": reference})).status_code == 401


def test_projection_keeps_the_registered_reference_of_older_cases(engine: Engine) -> None:
    """A case begun before references: its workflow has none, the read model keeps its own."""
    now = datetime.now(UTC)
    state = new_case(
        case_id="old-case-1",
        family="rs",
        identified_on=date(2025, 3, 1),
        identified_at=IdentifiedAt.BORDER,
        unaccompanied_child=False,
        vulnerable=False,
        legal_aid_org=None,
        actor="officer",
        recorded_at=now,
    )
    assert state.reference is None
    row, deadlines = case_row(state, now)
    batch = ProjectionBatch(case=row, events=state.history, deadlines=deadlines)
    with Session(engine) as session:
        session.add(CaseReferenceRecord(case_id="old-case-1", reference="RS-2025-000007"))
        session.commit()
        write_projection(session, batch)  # a new row: from the registry
        session.commit()
        created = session.get(CaseRecord, "old-case-1")
        assert created is not None and created.reference == "RS-2025-000007"
        session.execute(
            sa.update(CaseRecord).where(col(CaseRecord.id) == "old-case-1").values(last_seq=0)
        )
        session.commit()
        write_projection(session, batch)  # an update: the stored one stays
        session.commit()
        stored = session.exec(select(CaseRecord).where(CaseRecord.id == "old-case-1")).one()
        assert stored.reference == "RS-2025-000007"


def test_migration_numbers_existing_cases_deterministically(db_url: str) -> None:
    engine = make_engine(db_url)
    config = alembic_config(db_url)
    try:
        command.downgrade(config, "0009")
        cases = sa.table(
            "cases",
            *(
                sa.column(name)
                for name in (
                    "id",
                    "jurisdiction",
                    "stage",
                    "stage_since",
                    "procedure",
                    "final",
                    "pack_id",
                    "pack_version",
                    "pack_pinned",
                    "unaccompanied_child",
                    "vulnerable",
                    "presumed_abandoned",
                    "overdue",
                    "entitled_blocked",
                    "personal_id_issued",
                    "last_action_on",
                    "last_contact_on",
                    "identified_on",
                    "subsequent",
                    "last_seq",
                    "updated_at",
                )
            ),
        )
        rows = [
            ("c-3", "rs", date(2025, 5, 2)),
            ("c-1", "rs", date(2025, 5, 2)),
            ("c-2", "rs", date(2025, 1, 9)),
            ("c-9", "me", date(2025, 2, 1)),
            ("c-4", "rs", date(2026, 1, 1)),
        ]
        with engine.begin() as conn:
            conn.execute(
                sa.insert(cases),
                [
                    {
                        "id": cid,
                        "jurisdiction": family,
                        "stage": "identified",
                        "stage_since": day,
                        "procedure": "regular",
                        "final": False,
                        "pack_id": f"{family}-2018",
                        "pack_version": "1",
                        "pack_pinned": False,
                        "unaccompanied_child": False,
                        "vulnerable": False,
                        "presumed_abandoned": False,
                        "overdue": False,
                        "entitled_blocked": False,
                        "personal_id_issued": False,
                        "last_action_on": day,
                        "last_contact_on": day,
                        "identified_on": day,
                        "subsequent": False,
                        "last_seq": 1,
                        "updated_at": datetime(2026, 1, 2),
                    }
                    for cid, family, day in rows
                ],
            )
        command.upgrade(config, "head")
        engine.dispose()
        with engine.connect() as conn:
            # The models and the migration agree on what 0010 made.
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        mine = ("reference", "case_references", "reference_counters", "webhook_deliveries")
        assert not [d for d in diff if any(name in repr(d) for name in mine)], diff
        with Session(engine) as session:
            given = {c.id: c.reference for c in session.exec(select(CaseRecord)).all()}
            registered = {
                r.case_id: r.reference for r in session.exec(select(CaseReferenceRecord)).all()
            }
            # By identification date, then id, numbered per family and year.
            assert (
                given
                == registered
                == {
                    "c-2": "RS-2025-000001",
                    "c-1": "RS-2025-000002",
                    "c-3": "RS-2025-000003",
                    "c-9": "ME-2025-000001",
                    "c-4": "RS-2026-000001",
                }
            )
            from db.references import assign_reference

            # New cases continue the numbering.
            assert assign_reference(session, "c-5", "rs", 2025) == "RS-2025-000004"
            assert assign_reference(session, "c-6", "pl", 2025) == "PL-2025-000001"
            session.commit()
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------
# Search


async def seed_people(api: Api) -> dict[str, dict[str, Any]]:
    """Users of every role and four cases: two of org-a (one opened by officer-1), one of org-b."""
    api.user("cw", Role.CASEWORKER)
    api.user("sup", Role.SUPERVISOR)
    api.user("officer-1", Role.BORDER_OFFICER)
    api.user("officer-2", Role.BORDER_OFFICER)
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    api.user("la-b", Role.LEGAL_AID, org="org-b")
    api.user("admin", Role.ADMIN)
    zainab = await open_case(
        api,
        "officer-1",
        legal_aid_org="org-a",
        person=person(given_name="Zainab", family_name="Qarawi", date_of_birth="1991-04-17"),
    )
    amina = await open_case(
        api,
        "cw",
        legal_aid_org="org-a",
        person=person(given_name="Amina", family_name="Haddad", date_of_birth="1994-03-02"),
    )
    # The same person as Zainab, written down in Cyrillic at another office.
    cyrillic = await open_case(
        api,
        "cw",
        legal_aid_org="org-b",
        person=person(given_name="Зејнаб", family_name="Карави", date_of_birth="1991-04-17"),
    )
    other = await open_case(
        api,
        "cw",
        person=person(given_name="Omar", family_name="Haddad", date_of_birth="1988-11-30"),
    )
    return {"zainab": zainab, "amina": amina, "cyrillic": cyrillic, "other": other}


async def test_search_by_name_date_of_birth_and_reference(api: Api) -> None:
    cases = await seed_people(api)
    zainab, cyrillic = cases["zainab"], cases["cyrillic"]

    # Misspelt and transliterated otherwise: both records of the person, nobody else.
    found = await search(api, "cw", "Zeinab Karawi")
    assert {i["id"] for i in found} == {zainab["id"], cyrillic["id"]}
    item = next(i for i in found if i["id"] == zainab["id"])
    assert item == {
        "id": zainab["id"],
        "reference": zainab["reference"],
        "stage": "identified",
        "jurisdiction": "rs",
        "person": {
            "given_name": "Zainab",
            "family_name": "Qarawi",
            "date_of_birth": "1991-04-17",
            "nationality": "IRQ",
        },
        "score": item["score"],
        "matched": ["name"],
    }
    # In Cyrillic or Arabic script, with a typo, a part of the name, in any order.
    for typed in ("Зејнаб Карави", "زينب قراوي", "Zainb Qarawi", "qarawi", "Qarawi Zainab"):
        assert zainab["id"] in {i["id"] for i in await search(api, "cw", typed)}, typed
    assert {i["id"] for i in await search(api, "cw", "Haddad")} == {
        cases["amina"]["id"],
        cases["other"]["id"],
    }
    assert await search(api, "cw", "Fatima Rahimi") == []
    # By date of birth, by reference, and both with a name.
    assert {i["id"] for i in await search(api, "cw", "1991-04-17")} == {
        zainab["id"],
        cyrillic["id"],
    }
    by_ref = await search(api, "sup", zainab["reference"].lower())
    assert [(i["id"], i["matched"]) for i in by_ref] == [(zainab["id"], ["reference"])]
    both = await search(api, "cw", "Haddad 1994-03-02")
    assert [i["id"] for i in both] == [cases["amina"]["id"]]
    assert await search(api, "cw", f"Amina {zainab['reference']}") == []


async def test_search_stays_within_the_callers_reach(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cases = await seed_people(api)
    zainab, amina, cyrillic = cases["zainab"], cases["amina"], cases["cyrillic"]
    # Legal aid: its organisation's cases only; another org's are as unknown as missing ones.
    assert {i["id"] for i in await search(api, "la-a", "Zeinab Karawi")} == {zainab["id"]}
    assert {i["id"] for i in await search(api, "la-b", "Zeinab Karawi")} == {cyrillic["id"]}
    assert await search(api, "la-b", "Amina Haddad") == []
    assert await search(api, "la-b", zainab["reference"]) == []
    assert await search(api, "la-b", "1994-03-02") == []
    gone = await api.http.get(f"/cases/{amina['id']}", headers=api.auth("la-b"))
    assert gone.status_code == 404
    # A border officer finds the cases it opened, no others.
    assert {i["id"] for i in await search(api, "officer-1", "1991-04-17")} == {zainab["id"]}
    assert await search(api, "officer-2", "Zainab Qarawi") == []
    # Roles that may not read people are refused; so is a missing or empty query.
    await search(api, "admin", "Zainab", status=403)
    anonymous = await api.http.post("/cases/search", json={"q": "Zainab"})
    assert anonymous.status_code == 401
    for body in ({}, {"q": ""}, {"q": "x" * 201}, {"q": "Zainab", "dob": "1991-04-17"}):
        response = await api.http.post("/cases/search", json=body, headers=api.auth("cw"))
        assert response.status_code == 422, body
    # Audited as reads, with nothing of what was typed; nothing of it in any log either.
    with Session(api.engine) as session:
        audited = session.exec(
            select(AuditRecord).where(AuditRecord.route == "/cases/search")
        ).all()
    assert Counter((a.user_name, a.kind, a.status) for a in audited)[("la-b", "read", 200)] == 4
    assert {a.kind for a in audited} == {"read"}
    assert ("admin", "read", 403) in {(a.user_name, a.kind, a.status) for a in audited}
    logged = "\n".join(json.dumps(r.__dict__, default=str) for r in caplog.records) + caplog.text
    for secret in ("Zeinab", "Karawi", "Qarawi", "1991-04-17", "Haddad"):
        assert secret not in logged, secret
