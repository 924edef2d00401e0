"""The FastAPI application: one Temporal client and one DB engine, created in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from api.audit import install_audit
from api.auth import TokenCache
from api.errors import install_error_handlers
from api.limits import BodyLimit
from api.routes import (
    action_pages,
    actions,
    cases,
    codec,
    desk_pages,
    docs,
    duplicates,
    eurostat,
    health,
    interpreters,
    legal_aid,
    legal_aid_pages,
    protection_pages,
    reception,
    reception_pages,
    review_pages,
    search_pages,
    stats,
    stats_pages,
    supervision,
    supervision_pages,
    ui,
    users,
)
from api.security_headers import SecurityHeaders
from core.settings import Settings, get_settings
from core.temporal import connect
from db.engine import make_engine
from models.rules import add_pack_directory


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; tests pass their own settings (and may preset `app.state.temporal`)."""
    settings = settings or get_settings()
    if settings.extra_packs_dir is not None:
        # Packs the workers know (e.g. test packs) must validate here too.
        add_pack_directory(settings.extra_packs_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        if getattr(app.state, "engine", None) is None:
            app.state.engine = make_engine(settings.db_url)
        if getattr(app.state, "temporal", None) is None:
            app.state.temporal = await connect(settings)
        yield
        app.state.engine.dispose()

    app = FastAPI(
        title="asylumflow",
        version="0.1.0",
        summary="Asylum procedure lifecycles with legal deadlines you can trust.",
        lifespan=lifespan,
        # Served by api/routes/docs.py from the app's own assets, not FastAPI's CDN pages.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_audit(app)
    app.state.tokens = TokenCache(settings.auth_cache_seconds)
    app.add_middleware(BodyLimit)
    # Only the Temporal UI calls the API from a browser (the codec endpoint).
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.codec_cors_origins,
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        allow_credentials=True,
    )
    # Outermost: every answer gets the headers, refusals by the other middlewares included.
    app.add_middleware(SecurityHeaders)
    app.include_router(health.router)
    app.include_router(cases.router)
    app.include_router(actions.router)
    app.include_router(duplicates.router)
    app.include_router(supervision.router)
    app.include_router(reception.router)
    app.include_router(stats.router)
    app.include_router(eurostat.router)
    app.include_router(legal_aid.router)
    app.include_router(users.router)
    app.include_router(interpreters.router)
    app.include_router(codec.router)
    app.include_router(ui.router)
    app.include_router(legal_aid_pages.router)
    app.include_router(supervision_pages.router)
    app.include_router(search_pages.router)
    app.include_router(desk_pages.router)
    app.include_router(review_pages.router)
    app.include_router(action_pages.router)
    app.include_router(stats_pages.router)
    app.include_router(reception_pages.router)
    app.include_router(protection_pages.router)
    app.include_router(docs.router)
    app.mount("/ui/static", StaticFiles(directory=ui.STATIC_DIR), name="ui-static")
    app.mount(docs.ASSETS_URL, StaticFiles(directory=docs.ASSETS_DIR), name="docs-assets")
    return app
