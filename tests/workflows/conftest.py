"""Workflow tests share one time-skipping server; each cleans up what it started."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.workflows.helpers import terminate_started


@pytest_asyncio.fixture(autouse=True)
async def _terminate_leftovers() -> AsyncIterator[None]:
    yield
    await terminate_started()
