"""Sign-in tickets live in the database: any API process redeems one, once, and only in time.

Two app instances over one database stand for two `asylumflow api` processes behind a load
balancer; the table is read directly to check it never holds a usable token.
"""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import Session, SQLModel, select

from api.app import create_app
from api.routes.ui import COOKIE
from db import ui_tickets
from db.engine import make_engine, migrate
from db.tables import UiTicketRecord
from db.users import Role
from tests.api.helpers import Api


async def test_a_ticket_made_by_one_process_is_redeemed_by_another_once(api: Api) -> None:
    api.user("sup", Role.SUPERVISOR)
    other = create_app(api.app.state.settings)
    for name in ("settings", "engine", "temporal"):
        setattr(other.state, name, getattr(api.app.state, name))
    made = await api.http.post("/ui/tickets", headers=api.auth("sup"))
    assert made.status_code == 200, made.text
    url = made.json()["url"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=other), base_url="http://other"
    ) as elsewhere:
        signed = await elsewhere.get(url)
        assert signed.status_code == 303
        assert signed.cookies[COOKIE] != api.tokens["sup"]  # a session id, never the token
        session = {"Cookie": f"{COOKIE}={signed.cookies[COOKIE]}"}
        assert (await elsewhere.get("/ui", headers=session)).status_code == 200
    assert (await api.http.get(url)).status_code == 401  # used: gone in every process


async def test_the_table_holds_no_usable_token(api: Api) -> None:
    api.user("sup", Role.SUPERVISOR)
    token = api.tokens["sup"]
    ticket = ui_tickets.issue(api.engine, token)
    with Session(api.engine) as session:
        [row] = session.exec(select(UiTicketRecord)).all()
    stored = f"{row.id_hash} {row.sealed} {base64.b64decode(row.sealed)!r}"
    assert token not in stored and ticket not in stored
    assert ui_tickets.redeem(api.engine, ticket) == token


async def test_expired_tickets_are_refused_and_dropped(api: Api) -> None:
    api.user("sup", Role.SUPERVISOR)
    token = api.tokens["sup"]
    stale = ui_tickets.issue(api.engine, token, ttl=timedelta(seconds=-1))
    assert ui_tickets.redeem(api.engine, stale) is None
    ui_tickets.issue(api.engine, token)  # making a ticket clears the expired ones
    with Session(api.engine) as session:
        assert len(session.exec(select(UiTicketRecord)).all()) == 1
    assert ui_tickets.redeem(api.engine, "not-a-ticket") is None


async def test_of_concurrent_redeemers_exactly_one_signs_in(api: Api) -> None:
    api.user("sup", Role.SUPERVISOR)
    token = api.tokens["sup"]
    ticket = ui_tickets.issue(api.engine, token)
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda _: ui_tickets.redeem(api.engine, ticket), range(8)))
    assert got.count(token) == 1
    assert got.count(None) == 7


def test_the_migration_makes_the_models_table(db_url: str) -> None:
    migrate(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()
    assert not [d for d in diff if "ui_tickets" in repr(d)]
