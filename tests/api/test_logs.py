"""Logs are JSON lines with request ids, and carry no personal data."""

from __future__ import annotations

import json
import logging

import pytest
from pythonjsonlogger.json import JsonFormatter

from core.logs import _RequestIdFilter
from db.users import Role
from tests.api.helpers import Api, person


async def test_request_logs_are_json_with_ids_and_no_personal_data(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api.user("cw", Role.CASEWORKER)
    caplog.set_level(logging.DEBUG)
    body = {
        "jurisdiction": "rs",
        "person": person(given_name="Leyla-Lognames", family_name="Osmanova-Lognames"),
        "identified_on": "2026-01-05",
    }
    created = await api.http.post(
        "/cases", json=body, headers={**api.auth("cw"), "X-Request-Id": "req-123"}
    )
    assert created.status_code == 201
    assert created.headers["x-request-id"] == "req-123"
    cid = created.json()["id"]
    bad = await api.http.post(
        f"/cases/{cid}/actions/decide",
        json={"on": "2026-01-06", "outcome": "rejected"},
        headers=api.auth("cw"),
    )
    assert bad.status_code == 409
    formatter = JsonFormatter("{levelname}{name}{message}{request_id}", style="{")
    lines = []
    for record in caplog.records:
        _RequestIdFilter().filter(record)
        lines.append(formatter.format(record))
    parsed = [json.loads(line) for line in lines]
    requests = [p for p in parsed if p.get("message") == "request"]
    first = next(p for p in requests if p["request_id"] == "req-123")
    assert first["route"] == "/cases"
    assert first["status"] == 201
    assert first["user"] == "cw"
    conflict = next(p for p in requests if p["status"] == 409)
    assert conflict["case_id"] == cid
    assert conflict["route"] == "/cases/{case_id}/actions/{action}"
    everything = "\n".join(lines)
    for secret in ("Leyla-Lognames", "Osmanova-Lognames", "1991-04-17"):
        assert secret not in everything


async def test_unsafe_request_id_is_replaced(api: Api) -> None:
    response = await api.http.get("/health/live", headers={"X-Request-Id": "a b\nc"})
    assert response.headers["x-request-id"] != "a b\nc"
    assert len(response.headers["x-request-id"]) == 32
