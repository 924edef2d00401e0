"""Dashboard tests reuse the API tests' `api` fixture (app over ASGI, worker, dev server, DB)."""

from tests.api.conftest import api

__all__ = ["api"]
