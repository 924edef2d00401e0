"""The supervisor's lists at `/ui/supervision/{name}`: filters, sorting and a CSV download.

The same queries as `/supervision/*` (`api.routes.supervision.list_query`), with the session
instead of a bearer token. Filters are staff names, codes and stages, never personal data, so
they travel in the query string (a link to a filtered list can be shared among supervisors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from api.deps import SessionUser, UiSessionDep
from api.errors import ApiError, NotFound, Unprocessable, bad_cursor, error_field
from api.routes.supervision import (
    ListQuery,
    Reassignment,
    csv_export,
    list_query,
    reassign_cases,
)
from api.routes.ui import LISTS, check_csrf, error_page, posted_form, render, require, to_signin
from db import desk, supervision
from db.cursor import InvalidCursor
from db.list_order import SORTS
from db.tables import UserRecord
from db.users import Role
from models.enums import Procedure, Stage
from models.rules import calendar_today, families

router = APIRouter(prefix="/ui", tags=["dashboard"], include_in_schema=False)

SORT_LABELS = {"since": "Longest standing", "due": "Next deadline", "stage": "Stage"}

_NAME = re.compile(r"[A-Za-z0-9._@-]{1,100}")


@dataclass(frozen=True)
class ListForm:
    """The list page's filter form, as checked (empty fields are no filter)."""

    jurisdiction: str = ""
    stage: str = ""
    procedure: str = ""
    assignee: str = ""
    sort: str = "since"

    def filters(self) -> supervision.Filters:
        """The filters the queries take."""
        return supervision.Filters(
            jurisdiction=self.jurisdiction or None,
            stage=self.stage or None,
            procedure=self.procedure or None,
            assignee=self.assignee or None,
        )

    def query_string(self) -> str:
        """The form's non-empty fields, for the next page and CSV links."""
        fields = {k: v for k, v in self.__dict__.items() if v}
        if self.sort == "since":
            del fields["sort"]
        return urlencode(fields)


def _form(jurisdiction: str, stage: str, procedure: str, assignee: str, sort: str) -> ListForm:
    """The form's fields checked against the known values (422 naming the field otherwise)."""
    if jurisdiction and jurisdiction not in families():
        raise Unprocessable("jurisdiction", f"unknown jurisdiction; known: {', '.join(families())}")
    if stage and stage not in {s.value for s in Stage}:
        raise Unprocessable("stage", "not a stage")
    if procedure and procedure not in {p.value for p in Procedure}:
        raise Unprocessable("procedure", "not a procedure")
    if assignee and not _NAME.fullmatch(assignee):
        raise Unprocessable("assignee", "not a user name")
    if sort not in SORTS:
        raise Unprocessable("sort", f"one of {', '.join(SORTS)}")
    return ListForm(jurisdiction, stage, procedure, assignee, sort)


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


_Fields = tuple[str, str, str, str, str]
"""The filter form's raw fields: jurisdiction, stage, procedure, assignee, sort."""


def _list_query(
    request: Request, name: str, user: UserRecord, fields: _Fields
) -> tuple[ListForm, ListQuery]:
    """The page's and the CSV's one query: a known list, a supervisor, the checked filters."""
    if name not in LISTS:
        raise NotFound("there is no such list")
    require(user, {Role.SUPERVISOR.value})
    form = _form(*fields)
    settings = request.app.state.settings
    return form, list_query(name, _engine(request), form.filters(), settings=settings)


Field = Annotated[str, Query(max_length=100)]


@router.get("/supervision/{name}", response_class=HTMLResponse)
async def supervision_list(
    request: Request,
    name: str,
    user: SessionUser,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    jurisdiction: Field = "",
    stage: Field = "",
    procedure: Field = "",
    assignee: Field = "",
    sort: Field = "since",
) -> Response:
    """One supervision list (overdue, stuck, abandoned, entitled-blocked) for supervisors."""
    if user is None:
        return to_signin(request)
    try:
        form, query = _list_query(
            request, name, user, (jurisdiction, stage, procedure, assignee, sort)
        )
        page = await run_in_threadpool(query, cursor, 50, form.sort)
        # Supervisors may read every person: the list names them (the API lists ids only).
        ids = [item["id"] for item in page.items]
        names = await run_in_threadpool(desk.names_of, _engine(request), ids)
        assignees = await run_in_threadpool(desk.assignable_users, _engine(request))
    except ApiError as exc:
        return error_page(request, exc, user)
    except InvalidCursor as exc:
        return error_page(request, bad_cursor(exc), user)
    context: dict[str, Any] = {
        "title": LISTS[name],
        "name": name,
        "page": page,
        "names": names,
        "assignees": assignees,
        "today": calendar_today(),
        "form": form,
        "links": form.query_string(),
        "jurisdictions": families(),
        "stages": [s.value for s in Stage],
        "procedures": [p.value for p in Procedure],
        "sorts": SORT_LABELS,
    }
    return render(request, "list.html", context, user=user)


@router.get("/supervision/{name}/export.csv")
async def supervision_csv(
    request: Request,
    name: str,
    user: SessionUser,
    jurisdiction: Field = "",
    stage: Field = "",
    procedure: Field = "",
    assignee: Field = "",
    sort: Field = "since",
) -> Response:
    """The whole list, filtered and sorted as on the page, as CSV (`/supervision/*?format=csv`)."""
    if user is None:
        return to_signin(request)
    try:
        form, query = _list_query(
            request, name, user, (jurisdiction, stage, procedure, assignee, sort)
        )
        return await csv_export(name, query, cursor=None, sort=form.sort)
    except ApiError as exc:
        return error_page(request, exc, user)


@router.post("/supervision/{name}/reassign", response_class=HTMLResponse)
async def reassign_selected(request: Request, name: str, session: UiSessionDep) -> Response:
    """Reassign the cases ticked on a list page to one caseworker, and show each result.

    `POST /supervision/reassign` with `case_ids` alone: from whoever holds each case now.
    """
    if session is None or name not in LISTS:
        return RedirectResponse("/ui/signin?next=/ui", status_code=303)
    user = session.user
    form = await posted_form(request)
    raw = parse_qs((await request.body()).decode("utf-8", "replace"))
    try:
        check_csrf(session, form)
        require(user, {Role.SUPERVISOR.value})
        case_ids = raw.get("case", [])
        if not case_ids:
            raise Unprocessable("case", "tick at least one case")
        try:
            body = Reassignment(case_ids=case_ids, to_user=form.get("to_user", ""))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise Unprocessable(error_field(first["loc"]), first["msg"]) from None
        engine = _engine(request)
        outcome = await reassign_cases(body, user, engine, request.app.state.temporal)
        names = await run_in_threadpool(desk.names_of, engine, case_ids)
    except ApiError as exc:
        return error_page(request, exc, user)
    context = {"title": "Reassignment", "name": name, "outcome": outcome, "names": names}
    return render(request, "reassigned.html", context, user=user)
