"""Issue 21 finding 5: calendar feed secrets belong to users, not to organisations.

Revoking a user revokes its feed; rotating one user's secret leaves colleagues' feeds working.
"""

from __future__ import annotations

from db.users import Role
from tests.api.helpers import Api, ago, lodged_on, open_case


async def test_feed_secrets_are_per_user(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("admin", Role.ADMIN)
    api.user("ana", Role.LEGAL_AID, org="org-a")
    api.user("bojan", Role.LEGAL_AID, org="org-a")
    api.user("other", Role.LEGAL_AID, org="org-b")
    case_id = await open_case(api, "org-a", lodged_on(ago(months=2)))

    async def secret(who: str) -> str:
        answer = await api.http.post("/legal-aid/feed-secret", headers=api.auth(who))
        assert answer.status_code == 200, answer.text
        assert set(answer.json()) == {"secret", "feed_url"}
        value: str = answer.json()["secret"]
        return value

    async def status(feed: str) -> int:
        answer = await api.http.get("/legal-aid/calendar.ics", params={"feed": feed})
        return answer.status_code

    ana, bojan = await secret("ana"), await secret("bojan")
    # Both colleagues' feeds work side by side and show the org's cases.
    assert await status(ana) == 200 and await status(bojan) == 200

    async def shows_case() -> bool:
        feed = await api.http.get("/legal-aid/calendar.ics", params={"feed": ana})
        return case_id in feed.text

    await api.wait_for(shows_case, "org-a's case in its member's feed")

    # Rotating one's own secret ends that one only.
    ana_new = await secret("ana")
    assert await status(ana) == 401
    assert await status(ana_new) == 200
    assert await status(bojan) == 200

    # Revoking a user ends its feed at once; the colleague's keeps working.
    revoked = await api.http.post("/users/bojan/revoke", headers=api.auth("admin"))
    assert revoked.status_code == 200, revoked.text
    assert await status(bojan) == 401
    assert await status(ana_new) == 200

    # Another org's member sees none of org-a's cases through its own feed.
    other = await api.http.get("/legal-aid/calendar.ics", params={"feed": await secret("other")})
    assert other.status_code == 200 and case_id not in other.text
