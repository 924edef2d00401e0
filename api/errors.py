"""Errors that carry their HTTP status, and the handlers that render them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from db.cursor import InvalidCursor


class ApiError(Exception):
    """An error with an HTTP status and a JSON body."""

    status = 500

    def __init__(self, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.body: dict[str, Any] = {"detail": detail, **extra}
        self.headers = headers


class Unauthorized(ApiError):
    """No token, or a token that is unknown or revoked."""

    status = 401

    def __init__(self, detail: str = "a valid bearer token is required") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    """The user's role does not allow this."""

    status = 403


class NotFound(ApiError):
    """No such thing (or one the user must not learn about)."""

    status = 404


class Conflict(ApiError):
    """The case's stage does not allow the action (body names the stage and allowed actions)."""

    status = 409


class Unprocessable(ApiError):
    """A field is wrong; the body names it the way FastAPI's own validation does."""

    status = 422

    def __init__(self, field: str, detail: str) -> None:
        loc = ["body", *field.split(".")] if field not in ("body",) else ["body"]
        super().__init__(
            f"{field}: {detail}",
            field=field,
            errors=[{"loc": loc, "msg": detail, "type": "value_error"}],
        )


def bad_cursor(exc: InvalidCursor) -> Unprocessable:
    """The 422 for a cursor this API did not hand out."""
    return Unprocessable("cursor", str(exc))


class Unavailable(ApiError):
    """A dependency (Temporal, the database) is not answering; nothing was changed."""

    status = 503


ERROR_422_SCHEMA: dict[str, Any] = {
    "title": "ValidationError",
    "type": "object",
    "description": "A field is wrong: `field` names it (dotted path), `errors` lists them all.",
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        "field": {"type": "string", "title": "Field"},
        "errors": {
            "type": "array",
            "title": "Errors",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "required": ["detail", "field"],
}


def document_errors(app: FastAPI) -> None:
    """Make the OpenAPI schema describe the 422 bodies this API really sends.

    FastAPI documents every 422 as its own `HTTPValidationError` (`detail` as a list), while the
    contract (shared/api.md) and the handlers below answer `{"detail": str, "field", "errors"}`.
    """
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["HTTPValidationError"] = ERROR_422_SCHEMA
            components.pop("ValidationError", None)
            document_bodies(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_bodies(schema: dict[str, Any]) -> None:
    """Document the request bodies that routes name by `BODY_MODEL` with that component."""
    from api.schemas import BODY_MODEL, openapi_components

    components = schema["components"]["schemas"]
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            model = operation.pop(BODY_MODEL, None)
            if model is None:
                continue
            components.update(openapi_components())
            content = operation["requestBody"]["content"]["application/json"]
            content["schema"] = {"$ref": f"#/components/schemas/{model}"}


def error_field(loc: Sequence[str | int]) -> str:
    """The dotted field a validation error's location names (`body` for the body itself).

    The one mapping from a pydantic error to the `field` of a 422, for FastAPI's request
    validation (whose locations start with `body`, `query`... and drop it) and the API's own.
    """
    return ".".join(str(part) for part in loc) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Render ApiError and request validation errors consistently (and document them)."""
    document_errors(app)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(InvalidCursor)
    async def _bad_cursor(_: Request, exc: InvalidCursor) -> JSONResponse:
        error = bad_cursor(exc)
        return JSONResponse(error.body, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        first = errors[0]["loc"] if errors else []
        if errors and errors[0]["type"] == "json_invalid":
            # The body is not JSON at all: no field to name but the body itself.
            field = "body"
        else:
            field = (
                error_field(first[1:]) if len(first) > 1 else (str(first[0]) if first else "body")
            )
        return JSONResponse(
            {
                "detail": f"{field}: {errors[0]['msg']}" if errors else "invalid request",
                "field": field,
                "errors": errors,
            },
            status_code=422,
        )
