"""A supervisor reviews a presumed abandonment from the case page (`review_abandonment`).

The form posts to `/ui/cases/{id}/review-abandonment` (CSRF-checked) and the action goes to the
case workflow exactly as `POST /cases/{id}/actions/review_abandonment` sends it. A refusal
(409: the case moved on; 422: a field is wrong) is shown on the case page next to the form, with
what was typed kept in it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.casework import send_action
from api.deps import UiSessionDep
from api.errors import ApiError, Unprocessable, error_field
from api.routes.ui import case_context, check_csrf, error_page, posted_form, render, require
from api.text_safety import refused_character
from db.users import Role
from models.actions import input_model
from models.enums import Action
from models.messages import ActionRequest

router = APIRouter(prefix="/ui", tags=["dashboard"], include_in_schema=False)


def _action_body(form: dict[str, str]) -> dict[str, Any]:
    """The action's fields from the form, checked by the action's own input model.

    As the API checks them, before anything reaches the workflow; 422 naming the field otherwise.
    """
    if form.get("confirm") not in ("yes", "no"):
        raise Unprocessable("confirm", "choose whether to confirm or lift the presumption")
    body: dict[str, Any] = {"on": form.get("on", ""), "confirm": form["confirm"] == "yes"}
    note = form.get("note", "").strip()
    if note:
        reason = refused_character(note)
        if reason is not None:
            raise Unprocessable("note", reason)
        body["note"] = note
    try:
        checked = input_model(Action.REVIEW_ABANDONMENT).model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Unprocessable(error_field(first["loc"]), first["msg"]) from None
    return checked.model_dump(mode="json", exclude_unset=True)


@router.post("/cases/{case_id}/review-abandonment", response_class=HTMLResponse)
async def review_abandonment(request: Request, case_id: str, session: UiSessionDep) -> Response:
    """Confirm (the case is discontinued) or lift a presumed abandonment."""
    if session is None:
        return RedirectResponse(f"/ui/signin?next=/ui/cases/{case_id}", status_code=303)
    user = session.user
    form = await posted_form(request)
    try:
        check_csrf(session, form)
        require(user, {Role.SUPERVISOR.value})
        await case_context(request, user, case_id)  # readable, or 404 like the page
    except ApiError as exc:
        return error_page(request, exc, user)
    try:
        body = _action_body(form)
        await send_action(
            request.app.state.temporal,
            request.app.state.engine,
            case_id,
            ActionRequest(action=Action.REVIEW_ABANDONMENT, body=body, actor=user.name),
        )
    except ApiError as exc:
        context = await case_context(request, user, case_id)
        refusal = {
            "status": exc.status,
            "detail": exc.body["detail"],
            "field": exc.body.get("field"),
        }
        context.update(review_error=refusal, review_form=form)
        return render(request, "case.html", context, user=user, status_code=exc.status)
    return RedirectResponse(f"/ui/cases/{case_id}", status_code=303)
