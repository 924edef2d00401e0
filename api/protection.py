"""Protection acts at the API (issue #19): detail kept out of the workflow, the interpreter pool.

Special-category detail (the `detail` field of screening, referrals, vulnerabilities, age and
best-interests assessments) is taken out of an act's body before the act is sent to its case
workflow, and written to `protection_details` once the act is accepted, sealed where a key is
set (`core/sealed.py`). The workflow would refuse an act that still carried it
(`models.transitions.validate_input`), so nothing of it reaches a history.

Interviews: `schedule_interview` with a language and no interpreter gets an available
interpreter of the pool for that language, if there is one; without one the case waits for an
interpreter (`waiting_for`, the stuck reason `waiting_for_interpreter`). A named interpreter
must be in the pool and interpret that language (else 422).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from api.casework import read_view
from api.errors import Unprocessable
from core.sealed import seal, unseal
from core.settings import Settings
from db.reception import detention_grounds
from db.tables import CaseEventRecord, InterpreterRecord, PersonRecord, ProtectionDetailRecord
from models.actions import SEALED_DETAIL
from models.enums import Action, AgeOutcome, Vulnerability
from models.messages import ActionRequest


def detail_purpose(action: str) -> str:
    """The sealing purpose (the AES-GCM associated data) of an action's detail."""
    return f"protection_details.{action}"


@dataclass(frozen=True)
class PendingDetail:
    """Detail taken out of an act, to be kept once the act is accepted."""

    action: Action
    detail: str
    referral: int | None


def split_details(requests: list[ActionRequest]) -> tuple[list[ActionRequest], list[PendingDetail]]:
    """The requests without their detail, and the detail taken out (in the requests' order)."""
    clean, pending = [], []
    for request in requests:
        detail = request.body.get(SEALED_DETAIL)
        if detail is None:
            clean.append(request)
            continue
        body = {k: v for k, v in request.body.items() if k != SEALED_DETAIL}
        answers = request.action is Action.RECORD_REFERRAL_OUTCOME
        referral = body.get("referral") if answers else None
        pending.append(PendingDetail(request.action, str(detail), referral))
        clean.append(request.model_copy(update={"body": body}))
    return clean, pending


def _keep_details(
    engine: Engine,
    settings: Settings | None,
    case_id: str,
    pending: list[PendingDetail],
    actor: str,
) -> None:
    now = datetime.now(UTC)
    with Session(engine) as session:
        for item in pending:
            # The act's seq: the latest of its action in the read model, written before this.
            seq = session.exec(
                select(CaseEventRecord.seq)
                .where(
                    CaseEventRecord.case_id == case_id,
                    CaseEventRecord.action == item.action.value,
                )
                .order_by(col(CaseEventRecord.seq).desc())
                .limit(1)
            ).first()
            referral = item.referral
            if item.action is Action.REFER:
                referral = seq
            session.add(
                ProtectionDetailRecord(
                    case_id=case_id,
                    seq=seq,
                    action=item.action.value,
                    referral=referral,
                    detail=seal(item.detail, detail_purpose(item.action.value), settings) or "",
                    recorded_by=actor,
                    recorded_at=now,
                )
            )
        session.commit()


def protection_details(engine: Engine, settings: Settings | None, case_id: str) -> dict[str, Any]:
    """The case's sealed detail, opened: each protection act's, then each detention ground.

    In the order the acts were recorded. Raises `CodecError` where a value cannot be opened
    (sealed with a key this process does not hold, or tampered with): the caller must not
    answer with part of a record as if it were whole.
    """
    with Session(engine) as session:
        rows = session.exec(
            select(ProtectionDetailRecord)
            .where(ProtectionDetailRecord.case_id == case_id)
            .order_by(col(ProtectionDetailRecord.id))
        ).all()
    items = [
        {
            "seq": r.seq,
            "action": r.action,
            "referral": r.referral,
            "detail": unseal(r.detail, detail_purpose(r.action), settings) or "",
            "recorded_by": r.recorded_by,
            "recorded_at": r.recorded_at,
        }
        for r in rows
    ]
    orders = [
        {"ordered_on": on, "alternative": alternative, "ground": ground}
        for on, alternative, ground in detention_grounds(engine, case_id, settings)
    ]
    return {"items": items, "detention_orders": orders}


