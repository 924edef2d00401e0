"""Payload encryption: histories hold ciphertext only; rotated keys still decrypt."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.codec import CodecError, EncryptionCodec, data_converter, make_codec, new_key, parse_key
from tests.workflows.helpers import act, local_today, rejected, start_case
from worker import build_worker
from workflows.case import CaseWorkflow

NOTE = "Applicant said her brother Yusuf-Secretname lives in Novi Sad"


def _client_with(env: WorkflowEnvironment, codec: EncryptionCodec) -> Client:
    config = env.client.config()
    config["data_converter"] = data_converter(codec)
    return Client(**config)


async def test_history_holds_no_plaintext(
    time_env: WorkflowEnvironment, task_queue: str, case_id: str, sqlite_engine: Engine
) -> None:
    codec = make_codec("k1", new_key())
    client = _client_with(time_env, codec)
    async with build_worker(client, task_queue, sqlite_engine):
        day = local_today(await time_env.get_current_time()) - timedelta(days=3)
        handle = await start_case(client, task_queue, case_id, identified_on=day)
        await act(handle, "make_application", day, note=NOTE)
        failure = await rejected(handle, "decide", day, outcome="rejected", note=NOTE)
        assert failure["stage"] == "application_made"
        # Through the codec, the authorised client reads the note back.
        history = await handle.query(CaseWorkflow.history)
        assert history[-1]["note"] == NOTE
        raw = b"".join(e.SerializeToString() for e in (await handle.fetch_history()).events)
    # The server (and its database) only ever saw ciphertext.
    plain = time_env.client.get_workflow_handle(handle.id)
    raw_without_codec = b"".join(
        e.SerializeToString() for e in (await plain.fetch_history()).events
    )
    for blob in (raw, raw_without_codec):
        assert b"Yusuf-Secretname" not in blob
        assert b"binary/encrypted-aes-gcm" in blob


async def test_rotation_old_keys_still_decrypt() -> None:
    old, new = new_key(), new_key()
    before = make_codec("2025", old)
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b'{"note": "x"}')
    sealed = await before.encode([payload])
    after = make_codec("2026", new, old=[f"2025:{old}"])
    assert (await after.decode(sealed))[0] == payload
    resealed = await after.encode([payload])
    assert resealed[0].metadata["encryption-key-id"] == b"2026"
    with pytest.raises(CodecError, match="unknown key id"):
        await before.decode(resealed)


async def test_tampering_is_detected() -> None:
    codec = make_codec("k", new_key())
    sealed = (await codec.encode([Payload(data=b"abc")]))[0]
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(CodecError, match="authentication"):
        await codec.decode([sealed])


@pytest.mark.parametrize("bad", ["not base64!", "c2hvcnQ=", ""])
def test_bad_keys_are_refused(bad: str) -> None:
    with pytest.raises(CodecError):
        parse_key(bad)


async def test_same_payload_encrypts_differently() -> None:
    codec = make_codec("k", new_key())
    payload = Payload(data=uuid.uuid4().bytes)
    first, second = await codec.encode([payload, payload])
    assert first.data != second.data  # a fresh nonce each time
