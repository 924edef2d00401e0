"""Finding a person from the dashboard: `POST /ui/search`, so what is typed never enters a URL.

The same search as `POST /cases/search` (`db.search`: names across transliterations and typos,
dates of birth, references), within the user's reach. The form is CSRF-checked like every form
of the dashboard, and the result page shows the query again in its field: nothing typed is lost.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from api.deps import UiSessionDep
from api.errors import ApiError, Unprocessable
from api.routes.ui import CASE_READERS, check_csrf, error_page, posted_form, render, require
from db.search import search

router = APIRouter(prefix="/ui", tags=["dashboard"], include_in_schema=False)

MAX_QUERY = 200
"""Characters a search may have (as `POST /cases/search`)."""

RESULTS = 50
"""Matches shown, best first."""


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


@router.post("/search", response_class=HTMLResponse)
async def search_page(request: Request, session: UiSessionDep) -> Response:
    """The cases whose person or reference matches the posted `q`, best first."""
    if session is None:
        # Back to the start page after signing in (a search is a POST, not a page to return to).
        return RedirectResponse("/ui/signin?next=/ui", status_code=303)
    user = session.user
    try:
        form = await posted_form(request)
        check_csrf(session, form)
        require(user, CASE_READERS)
        q = form.get("q", "").strip()
        if not q or len(q) > MAX_QUERY:
            raise Unprocessable("q", f"type a name, a date of birth or a reference (1-{MAX_QUERY})")
        items = await run_in_threadpool(search, _engine(request), user, q, RESULTS)
    except ApiError as exc:
        return error_page(request, exc, user)
    return render(
        request, "search.html", {"title": "Find a person", "q": q, "items": items}, user=user
    )
