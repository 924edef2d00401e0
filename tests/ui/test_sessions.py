"""Dashboard sessions: a random id in the cookie, kept in the database, CSRF-checked forms.

A session ends by idleness, age, sign-out or revocation; every form POST carries its CSRF token.

Expiry is tested by moving the stored instants back, not by waiting. Two app instances over one
database stand for two `asylumflow api` processes behind a load balancer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from api.app import create_app
from api.routes.ui import COOKIE
from core.settings import Settings
from db.engine import make_engine, migrate
from db.tables import UiSessionRecord
from db.users import Role, revoke_user
from tests.api.helpers import Api
from tests.ui.helpers import FORM, Dom, csrf_of, post_signin, signin

SESSIONS = SQLModel.metadata.tables[UiSessionRecord.__tablename__]


def rows(api: Api) -> list[sa.Row[tuple[object, ...]]]:
    """The stored sessions."""
    with api.engine.connect() as conn:
        return list(conn.execute(sa.select(SESSIONS)))


def age_sessions(api: Api, *, idle: timedelta, since_start: timedelta) -> None:
    """Move every stored session back in time: last used `idle` ago, started `since_start` ago."""
    now = datetime.now(UTC)
    with api.engine.begin() as conn:
        conn.execute(
            sa.update(SESSIONS).values(last_seen_at=now - idle, created_at=now - since_start)
        )


async def signed_in(api: Api, session: dict[str, str]) -> bool:
    """Whether the cookie still opens the start page (else: sent to sign in)."""
    response = await api.http.get("/ui", headers=session)
    assert response.status_code in (200, 303), response.text
    return response.status_code == 200


async def test_the_cookie_holds_a_session_id_never_the_token(api: Api) -> None:
    api.user("sup", Role.SUPERVISOR)
    token = api.tokens["sup"]
    response = await post_signin(api.http, token)
    assert response.status_code == 303, response.text
    cookie = response.cookies[COOKIE]
    assert token not in response.headers["set-cookie"] and cookie != token
    header = next(h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE))
    # Lasts across a browser restart, but no longer than the 8-hour absolute expiry.
    assert "max-age=28800" in header.lower() and "httponly" in header.lower()
    [row] = rows(api)
    # The table holds a hash of the id: a copy of it resumes no session.
    assert cookie not in repr(row) and token not in repr(row)
    assert await signed_in(api, {"Cookie": f"{COOKIE}={cookie}"})
    # A bearer token in the cookie (as before sessions) opens nothing.
    assert not await signed_in(api, {"Cookie": f"{COOKIE}={token}"})


async def test_idle_and_absolute_expiry(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    session = await signin(api.http, api.tokens["cw"])
    # 29 idle minutes: still live, and the visit counts as use.
    age_sessions(api, idle=timedelta(minutes=29), since_start=timedelta(hours=1))
    assert await signed_in(api, session)
    [row] = rows(api)
    assert datetime.now(UTC) - row.last_seen_at.replace(tzinfo=UTC) < timedelta(minutes=1)
    # 31 idle minutes: ended.
    age_sessions(api, idle=timedelta(minutes=31), since_start=timedelta(hours=1))
    assert not await signed_in(api, session)

    # In constant use, a session still ends 8 hours after sign-in.
    session = await signin(api.http, api.tokens["cw"])
    age_sessions(api, idle=timedelta(minutes=1), since_start=timedelta(hours=7, minutes=59))
    assert await signed_in(api, session)
    age_sessions(api, idle=timedelta(minutes=1), since_start=timedelta(hours=8, minutes=1))
    assert not await signed_in(api, session)


async def test_expiry_follows_the_settings(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    settings: Settings = api.app.state.settings
    api.app.state.settings = settings.model_copy(
        update={"ui_session_idle_minutes": 5, "ui_session_max_hours": 1}
    )
    session = await signin(api.http, api.tokens["cw"])
    age_sessions(api, idle=timedelta(minutes=6), since_start=timedelta(minutes=6))
    assert not await signed_in(api, session)
    session = await signin(api.http, api.tokens["cw"])
    age_sessions(api, idle=timedelta(minutes=1), since_start=timedelta(minutes=61))
    assert not await signed_in(api, session)


async def test_signout_ends_the_session_server_side(api: Api) -> None:
    api.user("sup", Role.SUPERVISOR)
    session = await signin(api.http, api.tokens["sup"])
    home = await api.http.get("/ui", headers=session)
    out = await api.http.post(
        "/ui/signout", content=f"csrf={csrf_of(home.text)}", headers={**session, **FORM}
    )
    assert out.status_code == 303 and out.headers["location"] == "/ui/signin"
    assert rows(api) == []
    # A copy of the cookie kept from before signing out opens nothing.
    assert not await signed_in(api, session)


async def test_revoking_the_user_ends_its_sessions(api: Api) -> None:
    api.user("sup", Role.SUPERVISOR)
    session = await signin(api.http, api.tokens["sup"])
    revoke_user(api.engine, "sup")
    assert not await signed_in(api, session)
    assert rows(api) == []


async def test_form_posts_without_the_csrf_token_are_refused(api: Api) -> None:
    api.user("sup", Role.SUPERVISOR)
    session = await signin(api.http, api.tokens["sup"])
    home = await api.http.get("/ui", headers=session)
    token = csrf_of(home.text)
    assert token and token not in session["Cookie"]
    for body in ("", "csrf=", "csrf=forged", f"csrf={token[:-1]}x"):
        refused = await api.http.post("/ui/signout", content=body, headers={**session, **FORM})
        assert refused.status_code == 403, (body, refused.text)
        assert "another site" in Dom(refused.text).body
    assert await signed_in(api, session)  # nothing happened

    # Another user's token is not this session's.
    api.user("other", Role.SUPERVISOR)
    other = await api.http.get("/ui", headers=await signin(api.http, api.tokens["other"]))
    forged = await api.http.post(
        "/ui/signout", content=f"csrf={csrf_of(other.text)}", headers={**session, **FORM}
    )
    assert forged.status_code == 403

    # Signing in needs the form's token and its SameSite=Strict cookie together.
    api.http.cookies.clear()
    form = await api.http.get("/ui/signin")
    field, cookie = csrf_of(form.text), form.cookies["asylumflow_signin"]
    sup = api.tokens["sup"]
    attempts = [
        (f"token={sup}", {}),  # a cross-site post: no cookie, no field
        (f"csrf={field}&token={sup}", {}),  # the field without the cookie
        (f"csrf=forged&token={sup}", {"Cookie": f"asylumflow_signin={cookie}"}),
    ]
    for body, cookies in attempts:
        api.http.cookies.clear()
        refused = await api.http.post("/ui/signin", content=body, headers={**FORM, **cookies})
        assert refused.status_code == 403, (body, refused.text)
        assert COOKIE not in refused.cookies
    api.http.cookies.clear()
    ok = await api.http.post(
        "/ui/signin",
        content=f"csrf={field}&token={sup}",
        headers={**FORM, "Cookie": f"asylumflow_signin={cookie}"},
    )
    assert ok.status_code == 303


async def test_a_session_started_by_one_process_is_served_by_another(api: Api) -> None:
    api.user("sup", Role.SUPERVISOR)
    session = await signin(api.http, api.tokens["sup"])
    other = create_app(api.app.state.settings)
    for name in ("settings", "engine", "temporal"):
        setattr(other.state, name, getattr(api.app.state, name))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=other), base_url="http://other"
    ) as elsewhere:
        home = await elsewhere.get("/ui", headers=session)
        assert home.status_code == 200
        assert "Signed in as sup" in Dom(home.text).body
        # Signing out there ends it here too.
        out = await elsewhere.post(
            "/ui/signout", content=f"csrf={csrf_of(home.text)}", headers={**session, **FORM}
        )
        assert out.status_code == 303
    assert not await signed_in(api, session)


async def test_ticket_links_are_absolute(api: Api) -> None:
    api.user("sup", Role.SUPERVISOR)
    made = await api.http.post("/ui/tickets", headers=api.auth("sup"))
    assert made.json()["url"].startswith("http://test/ui/signin?ticket=")
    settings: Settings = api.app.state.settings
    api.app.state.settings = settings.model_copy(
        update={"public_url": "https://asylum.example.gov"}
    )
    made = await api.http.post("/ui/tickets", headers=api.auth("sup"))
    url = made.json()["url"]
    assert url.startswith("https://asylum.example.gov/ui/signin?ticket=")
    redeemed = await api.http.get(url.removeprefix("https://asylum.example.gov"))
    assert redeemed.status_code == 303
    assert redeemed.cookies[COOKIE] != api.tokens["sup"]
    assert await signed_in(api, {"Cookie": f"{COOKIE}={redeemed.cookies[COOKIE]}"})


def test_the_migration_makes_the_models_table(db_url: str) -> None:
    migrate(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()
    assert not [d for d in diff if "ui_sessions" in repr(d)]
