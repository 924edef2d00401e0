"""Dashboard pages for issue #19: reception centres and the detained list.

`/ui/protection/centres` (caseworkers and supervisors) and `/ui/protection/detained`
(supervisors): the same read-model queries as `GET /reception/centres` and
`GET /supervision/detained`, with the session instead of a bearer token. The detained list
names the persons (staff read them); no detention ground is ever shown.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.deps import SessionUser
from api.errors import ApiError
from api.routes.reception import centre_out
from api.routes.ui import error_page, render, require, to_signin
from db import reception
from db.tables import PersonRecord
from db.users import Role
from models.rules import calendar_today

router = APIRouter(prefix="/ui/protection", tags=["dashboard"], include_in_schema=False)

STAFF = {Role.CASEWORKER.value, Role.SUPERVISOR.value}


def _names(engine: Engine, case_ids: list[str]) -> dict[str, str]:
    with Session(engine) as session:
        found = (session.get(PersonRecord, case_id) for case_id in case_ids)
        return {p.case_id: f"{p.given_name} {p.family_name}" for p in found if p is not None}


@router.get("/centres", response_class=HTMLResponse)
async def centres_page(request: Request, user: SessionUser) -> Response:
    """Every centre's capacity and occupancy; those over capacity and who is beyond it."""
    if user is None:
        return to_signin(request)
    try:
        require(user, STAFF)
        engine: Engine = request.app.state.engine
        views = await run_in_threadpool(reception.centres, engine)
    except ApiError as exc:
        return error_page(request, exc, user)
    items = [centre_out(v) for v in views]
    over = [o["case_id"] for item in items for o in item["over_capacity_cases"]]
    names = await run_in_threadpool(_names, engine, over)
    context = {"title": "Reception centres", "items": items, "names": names}
    return render(request, "reception_centres.html", context, user=user)


@router.get("/detained", response_class=HTMLResponse)
async def detained_page(request: Request, user: SessionUser) -> Response:
    """Everyone detained or in an alternative, with the next review and the vulnerable flag."""
    if user is None:
        return to_signin(request)
    try:
        require(user, {Role.SUPERVISOR.value})
        engine: Engine = request.app.state.engine
        rows = await run_in_threadpool(reception.detained, engine)
    except ApiError as exc:
        return error_page(request, exc, user)
    names = await run_in_threadpool(_names, engine, [r.case_id for r in rows])
    today = calendar_today()
    items: list[dict[str, Any]] = [
        {
            **r.__dict__,
            "name": names.get(r.case_id, ""),
            "days_left": (r.next_review_due - today).days if r.next_review_due else None,
        }
        for r in rows
    ]
    return render(
        request, "detained.html", {"title": "Detained persons", "items": items}, user=user
    )
