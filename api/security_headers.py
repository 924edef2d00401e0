"""Security headers on every answer, and `Cache-Control: no-store` on all but static assets.

The dashboard is plain server-rendered HTML: one stylesheet from `/ui/static`, no scripts, no
inline styles, forms posting to the API itself. Its policy allows exactly that. The OpenAPI
pages (`/docs`, `/redoc`) load Swagger UI and ReDoc from the app itself (`/docs-assets`,
api/routes/docs.py); Swagger UI's one inline bootstrap script is allowed by its hash, which the
page sets in its own policy; nothing is loaded from another origin.

Answers carry personal data (names, case ids, notes), so no cache, shared or the browser's own
back-button store, may keep them; only the static assets (no personal data) are cacheable.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = "; ".join(
    (
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
"""The API's JSON and the dashboard: one same-origin stylesheet, same-origin forms."""


def docs_policy(script_hashes: list[str]) -> str:
    """The policy of Swagger UI and ReDoc: same-origin assets, inline scripts by hash only.

    Both render with inline styles and ReDoc searches in a blob worker; fonts and images are
    their own or data URLs. Nothing comes from another origin.
    """
    return "; ".join(
        (
            "default-src 'none'",
            " ".join(("script-src 'self'", *script_hashes)),
            "style-src 'self' 'unsafe-inline'",
            "font-src 'self' data:",
            "img-src 'self' data:",
            "connect-src 'self'",
            "worker-src blob:",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        )
    )


DOCS_POLICY = docs_policy([])
"""The documentation pages' policy when the page itself set none (no inline script at all)."""

DOCS_PATHS = ("/docs", "/redoc")
STATIC_PREFIXES = ("/ui/static/", "/docs-assets/")

COMMON_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def policy_for(path: str) -> str:
    """The Content-Security-Policy of the answer to `path`."""
    return DOCS_POLICY if path.startswith(DOCS_PATHS) else PAGE_POLICY


class SecurityHeaders:
    """Adds the headers as each response starts (plain ASGI: no extra task per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; decorate the response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # Only a documentation page may bring its own (narrower, hash-based) policy.
                if not (path.startswith(DOCS_PATHS) and "content-security-policy" in headers):
                    headers["content-security-policy"] = policy_for(path)
                for name, value in COMMON_HEADERS:
                    headers[name.decode()] = value.decode()
                if not path.startswith(STATIC_PREFIXES) and "no-store" not in headers.get(
                    "cache-control", ""
                ):
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
