"""The floor under every API action: the app's fixed cost around one no-op Update.

    .venv/bin/python -m bench.floor     # serves it as `asylumflow api` serves the API

`POST /cases/{workflow_id}/floor` goes through everything a real action goes through that is
not the domain layer: the same app (`create_app`, so the same middleware: body limit, CORS,
request ids, JSON logging and the audit record, begun in a commit of its own as soon as the
token's user is known, as for every route that writes no read model), a bearer token checked
by the same dependency, a JSON body, one Temporal Update and a JSON answer, but the Update
goes to `bench.noop.NoopWorkflow` and no read model is written.

The engine benchmark times it beside the real action and the raw no-op Update, in the same
rounds. Its ratio to the no-op Update is what any authenticated, audited FastAPI route in
front of Temporal costs on that machine; the action target (API p50 at most 1.5 times the
no-op's) leaves only the difference for the lifecycle rules and the read-model write. It is a
separate app, so the API under test is exactly the product's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from api.app import create_app
from api.deps import CaseReader, TemporalDep
from api.routes import actions
from bench.noop import NoopWorkflow
from bench.rig import serve_then_exit
from core.settings import Settings

FLOOR_PATH = "/cases/{workflow_id}/floor"
"""Under `/cases`, so the audit middleware records it as it records an action."""

router = APIRouter()


@router.post(FLOOR_PATH)
async def floor(
    workflow_id: str, user: CaseReader, client: TemporalDep, body: dict[str, Any]
) -> dict[str, Any]:
    """One no-op Update for a signed-in caseworker; its result as the answer."""
    del user  # checked by the dependency, as every case route checks it
    result: dict[str, Any] = await client.get_workflow_handle(workflow_id).execute_update(
        NoopWorkflow.touch, body
    )
    return {"id": workflow_id, **result}


def create_floor_app(settings: Settings | None = None) -> FastAPI:
    """The product's app (its settings from the environment unless given) plus the floor route.

    The route is matched where the product's action routes are, right after them: included
    last, it was matched after all the product's 135 routes, which FastAPI tries one by one
    (about 0.3 ms of CPU per request that no action pays; `bench.floor_parts` shows it).
    """
    app = create_app(settings)
    app.include_router(router)
    routes = app.router.routes
    routes.insert(included_at(app, actions.router) + 1, routes.pop())
    return app


def included_at(app: FastAPI, included: APIRouter) -> int:
    """Where among the app's routes the router `included` is matched.

    FastAPI keeps an included router as one route holding it (`original_router`).
    """
    routes = app.router.routes
    return next(i for i, r in enumerate(routes) if getattr(r, "original_router", None) is included)


def main() -> None:
    """Serve the floor app exactly as `asylumflow api` serves the API (API_HOST / API_PORT)."""
    serve_then_exit("bench.floor:create_floor_app")


if __name__ == "__main__":
    main()
