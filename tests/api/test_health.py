"""Readiness: 200 with the number of polling workers while the database and Temporal answer."""

from __future__ import annotations

import asyncio

from tests.api.helpers import Api


async def test_ready_counts_the_workers_polling(api: Api) -> None:
    async def polling() -> int:
        for _ in range(100):
            response = await api.http.get("/health/ready")
            assert response.status_code == 200, response.text
            count: int = response.json()["workers_polling"]
            if count:
                return count
            await asyncio.sleep(0.1)
        return 0

    assert await polling() == 1
    # No worker polls another task queue: still ready (the API itself is fine), with 0.
    settings = api.app.state.settings
    api.app.state.settings = settings.model_copy(update={"task_queue": "nobody-polls-this"})
    try:
        response = await api.http.get("/health/ready")
    finally:
        api.app.state.settings = settings
    assert response.status_code == 200
    assert response.json()["workers_polling"] == 0
    assert response.json()["checks"] == {"database": "ok", "temporal": "ok"}
