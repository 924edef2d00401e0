"""The dashboard at `/ui`: server-rendered HTML over the same queries as the API.

Signing in (the bearer token posted once, or a one-time ticket) starts a database session
(`db.ui_sessions`): the HttpOnly, SameSite=Strict cookie scoped to `/ui` holds only its random
id, never the token, and any API process serves it until it is idle too long, too old, or ended
by signing out. Every form POST carries a CSRF token in a hidden field and is refused (403)
without the right one. Every page applies the API's role rules; a refusal is a friendly HTML
page, not JSON. No URL carries personal data: pages are addressed by case id.

A one-time sign-in link (`POST /ui/tickets` with the bearer token) lets the CLI or a test hand a
browser a session without typing the token: the ticket is random, single use and expires in a
minute, and any API process redeems it (`db.ui_tickets`).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine

from api.action_forms import form_fields, offered_actions
from api.casework import (
    check_scope,
    handle_for,
    person_of,
    public_person,
    read_view,
    with_read_model_flags,
)
from api.deps import (
    SESSION_COOKIE,
    BearerToken,
    CurrentUser,
    SessionUser,
    UiSession,
    UiSessionDep,
)
from api.errors import ApiError, Forbidden
from api.note_scope import readable_notes
from api.permissions import roles_for
from db import ui_sessions, ui_tickets
from db.references import reference_of
from db.tables import PersonRecord, UserRecord
from db.users import Role, user_for_token
from models.enums import Action
from models.history_order import legal_order
from models.rules import calendar_today
from workflows.case import CaseWorkflow

router = APIRouter(prefix="/ui", tags=["dashboard"], include_in_schema=False)

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

COOKIE = SESSION_COOKIE

SIGNIN_COOKIE = "asylumflow_signin"
"""The sign-in form's pre-session CSRF token (HttpOnly, SameSite=Strict, path /ui/signin)."""

CSRF_REFUSAL = "This form is stale or came from another site: reload the page and try again."
SIGNIN_CSRF_REFUSAL = "The sign-in form expired or came from another site: please try again."

LISTS: dict[str, str] = {
    "overdue": "Overdue cases",
    "stuck": "Stuck cases",
    "abandoned": "Presumed abandoned cases",
    "entitled-blocked": "Entitled but blocked cases",
}
"""Supervision lists: URL slug -> page title."""

CASE_READERS = {
    Role.BORDER_OFFICER.value,
    Role.CASEWORKER.value,
    Role.SUPERVISOR.value,
    Role.LEGAL_AID.value,
}


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _safe_next(target: str | None) -> str:
    """A redirect target inside the dashboard only (never another site)."""
    if target and target.startswith("/ui") and not target.startswith("//"):
        return target
    return "/ui"


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    user: UserRecord | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a template with the signed-in user and the navigation it may use."""
    session: UiSession | None = getattr(request.state, "ui_session", None)
    response = TEMPLATES.TemplateResponse(
        request,
        name,
        # Every form of a signed-in page posts the session's CSRF token (check_csrf).
        {"user": user, "lists": LISTS, "csrf": session.csrf if session else "", **context},
        status_code=status_code,
    )
    # Pages carry personal data: no shared or back-button caches.
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: Request, exc: ApiError, user: UserRecord | None) -> HTMLResponse:
    """A friendly page for a refusal or a missing case, with the API's status code."""
    titles = {
        403: "You may not open this page",
        404: "Not found",
        503: "Try again in a moment",
    }
    return render(
        request,
        "error.html",
        {"title": titles.get(exc.status, "Something went wrong"), "detail": exc.body["detail"]},
        user=user,
        status_code=exc.status,
    )


def to_signin(request: Request) -> RedirectResponse:
    """Send an anonymous visitor to the sign-in form, coming back here afterwards."""
    return RedirectResponse(f"/ui/signin?next={quote(request.url.path, safe='/')}", status_code=303)


def require(user: UserRecord, roles: set[str]) -> None:
    """403 unless the user has one of `roles` (the same rule the API applies)."""
    if user.role not in roles:
        raise Forbidden(f"your role ({user.role}) may not open this page")


