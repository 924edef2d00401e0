"""`/ui/cases/{id}/protection-detail`: the sealed detail of a case, on its own page.

What `GET /cases/{id}/protection/details` answers, with the session instead of a bearer token:
caseworkers and supervisors only. A page of its own, opened from a link on the case page, so
that health, age and detention detail is unsealed only when someone asks to read it (the audit
log records each reading, as for every request), never with every view of the case.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionUser
from api.errors import ApiError, Unavailable
from api.protection import protection_details
from api.routes.reception_pages import STAFF
from api.routes.ui import error_page, readable_case, render, require, to_signin
from core.codec import CodecError

router = APIRouter(prefix="/ui/cases", tags=["dashboard"], include_in_schema=False)


@router.get("/{case_id}/protection-detail", response_class=HTMLResponse)
async def protection_detail_page(request: Request, case_id: str, user: SessionUser) -> Response:
    """The detail typed into the case's protection acts, and its detention grounds."""
    if user is None:
        return to_signin(request)
    try:
        require(user, STAFF)
        view, _ = await readable_case(request, user, case_id)
        try:
            details = await run_in_threadpool(
                protection_details, request.app.state.engine, request.app.state.settings, case_id
            )
        except CodecError as exc:
            raise Unavailable(f"sealed detail cannot be opened: {exc}") from None
    except ApiError as exc:
        return error_page(request, exc, user)
    context = {
        "title": f"Protection detail of case {case_id}",
        "case": view,
        "items": details["items"],
        "orders": details["detention_orders"],
    }
    return render(request, "protection_detail.html", context, user=user)
