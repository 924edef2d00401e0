"""A supervisor reviews a presumed abandonment from the case page (`review_abandonment`).

The form posts to `/ui/cases/{id}/review-abandonment` (CSRF-checked) and the action goes to the
case workflow exactly as `POST /cases/{id}/actions/review_abandonment` sends it. A refusal
(409: the case moved on; 422: a field is wrong) is shown on the case page next to the form, with
what was typed kept in it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import audit
from api.deps import UiSessionDep
from api.errors import ApiError
from api.routes.action_pages import checked_form, send_form
from api.routes.ui import case_context, error_page, readable_case, render, require
from db.users import Role
from models.enums import Action

router = APIRouter(prefix="/ui", tags=["dashboard"], include_in_schema=False)


# 303 on success, as the action forms: the audit record stored in the write says so at once.
@router.post("/cases/{case_id}/review-abandonment", response_class=HTMLResponse, status_code=303)
@audit.stored_in_its_write
async def review_abandonment(request: Request, case_id: str, session: UiSessionDep) -> Response:
    """Confirm (the case is discontinued) or lift a presumed abandonment."""
    if session is None:
        return RedirectResponse(f"/ui/signin?next=/ui/cases/{case_id}", status_code=303)
    user = session.user
    try:
        posted, form = await checked_form(request, session)
        require(user, {Role.SUPERVISOR.value})
        await readable_case(request, user, case_id)  # or 404 / 403, as the page answers
    except ApiError as exc:
        return error_page(request, exc, user)
    try:
        # The same body, checks and path as every other action form (api/action_forms.py).
        await send_form(request, user, case_id, Action.REVIEW_ABANDONMENT, posted, None)
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
