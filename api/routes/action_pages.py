"""The case page's action forms post here: `POST /ui/cases/{id}/actions/{action}` (CSRF-checked).

The posted fields become the action's JSON body (`api.action_forms.form_body`) and take the
very path of `POST /cases/{id}/actions/<action>`: the same role check, text check and input
model, the same Update, read-model write and duplicate check. The form's one-time key is the
action's `Idempotency-Key`, so a double-clicked submit is recorded once. A refusal re-renders
the case page with the refusal next to the field it names (422) or at the top of the form
(409 with the case's stage and what it allows now, 403), everything typed kept in the form.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import audit
from api.action_forms import form_body
from api.deps import UiSession, UiSessionDep
from api.errors import ApiError, Forbidden, NotFound
from api.routes.actions import checked_request, send_one
from api.routes.ui import (
    action_form,
    case_context,
    check_csrf,
    error_page,
    posted_fields,
    readable_case,
    render,
)
from db.tables import UserRecord
from models.enums import Action

router = APIRouter(prefix="/ui", tags=["dashboard"], include_in_schema=False)


def refusal(action: Action, exc: ApiError) -> dict[str, Any]:
    """What the page shows of a refused action, and next to which field."""
    field = exc.body.get("field")
    errors = exc.body.get("errors") or [{}]
    return {
        "action": action.value,
        "status": exc.status,
        "detail": exc.body["detail"],
        "field": field,
        "message": errors[0].get("msg", exc.body["detail"]),
        # A 422 naming one of the form's own fields is shown beside it; any other at the top.
        "field_shown": field is not None and "." not in field and field != "body",
        "stage": exc.body.get("stage"),
        "allowed": exc.body.get("allowed_actions"),
    }


async def checked_form(
    request: Request, session: UiSession
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The posted form (every value, and the first of each), once its CSRF token is checked."""
    posted = await posted_fields(request)
    form = {name: values[0] for name, values in posted.items()}
    check_csrf(session, form)
    return posted, form


async def send_form(
    request: Request,
    user: UserRecord,
    case_id: str,
    action: Action,
    posted: dict[str, list[str]],
    form_key: str | None,
) -> None:
    """The form's action as the API takes it: role, text and model checks, Update, read model.

    Raises the API's error (403, 404, 409, 422) for the page to show.
    """
    checked = checked_request(user, action.value, form_body(action, posted))
    engine, client = request.app.state.engine, request.app.state.temporal
    settings = request.app.state.settings
    await send_one(case_id, user, engine, client, checked, form_key, settings=settings)


# 303: a success goes back to the case page; the audit record stored in the action's write says
# so at once, with no correction after (`api.audit`).
@router.post("/cases/{case_id}/actions/{action}", response_class=HTMLResponse, status_code=303)
@audit.stored_in_its_write
async def take_from_form(
    request: Request, case_id: str, action: str, session: UiSessionDep
) -> Response:
    """Take `action` on the case from its form; back to the case page, or the refusal inline."""
    if session is None:
        return RedirectResponse(f"/ui/signin?next=/ui/cases/{case_id}", status_code=303)
    user = session.user
    try:
        posted, form = await checked_form(request, session)
        if action not in Action._value2member_map_:
            raise NotFound(f"unknown action {action!r}")
        known = Action(action)
        await readable_case(request, user, case_id)  # or 404 / 403, as the page answers
    except ApiError as exc:
        return error_page(request, exc, user)
    try:
        await send_form(request, user, case_id, known, posted, form.get("form_key") or None)
    except ApiError as exc:
        if isinstance(exc, Forbidden):  # the role may never take it: there is no form to show
            return error_page(request, exc, user)
        context = await case_context(request, user, case_id)
        forms: list[dict[str, Any]] = context["action_forms"]
        if not any(f["action"] == known.value for f in forms):
            # The case moved on (409): the form it was sent from is no longer offered, but the
            # refusal and what was typed stay in view, first, so nothing is lost.
            forms.insert(0, action_form(known))
        context.update(action_error=refusal(known, exc), action_values=posted)
        return render(request, "case.html", context, user=user, status_code=exc.status)
    return RedirectResponse(
        f"/ui/cases/{case_id}?done={known.value}#actions-heading", status_code=303
    )
