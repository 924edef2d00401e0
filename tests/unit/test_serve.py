"""`asylumflow api` serves the app it built, with what was built frozen out of the collector."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# In a process of its own: freezing is for the whole interpreter, and this one runs the suite.
_PROBE = """
import gc, json, uvicorn
seen = {}
def run(app, **options):
    seen.update(app=type(app).__name__, frozen=gc.get_freeze_count(), options=sorted(options))
uvicorn.run = run
from tools.cli import serve
serve("api.app:create_app")
print(json.dumps(seen))
"""


def test_serve_builds_the_app_then_freezes_what_it_built(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'readmodel.db'}",
        "API_HOST": "127.0.0.1",
        "API_PORT": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["app"] == "FastAPI"
    # The modules, the models' schemas and the routes: well over the interpreter's own.
    assert seen["frozen"] > 50_000
    assert seen["options"] == ["host", "http", "log_config", "loop", "port"]
