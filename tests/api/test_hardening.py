"""Issue 21 finding 9: the smaller hardening items, each over HTTP against a real worker.

Webhook URLs are logged without path or query; data files are the owner's alone; `feed_url`
never comes from the request's `Host`; control, bidirectional and zero-width characters are
refused in names and notes; a chunked body over the limit is 413 and over-deep JSON 422.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from db.engine import make_engine, migrate
from db.users import Role
from tests.api.helpers import Api, ago, create, lodged_on, open_case, person
from tests.webhooks import WebhookReceiver


async def test_webhook_urls_are_logged_without_path_or_query(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.user("cw", Role.CASEWORKER)
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    with WebhookReceiver() as receiver:
        hook = await api.http.post(
            "/legal-aid/webhooks",
            json={"url": f"{receiver.url}/hooks/pathsecret7?token=querysecret7"},
            headers=api.auth("la-a"),
        )
        assert hook.status_code == 201
        await open_case(api, "org-a", lodged_on(ago(months=3, days=-4)))
        (reminder,) = await receiver.wait_accepted(1)
        assert reminder.path == "/hooks/pathsecret7?token=querysecret7"
        url = f"/legal-aid/webhooks/{hook.json()['id']}/deliveries"

        async def recorded() -> bool:
            items = (await api.http.get(url, headers=api.auth("la-a"))).json()["items"]
            return any(d["ok"] for d in items)

        await api.wait_for(recorded, "the delivery in its log (after httpx logged it)")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    origin = receiver.url.removeprefix("http://")
    assert f"HTTP Request: POST http://{origin}/" in logged  # logged, by its origin
    assert "pathsecret7" not in logged and "querysecret7" not in logged, logged


def test_data_files_are_the_owners_alone(tmp_path: Path) -> None:
    before = os.umask(0o022)  # the usual umask: files would be 0644
    try:
        url = f"sqlite:///{tmp_path / 'data' / 'asylumflow.db'}"
        migrate(url)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE probe (x INTEGER)"))
            conn.execute(text("INSERT INTO probe VALUES (1)"))
        files = sorted((tmp_path / "data").iterdir())
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
        engine.dispose()
    finally:
        os.umask(before)
    assert "asylumflow.db" in modes
    assert all(mode == 0o600 for mode in modes.values()), {k: oct(v) for k, v in modes.items()}


async def test_feed_url_never_from_the_host_header(api: Api) -> None:
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    answer = await api.http.post(
        "/legal-aid/feed-secret", headers={**api.auth("la-a"), "Host": "evil.example"}
    )
    assert answer.status_code == 200
    feed_url = answer.json()["feed_url"]
    assert "evil.example" not in feed_url
    assert feed_url.startswith("http://127.0.0.1:8000/legal-aid/calendar.ics?feed=")
    public = api.app.state.settings.model_copy(update={"public_url": "https://asylum.example.gov"})
    api.app.state.settings = public
    answer = await api.http.post(
        "/legal-aid/feed-secret", headers={**api.auth("la-a"), "Host": "evil.example"}
    )
    secret = answer.json()["secret"]
    expected = f"https://asylum.example.gov/legal-aid/calendar.ics?feed={secret}"
    assert answer.json()["feed_url"] == expected
    feed = await api.http.get("/legal-aid/calendar.ics", params={"feed": secret})
    assert feed.status_code == 200


INVISIBLE = {
    "NUL": "\x00",
    "escape": "\x1b[31m",
    "newline": "\n",
    "DEL": "\x7f",
    "right-to-left override": "\u202e",
    "first strong isolate": "\u2068",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "byte order mark": "\ufeff",
}


async def test_invisible_and_control_characters_are_refused(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(3)))["id"]
    body = {
        "jurisdiction": "rs",
        "identified_on": ago(3),
        "identified_at": "border",
        "vulnerabilities": [],
    }
    for label, char in INVISIBLE.items():
        for field in ("given_name", "family_name"):
            named = person(**{field: f"Zai{char}nab"})
            answer = await api.http.post(
                "/cases", json={**body, "person": named}, headers=api.auth("cw")
            )
            assert answer.status_code == 422, (label, field, answer.text)
            assert answer.json()["field"] == f"person.{field}", answer.json()
        one = await api.http.post(
            f"/cases/{cid}/actions/make_application",
            json={"on": ago(2), "note": f"came{char}back"},
            headers=api.auth("cw"),
        )
        assert one.status_code == 422, (label, one.text)
        assert one.json()["field"] == "note"
        batch = await api.http.post(
            f"/cases/{cid}/actions",
            json={"actions": [{"action": "make_application", "on": ago(2), "note": char}]},
            headers=api.auth("cw"),
        )
        assert batch.status_code == 422, (label, batch.text)
        assert batch.json()["field"] == "actions.0.note"
    # Nothing reached the case; ordinary names in any script still pass.
    history = (await api.http.get(f"/cases/{cid}/history", headers=api.auth("cw"))).json()
    assert len(history["items"]) == 1  # the case's creation only
    fine = person(given_name="Мухаммад", family_name="العلي O'Neil-Smith")
    answer = await api.http.post("/cases", json={**body, "person": fine}, headers=api.auth("cw"))
    assert answer.status_code == 201, answer.text


async def test_chunked_oversized_body_413_and_deep_json_422(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 8192  # 160 KiB in all, no Content-Length

    big = await api.http.post(
        "/cases", content=chunks(), headers={**api.auth("cw"), "Content-Type": "application/json"}
    )
    assert "content-length" not in big.request.headers
    assert big.status_code == 413, big.text
    assert big.json()["field"] == "body"

    deep = b"[" * 20_000 + b"]" * 20_000
    answer = await api.http.post(
        "/cases", content=deep, headers={**api.auth("cw"), "Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "body"
    # Brackets inside strings are text, not nesting.
    note = "[" * 100
    cid = (await create(api, "cw", identified_on=ago(3)))["id"]
    ok = await api.http.post(
        f"/cases/{cid}/actions/make_application",
        json={"on": ago(2), "note": note},
        headers=api.auth("cw"),
    )
    assert ok.status_code == 200, ok.text
