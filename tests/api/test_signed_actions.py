"""Issue 21 finding 2: encrypted histories, and acts that reach a case only through the API.

Over HTTP against a real worker: the API signs each action, a Temporal client that does not
is refused with nothing in the history, every payload of the history is encrypted, and no
special-category data is among the search attributes.
"""

from __future__ import annotations

import base64
import os
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.codec import ENCODING, data_converter, new_key
from core.settings import Settings
from core.signed_actions import SigningInterceptor
from db.users import Role
from models.action_signing import register_key, sign_request
from models.enums import Action
from models.messages import ActionBatch, ActionRequest
from tests.api.helpers import Api, ago, person
from tools.stack import local_keys
from worker import build_worker
from workflows.case import CaseWorkflow, workflow_id

NOTE = "fled from the checkpoint at Qasr, brother detained"


@pytest_asyncio.fixture
async def secured(
    dev_env: WorkflowEnvironment, task_queue: str, engine: Engine, db_url: str
) -> AsyncIterator[tuple[Api, Client]]:
    """The app and a worker with an encryption key (and the action key derived from it).

    Also yields a "rogue" client: it holds the codec key (it can read and write payloads, as
    anyone with the namespace and the key could) but does not sign actions.
    """
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db_url,
        ASYLUMFLOW_TASK_QUEUE=task_queue,
        ASYLUMFLOW_SEARCH_ATTRIBUTES=True,
        ASYLUMFLOW_ENCRYPTION_KEY=SecretStr(new_key()),
    )
    key = settings.action_signing_key()
    assert key is not None
    converter = data_converter(settings.codec())
    base = dev_env.client
    rogue = Client(base.service_client, namespace=base.namespace, data_converter=converter)
    api_client = Client(
        base.service_client,
        namespace=base.namespace,
        data_converter=converter,
        interceptors=[SigningInterceptor(key)],
    )
    app = create_app(settings)
    app.state.settings, app.state.engine, app.state.temporal = settings, engine, api_client
    try:
        async with (
            build_worker(rogue, task_queue, engine, private_webhooks=True, action_key=key),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test"
            ) as http,
        ):
            yield Api(http=http, engine=engine, env=dev_env, task_queue=task_queue, app=app), rogue
    finally:
        register_key(task_queue, None)


SDK_PLAINTEXT = ("searchAttributes", "markerRecordedEventAttributes")
"""Not payload data: search attribute values and the SDK's patch markers (a patch's name)."""


def payloads(node: Any, *, sdk: bool = True) -> list[dict[str, Any]]:
    """Every payload (`{"metadata": {"encoding": …}, "data": …}`) in a history's JSON.

    With `sdk=False`, those under `SDK_PLAINTEXT` are left out.
    """
    found = []
    if isinstance(node, dict):
        if "encoding" in node.get("metadata", {}):
            found.append(node)
        for name, value in node.items():
            if sdk or name not in SDK_PLAINTEXT:
                found += payloads(value, sdk=sdk)
    elif isinstance(node, list):
        for value in node:
            found += payloads(value, sdk=sdk)
    return found


async def test_unsigned_acts_are_refused_and_histories_are_encrypted(
    secured: tuple[Api, Client], dev_env: WorkflowEnvironment
) -> None:
    api, rogue = secured
    api.user("cw", Role.CASEWORKER)
    body = {
        "jurisdiction": "rs",
        "person": person(),
        "identified_on": ago(10),
        "identified_at": "border",
        "vulnerabilities": ["child"],
    }
    created = await api.http.post("/cases", json=body, headers=api.auth("cw"))
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    made = await api.http.post(
        f"/cases/{case_id}/actions/make_application",
        json={"on": ago(9), "note": NOTE},
        headers=api.auth("cw"),
    )
    assert made.status_code == 200, made.text
    batch = await api.http.post(
        f"/cases/{case_id}/actions",
        json={"actions": [{"action": "register", "on": ago(8)}]},
        headers=api.auth("cw"),
    )
    assert batch.status_code == 200, batch.text

    # Straight to Temporal, bypassing the API: unsigned, forged, or signed for another case.
    handle = rogue.get_workflow_handle(workflow_id(case_id))
    lodge = ActionRequest(action=Action.LODGE, body={"on": ago(7)}, actor="cw")
    key = api.app.state.settings.action_signing_key()
    now = int(time.time())
    forged = [
        lodge,
        lodge.model_copy(update={"signature": f"v1.{now}.{'0' * 64}"}),
        lodge.model_copy(
            update={"signature": sign_request(key, workflow_id("another"), lodge, now)}
        ),
        lodge.model_copy(
            update={"signature": sign_request(key, workflow_id(case_id), lodge, now - 3600)}
        ),
        # Signed for another actor's name: the name is part of what is signed.
        lodge.model_copy(
            update={
                "actor": "sup",
                "signature": sign_request(key, workflow_id(case_id), lodge, now),
            }
        ),
    ]
    for request in forged:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(CaseWorkflow.act, request)
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == "Unsigned", refused.value.cause
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(CaseWorkflow.act_batch, ActionBatch(actions=[lodge]))

    # Nothing of them reached the case: the acts are the API's, all in the audit log.
    history = (await api.http.get(f"/cases/{case_id}/history", headers=api.auth("cw"))).json()
    acts = [e["action"] for e in history["items"] if e["actor"] != "system"]
    assert "lodge" not in acts and acts[-2:] == ["make_application", "register"]
    raw = await dev_env.client.get_workflow_handle(workflow_id(case_id)).fetch_history()
    accepted = [
        e for e in raw.events if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert len(accepted) == 3  # the API's create (update-with-start) and its two acts

    # Every payload in the history is encrypted: no note, no name in the clear.
    history_json = raw.to_json_dict()
    for payload in payloads(history_json, sdk=False):
        assert base64.b64decode(payload["metadata"]["encoding"]) == ENCODING, payload
    for payload in payloads(history_json):
        data = base64.b64decode(payload.get("data", ""))
        assert NOTE.encode() not in data and b"Qarawi" not in data and b"Zainab" not in data

    # No special-category data among the search attributes (the read model keeps it).
    described = await rogue.get_workflow_handle(workflow_id(case_id)).describe()
    names = {pair.key.name for pair in described.typed_search_attributes}
    assert "CaseStage" in names and "Vulnerable" not in names


def test_make_run_keys_are_made_once_and_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("ASYLUMFLOW_ENCRYPTION_KEY", "ASYLUMFLOW_ACTION_KEY"):
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(f"{variable}_FILE", raising=False)
    before = os.umask(0o022)
    try:
        env = local_keys(tmp_path)
    finally:
        os.umask(before)
    codec_file = Path(env["ASYLUMFLOW_ENCRYPTION_KEY_FILE"])
    action_file = Path(env["ASYLUMFLOW_ACTION_KEY_FILE"])
    for path in (codec_file, action_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert codec_file.read_text() != action_file.read_text()
    assert local_keys(tmp_path) == env  # the next start reuses them
    assert codec_file.read_text() == Path(env["ASYLUMFLOW_ENCRYPTION_KEY_FILE"]).read_text()
    settings = Settings(_env_file=None, **env)  # type: ignore[arg-type]
    assert settings.codec() is not None
    assert settings.action_signing_key() == base64.b64decode(action_file.read_text())
