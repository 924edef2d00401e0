"""No route dependency runs in a worker thread: FastAPI sends a plain `def` dependency there.

Each such hop cost every request a thread hand-off (bench/RESULTS.md, issue 18 session 9);
a dependency that needs SQL awaits `run_in_threadpool` itself, for that work only.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

import api.routes


def _routes() -> Iterator[APIRoute]:
    for module in pkgutil.iter_modules(api.routes.__path__):
        router = getattr(importlib.import_module(f"api.routes.{module.name}"), "router", None)
        for route in getattr(router, "routes", []):
            if isinstance(route, APIRoute):
                yield route


def _runs_on_the_loop(call: Any) -> bool:
    # Security schemes (HTTPBearer, APIKeyCookie) are instances with an async __call__.
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004  (the method itself is inspected)
    )


def _sync_dependencies(dependant: Dependant) -> Iterator[str]:
    for dependency in dependant.dependencies:
        call = dependency.call
        if call is not None and not _runs_on_the_loop(call):
            yield f"{call.__module__}.{getattr(call, '__qualname__', call)}"
        yield from _sync_dependencies(dependency)


def test_every_route_dependency_is_async() -> None:
    routes = list(_routes())
    assert len(routes) > 50  # every router was found
    found = sorted({name for route in routes for name in _sync_dependencies(route.dependant)})
    assert not found, f"plain `def` dependencies (each a worker-thread hop per request): {found}"
