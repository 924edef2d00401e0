"""Bearer tokens are trusted for a few seconds after a check: revocation still works.

Through this process's API a revocation takes effect at once; a revocation elsewhere (the CLI,
another API process) within the cache's lifetime, which `ASYLUMFLOW_AUTH_CACHE_SECONDS` sets.
"""

from __future__ import annotations

from api.auth import TokenCache
from db.users import Role, revoke_user
from tests.api.helpers import Api


async def _status(api: Api, who: str) -> int:
    return (await api.http.get("/cases?limit=1", headers=api.auth(who))).status_code


async def test_revoking_through_the_api_is_immediate(api: Api) -> None:
    api.user("admin", Role.ADMIN)
    api.user("cw", Role.CASEWORKER)
    assert await _status(api, "cw") == 200  # now cached
    revoked = await api.http.post("/users/cw/revoke", headers=api.auth("admin"))
    assert revoked.status_code == 200
    assert await _status(api, "cw") == 401


async def test_revoking_elsewhere_takes_at_most_the_cache_lifetime(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("other", Role.CASEWORKER)
    api.app.state.tokens = TokenCache(ttl=3600)
    assert await _status(api, "cw") == 200
    revoke_user(api.engine, "cw")  # as the CLI does, in another process
    assert await _status(api, "cw") == 200  # the cached check still holds
    api.app.state.tokens = TokenCache(ttl=0.2)
    assert await _status(api, "other") == 200
    revoke_user(api.engine, "other")

    async def refused() -> bool:
        return await _status(api, "other") == 401

    await api.wait_for(refused, "the cached token to expire", timeout=10)


async def test_no_cache_checks_every_request(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.app.state.tokens = TokenCache(ttl=0)
    assert await _status(api, "cw") == 200
    revoke_user(api.engine, "cw")
    assert await _status(api, "cw") == 401
