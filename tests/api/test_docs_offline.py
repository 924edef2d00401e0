"""`/docs` and `/redoc` load nothing from another origin: their assets are served by the app.

The app is served over ASGI with no Temporal or database behind it: the pages need neither.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from api.app import create_app
from core.settings import Settings
from tests.ui.helpers import Dom

CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
}


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The app over ASGI (its lifespan, which connects to Temporal, is not run)."""
    app = create_app(Settings(_env_file=None))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


def asset_urls(html: str) -> list[str]:
    """Every URL the page loads: scripts, stylesheets, icons."""
    dom = Dom(html)
    urls = [e.attrs["src"] for e in dom.all("script") if "src" in e.attrs]
    return urls + [e.attrs["href"] for e in dom.all("link") if "href" in e.attrs]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_documentation_pages_load_only_their_own_assets(
    http: httpx.AsyncClient, page: str
) -> None:
    response = await http.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = asset_urls(response.text)
    assert len(urls) >= 2, urls
    for url in urls:
        # Same origin: a path on this server, never another host (nor a protocol-relative URL).
        assert url.startswith("/docs-assets/") and not url.startswith("//"), url
        asset = await http.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert asset.headers["content-type"].split(";")[0] in CONTENT_TYPES[suffix], url
        assert len(asset.content) > 1000, url
        # Assets hold no personal data: cacheable, unlike every other answer.
        assert "no-store" not in asset.headers.get("cache-control", "")
    assert "http://" not in response.text and "https://" not in response.text

    # The policy names no other origin, and allows inline scripts only by their hashes.
    policy = response.headers["content-security-policy"]
    assert "http" not in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    for script in re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy


async def test_swagger_ui_reads_the_schema_and_starts_from_the_bundle(
    http: httpx.AsyncClient,
) -> None:
    page = (await http.get("/docs")).text
    assert "url: '/openapi.json'" in page and "SwaggerUIBundle(" in page
    assert (await http.get("/openapi.json")).status_code == 200
    bundle = await http.get("/docs-assets/swagger-ui-bundle.js")
    assert b"SwaggerUIBundle" in bundle.content
    assert (await http.get("/docs/oauth2-redirect")).status_code == 200
    redoc = await http.get("/docs-assets/redoc.standalone.js")
    assert b"Redoc" in redoc.content