def _vulnerability_changes(requests: list[ActionRequest]) -> list[tuple[str, bool]]:
    """What screening, record_vulnerability and age assessments change in the person's list."""
    changes: list[tuple[str, bool]] = []
    for request in requests:
        body = request.body
        if request.action is Action.COMPLETE_SCREENING:
            changes += [(str(kind), True) for kind in body.get("needs") or []]
        elif request.action is Action.RECORD_VULNERABILITY:
            changes.append((str(body["kind"]), bool(body["present"])))
        elif request.action is Action.RECORD_AGE_ASSESSMENT:
            if body.get("outcome") == AgeOutcome.ADULT.value:
                changes += [(Vulnerability.UNACCOMPANIED_CHILD.value, False)]
                changes += [(Vulnerability.CHILD.value, False)]
            elif body.get("unaccompanied") is not None:
                changes.append((Vulnerability.UNACCOMPANIED_CHILD.value, body["unaccompanied"]))
    return changes


def _person_vulnerabilities(engine: Engine, case_id: str, changes: list[tuple[str, bool]]) -> None:
    """The person's vulnerabilities (SQL) follow `changes` (`_vulnerability_changes`)."""
    with Session(engine) as session:
        person = session.get(PersonRecord, case_id)
        if person is None:
            return
        kinds = list(person.vulnerabilities)
        for kind, present in changes:
            kinds = [k for k in kinds if k != kind] + ([kind] if present else [])
        person.vulnerabilities = kinds
        session.add(person)
        session.commit()


async def after_protection_acts(
    engine: Engine,
    settings: Settings | None,
    case_id: str,
    requests: list[ActionRequest],
    pending: list[PendingDetail],
    actor: str,
) -> None:
    """Once the acts are accepted: keep their detail (sealed), update the person's record."""
    if pending:
        await run_in_threadpool(_keep_details, engine, settings, case_id, pending, actor)
    # Most acts change no vulnerability: no worker-thread hop (and no SQL) for them.
    changes = _vulnerability_changes(requests)
    if changes:
        await run_in_threadpool(_person_vulnerabilities, engine, case_id, changes)


# --------------------------------------------------------------------------------------------
# Interpreters


def available_interpreter(engine: Engine, language: str) -> str | None:
    """An available interpreter of the pool for `language` (the first by id), or None."""
    with Session(engine) as session:
        for row in session.exec(
            select(InterpreterRecord)
            .where(InterpreterRecord.available == True)  # noqa: E712  (SQL)
            .order_by(col(InterpreterRecord.id))
        ):
            if language in row.languages:
                return row.id
    return None


def _check_interpreter(engine: Engine, interpreter: str, language: str | None, field: str) -> None:
    with Session(engine) as session:
        row = session.get(InterpreterRecord, interpreter)
    if row is None:
        raise Unprocessable(field, f"no interpreter {interpreter!r} in the pool")
    if language is not None and language not in row.languages:
        raise Unprocessable(field, f"interpreter {interpreter!r} does not interpret {language}")


async def with_interpreter(
    engine: Engine, client: Client, case_id: str, requests: list[ActionRequest]
) -> list[ActionRequest]:
    """Interviews get an interpreter of the pool: a named one is checked, else one is picked."""
    language_of_case: str | None = None
    if any(r.action is Action.ASSIGN_INTERPRETER for r in requests):
        interview = ((await read_view(client, case_id)).get("protection") or {}).get("interview")
        language_of_case = (interview or {}).get("language")
    result = []
    for index, request in enumerate(requests):
        field = "interpreter" if len(requests) == 1 else f"actions.{index}.interpreter"
        body = request.body
        if request.action is Action.SCHEDULE_INTERVIEW and body.get("language"):
            if body.get("interpreter"):
                await run_in_threadpool(
                    _check_interpreter, engine, body["interpreter"], body["language"], field
                )
            else:
                picked = await run_in_threadpool(available_interpreter, engine, body["language"])
                if picked is not None:
                    request = request.model_copy(update={"body": {**body, "interpreter": picked}})
        elif request.action is Action.ASSIGN_INTERPRETER:
            await run_in_threadpool(
                _check_interpreter, engine, body["interpreter"], language_of_case, field
            )
        result.append(request)
    return result