def _set_session(request: Request, response: Response, session_id: str) -> None:
    settings = request.app.state.settings
    response.set_cookie(
        COOKIE,
        session_id,
        # Kept across a browser restart, but never beyond the session's absolute expiry.
        max_age=int(settings.ui_session_max_age.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/ui",
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/ui/signin", httponly=True, samesite="strict")


async def _start_session(request: Request, user: UserRecord, target: str) -> Response:
    """Start a database session for `user` and send the browser on with its cookie."""
    settings = request.app.state.settings
    user_id = user.id
    assert user_id is not None  # a stored user
    session_id = await run_in_threadpool(
        lambda: ui_sessions.start(
            _engine(request),
            user_id,
            idle=settings.ui_session_idle,
            absolute=settings.ui_session_max_age,
        )
    )
    response = RedirectResponse(target, status_code=303)
    _set_session(request, response, session_id)
    return response


async def posted_fields(request: Request) -> dict[str, list[str]]:
    """A urlencoded form's fields, every value of each (ticked boxes share one name)."""
    # Parsed here rather than adding python-multipart for a few fields.
    return parse_qs((await request.body()).decode("utf-8", "replace"))


async def posted_form(request: Request) -> dict[str, str]:
    """A urlencoded form's fields (the first value of each)."""
    return {name: values[0] for name, values in (await posted_fields(request)).items()}


def check_csrf(session: UiSession, form: dict[str, str]) -> None:
    """403 unless the form carries the session's CSRF token (it came from our own page)."""
    if not ui_sessions.csrf_matches(session.id, form.get("csrf", "")):
        raise Forbidden(CSRF_REFUSAL)


def signin_page(
    request: Request, target: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    """The sign-in form, with a pre-session CSRF token in a cookie and the same in the form.

    Before sign-in there is no session to tie a token to, so the form's token is checked
    against a SameSite=Strict cookie: another site can neither read it nor make the browser
    send it, so it cannot sign a visitor in under the other site's account.
    """
    known = request.cookies.get(SIGNIN_COOKIE, "")
    token = known if 20 <= len(known) <= 100 else secrets.token_urlsafe(32)
    response = render(
        request,
        "signin.html",
        {"title": "Sign in", "next": target, "error": error, "signin_csrf": token},
        status_code=status_code,
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/ui/signin",
    )
    return response


# ---------------------------------------------------------------------------------------------
# Sign-in and sign-out


@router.get("", response_class=HTMLResponse)
async def home(request: Request, user: SessionUser) -> Response:
    """The start page: what the signed-in user may open."""
    if user is None:
        return to_signin(request)
    return render(request, "home.html", {"title": "Dashboard"}, user=user)


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(
    request: Request, ticket: str | None = None, next: str | None = None
) -> Response:
    """The sign-in form, or a one-time ticket redeemed for a session."""
    target = _safe_next(next)
    if ticket is not None:
        token = await run_in_threadpool(ui_tickets.redeem, _engine(request), ticket)
        user = None
        if token is not None:
            user = await run_in_threadpool(user_for_token, _engine(request), token)
        if user is not None:
            return await _start_session(request, user, target)
        return signin_page(request, target, "That sign-in link is used or expired.", 401)
    return signin_page(request, target)


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    """Check the posted token and start a session whose id goes in the cookie."""
    form = await posted_form(request)
    token = form.get("token", "").strip()
    target = _safe_next(form.get("next"))
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, form.get("csrf", "")):
        return signin_page(request, target, SIGNIN_CSRF_REFUSAL, 403)
    user = await run_in_threadpool(user_for_token, _engine(request), token) if token else None
    if user is None:
        return signin_page(request, target, "That token is unknown or revoked.", 401)
    return await _start_session(request, user, target)


@router.post("/signout")
async def signout(request: Request, session: UiSessionDep) -> Response:
    """End the session in the database (every process) and forget the cookie."""
    if session is not None:
        try:
            check_csrf(session, await posted_form(request))
        except ApiError as exc:
            return error_page(request, exc, session.user)
        await run_in_threadpool(ui_sessions.end, _engine(request), session.id)
    response = RedirectResponse("/ui/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


@router.post("/tickets")
async def create_ticket(request: Request, user: CurrentUser, token: BearerToken) -> dict[str, Any]:
    """A one-time sign-in link for the bearer token's user (valid for a minute, used once).

    The link is absolute: `ASYLUMFLOW_PUBLIC_URL` behind a proxy, else the address the caller
    used (the link goes back to that caller only, so its Host header misleads nobody else).
    """
    ticket = await run_in_threadpool(ui_tickets.issue, _engine(request), token)
    base = request.app.state.settings.public_url or str(request.base_url).rstrip("/")
    return {
        "ticket": ticket,
        "url": f"{base}/ui/signin?ticket={ticket}",
        "expires_in": int(ui_tickets.TICKET_TTL.total_seconds()),
        "user": user.name,
    }


# ---------------------------------------------------------------------------------------------
# Pages


@router.get("/case", response_class=HTMLResponse)
async def find_case(request: Request, id: str = "") -> Response:
    """The "open a case" form's target: on to the case page."""
    return RedirectResponse(f"/ui/cases/{quote(id.strip(), safe='')}", status_code=303)


def action_form(action: Action) -> dict[str, Any]:
    """What the case page needs to draw `action`'s form."""
    return {
        "action": action.value,
        "title": action.value.replace("_", " ").capitalize(),
        "fields": form_fields(action),
    }


async def readable_case(
    request: Request, user: UserRecord, case_id: str
) -> tuple[dict[str, Any], PersonRecord | None]:
    """The case's view and person, if `user` may read the case (ApiError otherwise: 403, 404).

    What a form's POST checks before acting, without the history the page itself also reads.
    """
    require(user, CASE_READERS)
    view = await read_view(request.app.state.temporal, case_id)
    person = await run_in_threadpool(person_of, _engine(request), case_id)
    check_scope(user, view, person)
    return view, person


async def case_context(request: Request, user: UserRecord, case_id: str) -> dict[str, Any]:
    """What the case page shows (ApiError when the user may not read the case)."""
    client = request.app.state.temporal
    view, person = await readable_case(request, user, case_id)
    if view.get("reference") is None:  # a case begun before references
        view["reference"] = await run_in_threadpool(reference_of, _engine(request), case_id)
    view = await with_read_model_flags(_engine(request), view)  # over_capacity (issue #19)
    events = await handle_for(client, case_id).query(CaseWorkflow.history)
    events = await run_in_threadpool(readable_notes, _engine(request), user, events)
    # Legal order, as `GET /cases/{id}/history` gives it: by `on`, acts before what the engine
    # derived on the same day, then as recorded.
    events = legal_order(events)
    today = calendar_today(view.get("jurisdiction"))
    for deadline in view.get("deadlines") or []:
        deadline["days_left"] = (date.fromisoformat(deadline["due"]) - today).days
    mine = {a.value for a in Action if user.role in {r.value for r in roles_for(a)}}
    # The review of a presumed abandonment has its own form, with its own wording, above.
    offered = [
        a
        for a in offered_actions(view.get("allowed_actions") or [], mine)
        if a is not Action.REVIEW_ABANDONMENT
    ]
    return {
        "title": f"Case {case_id}",
        "case": view,
        "person": public_person(person),
        "events": events,
        "today": today,
        "action_forms": [
            {
                "action": a.value,
                "title": a.value.replace("_", " ").capitalize(),
                "fields": form_fields(a),
            }
            for a in offered
        ],
        # One key per rendering: a double-clicked submit reaches the case once (the action's
        # Idempotency-Key), while a form sent again after a refusal is a new attempt.
        "form_key": secrets.token_urlsafe(16),
    }


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(
    request: Request, case_id: str, user: SessionUser, done: str | None = None
) -> Response:
    """A case: its stage, deadlines with their provenance, actions and the timeline."""
    if user is None:
        return to_signin(request)
    try:
        context = await case_context(request, user, case_id)
    except ApiError as exc:
        return error_page(request, exc, user)
    # `done`: the action a form just recorded (an action's name only, never personal data).
    context["done"] = done if done in Action._value2member_map_ else None
    return render(request, "case.html", context, user=user)
