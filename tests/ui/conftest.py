"""Dashboard tests reuse the API tests' `api` fixture (app over ASGI, worker, dev server, DB).

The browser tests' fixtures (a live server, a worker, Chromium) come from `tests/ui/live.py`.
"""

from tests.api.conftest import api
from tests.ui.live import browser, chromium, context, live, playwright, server

__all__ = ["api", "browser", "chromium", "context", "live", "playwright", "server"]
