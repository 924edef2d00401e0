"""The front-door bench's orjson variant answers the bytes FastAPI's own path answers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from bench.front_door import OrjsonResponse


class Colour(StrEnum):
    RED = "red"
    GREEN = "green"


class Inner(BaseModel):
    on: date
    at: datetime
    colour: Colour
    tags: list[str]
    score: float | None = None


class Outer(BaseModel):
    id: str
    inner: Inner
    items: list[Inner]
    by_day: dict[int, str]
    extra: dict[str, Any] | None = None
    missing: str | None = None


WHEN = datetime(2026, 12, 4, 15, 30, 1, 123456, tzinfo=timezone(timedelta(hours=1)))
INNER = Inner(on=date(2026, 2, 28), at=WHEN, colour=Colour.GREEN, tags=["a", "ü", "😀"])
OUTER = Outer(
    id="c-1",
    inner=INNER,
    items=[
        INNER,
        Inner(
            on=date(2000, 1, 1),
            at=datetime(2000, 1, 1, tzinfo=UTC),
            colour=Colour.RED,
            tags=[],
            score=0.1,
        ),
    ],
    by_day={1: "one", 20: "twenty"},
    extra={"nested": {"list": [1, 2.5, None, True, "x"]}, "big": 2**53 + 1, "tiny": 1e-7},
)


def _app(response_class: type[OrjsonResponse] | None) -> FastAPI:
    app = FastAPI() if response_class is None else FastAPI(default_response_class=response_class)

    @app.get("/model", response_model=Outer, response_model_exclude_unset=True)
    async def model() -> dict[str, Any]:
        # As the case routes do: a dict validated by the response model, unset keys left out.
        return OUTER.model_dump(exclude_unset=True)

    @app.get("/typed")
    async def typed() -> Outer:
        return OUTER

    @app.get("/nan")
    async def nan() -> Inner:
        return INNER.model_copy(update={"score": float("nan")})

    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    """The app over ASGI, as the API tests reach theirs (Starlette's TestClient is deprecated)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize("path", ["/model", "/typed", "/nan"])
async def test_same_bytes_as_fastapis_own_path(path: str) -> None:
    async with _client(_app(None)) as default, _client(_app(OrjsonResponse)) as fast:
        expected, got = await default.get(path), await fast.get(path)
    assert got.status_code == expected.status_code == 200
    assert got.headers["content-type"] == expected.headers["content-type"]
    assert got.content == expected.content


async def test_round_trip_of_dates_enums_and_nested_models() -> None:
    async with _client(_app(OrjsonResponse)) as client:
        body = (await client.get("/typed")).json()
    assert body["inner"] == {
        "on": "2026-02-28",
        "at": "2026-12-04T15:30:01.123456+01:00",
        "colour": "green",
        "tags": ["a", "ü", "😀"],
        "score": None,
    }
    assert body["by_day"] == {"1": "one", "20": "twenty"}
    assert body["extra"] == {
        "nested": {"list": [1, 2.5, None, True, "x"]},
        "big": 2**53 + 1,
        "tiny": 1e-7,
    }
    assert Outer.model_validate(body) == OUTER
    assert body["items"][1]["at"] == "2000-01-01T00:00:00Z"


def test_render_writes_non_str_keys_and_no_nan() -> None:
    rendered = bytes(OrjsonResponse({1: [float("inf"), float("nan")], "é": date(2026, 1, 2)}).body)
    assert json.loads(rendered) == {"1": [None, None], "é": "2026-01-02"}
