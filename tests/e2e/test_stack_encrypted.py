"""Issue 21 finding 2, as `make run` runs: the default stack encrypts every history payload.

Starts `python -m tools.stack` (what `make run` runs) on free ports with a fresh data directory,
opens a case with a note over HTTP, and reads the history back with `temporal workflow show`:
no payload but the SDK's own (search attributes, patch markers) is in the clear, and neither
the note nor the person's names appear anywhere. The stack is stopped by its own PID.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import free_port, log_tail
from tests.helpers import venv_binary

NOTE = "fled from the old town, uncle still in detention"
NAMES = ("Amina", "Haddad-Stacktest")
CLEAR_SDK = ("searchAttributes", "markerRecordedEventAttributes")


def _encodings(node: Any, path: tuple[str, ...] = ()) -> list[tuple[bytes, tuple[str, ...]]]:
    found = []
    if isinstance(node, dict):
        metadata = node.get("metadata")
        if isinstance(metadata, dict) and "encoding" in metadata:
            found.append((base64.b64decode(metadata["encoding"]), path))
        for key, value in node.items():
            found += _encodings(value, (*path, key))
    elif isinstance(node, list):
        for value in node:
            found += _encodings(value, path)
    return found


@pytest.mark.slow
def test_make_run_history_is_encrypted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    api_port, temporal_port, ui_port = free_port(), free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ASYLUMFLOW_")},
        "ASYLUMFLOW_DATA_DIR": str(data),
        "ASYLUMFLOW_DEMO": "0",
        "API_PORT": str(api_port),
        "TEMPORAL_PORT": str(temporal_port),
        "TEMPORAL_UI_PORT": str(ui_port),
    }
    env.pop("DATABASE_URL", None)
    log = tmp_path / "stack.log"
    with log.open("wb") as out:
        stack = subprocess.Popen(
            [sys.executable, "-m", "tools.stack"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        api = f"http://127.0.0.1:{api_port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert stack.poll() is None, log_tail(log)
            try:
                if httpx.get(f"{api}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError(f"the stack did not come up:\n{log_tail(log)}")
        for name in ("codec.key", "action.key", "asylumflow.db", "temporal.db"):
            assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name

        made = subprocess.run(
            [venv_binary("asylumflow"), "users", "create", "--name", "cw", "--role", "caseworker"],
            env={**env, "ASYLUMFLOW_DATA_DIR": str(data)},
            capture_output=True,
            text=True,
            check=True,
        )
        auth = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
        body = {
            "jurisdiction": "rs",
            "person": {
                "given_name": NAMES[0],
                "family_name": NAMES[1],
                "date_of_birth": "1994-03-02",
                "nationality": "SYR",
                "sex": "female",
            },
            "identified_on": "2026-11-20",
            "identified_at": "border",
            "vulnerabilities": ["child"],
        }
        created = httpx.post(f"{api}/cases", json=body, headers=auth, timeout=30)
        assert created.status_code == 201, created.text
        case_id = created.json()["id"]
        acted = httpx.post(
            f"{api}/cases/{case_id}/actions/make_application",
            json={"on": "2026-11-21", "note": NOTE},
            headers=auth,
            timeout=30,
        )
        assert acted.status_code == 200, acted.text

        shown = subprocess.run(
            [
                venv_binary("temporal"),
                *("workflow", "show", "-w", f"case-{case_id}", "-o", "json"),
                *("--address", f"127.0.0.1:{temporal_port}"),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        history = json.loads(shown.stdout)
        encodings = _encodings(history)
        assert any(e == b"binary/encrypted-aes-gcm" for e, _ in encodings)
        clear = [p for e, p in encodings if e != b"binary/encrypted-aes-gcm"]
        assert all(any(part in CLEAR_SDK for part in p) for p in clear), clear
        for text in (NOTE, *NAMES):
            assert text not in shown.stdout
            assert base64.b64encode(text.encode()).decode()[:16] not in shown.stdout
        assert '"Vulnerable"' not in shown.stdout
    finally:
        if stack.poll() is None:
            stack.send_signal(signal.SIGTERM)
            try:
                stack.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stack.kill()
                stack.wait(timeout=10)
