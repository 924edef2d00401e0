"""Bearer-token authentication: the per-process cache of checked tokens."""

from __future__ import annotations

import threading

from cachetools import TTLCache
from sqlalchemy.engine import Engine

from db.tables import UserRecord
from db.users import hash_token, user_for_token


class TokenCache:
    """Recently authenticated tokens → their users, for `ttl` seconds (0 turns it off).

    Every request authenticates; reading the token's user from SQL each time was a fixed cost
    of every request (and, on SQLite, a reader beside the writers). The price is that a token
    revoked in another process (the CLI, another API process) keeps working for up to `ttl`
    seconds there; a revocation through this process's API takes effect at once (`forget`).
    """

    def __init__(self, ttl: float, maxsize: int = 10_000) -> None:
        self._cache: TTLCache[str, UserRecord] | None = (
            TTLCache(maxsize=maxsize, ttl=ttl) if ttl > 0 else None
        )
        # TTLCache is not thread-safe; lookups run on the event loop, revocations in threads.
        self._lock = threading.Lock()

    def load(self, engine: Engine, token: str) -> UserRecord | None:
        """The token's active user from SQL, remembered if there is one (blocking: a thread)."""
        user = user_for_token(engine, token)
        if user is not None and self._cache is not None:
            with self._lock:
                self._cache[hash_token(token)] = user
        return user

    def cached(self, token: str) -> UserRecord | None:
        """The token's user if it is cached (no SQL: callable on the event loop)."""
        if self._cache is None:
            return None
        with self._lock:
            return self._cache.get(hash_token(token))

    def forget(self, name: str) -> None:
        """Drop a user's cached tokens (after revoking them)."""
        if self._cache is None:
            return
        with self._lock:
            for key in [k for k, u in self._cache.items() if u.name == name]:
                del self._cache[key]
