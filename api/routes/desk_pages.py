"""The desk at `/ui/desk`: my open cases, most urgent deadline first, by name.

A caseworker's or supervisor's desk holds the cases assigned to them; a border officer's, the
cases it opened (the only persons it may read).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Engine

from api.deps import SessionUser
from api.errors import ApiError
from api.routes.ui import error_page, render, require, to_signin
from db import desk
from db.users import Role
from models.rules import calendar_today

router = APIRouter(prefix="/ui", tags=["dashboard"], include_in_schema=False)

DESK_ROLES = {Role.CASEWORKER.value, Role.SUPERVISOR.value, Role.BORDER_OFFICER.value}


@router.get("/desk", response_class=HTMLResponse)
async def desk_page(request: Request, user: SessionUser) -> Response:
    """The open cases assigned to the signed-in user, next deadline first."""
    if user is None:
        return to_signin(request)
    try:
        require(user, DESK_ROLES)
        engine: Engine = request.app.state.engine
        officer = user.role == Role.BORDER_OFFICER.value
        rows = await run_in_threadpool(
            desk.created_cases if officer else desk.assigned_cases, engine, user.name
        )
    except ApiError as exc:
        return error_page(request, exc, user)
    today = calendar_today()
    items: list[dict[str, Any]] = []
    for case, person in rows:
        due = case.next_deadline_due
        items.append(
            {
                "id": case.id,
                "reference": case.reference,
                "name": f"{person.given_name} {person.family_name}" if person else "",
                "nationality": person.nationality if person else None,
                "stage": case.stage,
                "jurisdiction": case.jurisdiction,
                "clock": case.next_deadline_clock,
                "due": due.isoformat() if due else None,
                "days_left": (due - today).days if due else None,
                "overdue": case.overdue,
            }
        )
    context = {
        "title": "My cases",
        "items": items,
        "whose": "you opened" if officer else "assigned to you",
        "empty": "None of the cases you opened is open."
        if officer
        else "No open case is assigned to you.",
    }
    return render(request, "desk.html", context, user=user)
