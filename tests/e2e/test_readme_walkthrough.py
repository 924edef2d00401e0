"""A fresh clone: `make run` on other ports prints the tokens, and the README walkthrough works.

The test clones this repository's HEAD (`git clone`: only committed files, as a new user gets
them) into a temp directory and runs `make run` there, with free ports for `API_PORT`,
`TEMPORAL_PORT` and `TEMPORAL_UI_PORT`, the default data dir (`./.data` of the clone) and the
demo seeding on (`ASYLUMFLOW_DEMO_CASES` cases: the default 300 take about three minutes on a
loaded two-core machine; the seeding path is the same). The clone uses this checkout's
virtualenv (a symlink: installing one per test would take minutes) with `PYTHONPATH` set to
the clone, so every process runs the clone's code; `make -o .venv/.installed` keeps `make` from
reinstalling the shared venv from the clone.

While the demo is seeded, the shell blocks of the README's "Five minutes with it" section are
taken from README.md and run as they are, in one bash with the same environment, from the
clone. Only two things are added around them: `curl` fails on an HTTP error and reports each
status on stderr (so the test sees every answer), and `less` is `cat` (there is no terminal).
Then the case the walkthrough made is read back, the tokens `make run` printed are used, and
SIGTERM stops the stack by the launcher's pid, with exit code 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import free_port, log_tail

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Five minutes with it"
DEMO_CASES = 60
TOKEN_ROLES = ("border_officer", "caseworker", "legal_aid", "admin", "supervisor")
WALKTHROUGH_ACTIONS = [
    "make_application",
    "register",
    "lodge",
    "schedule_interview",
    "record_interview",
]

HARNESS = """\
set -euo pipefail
# Every HTTP answer must be a success, and the test sees each status (stderr).
curl() {
  command curl --fail-with-body -w '%{stderr}HTTP %{http_code} %{method} %{url_effective}\\n' "$@"
}
less() { cat; }  # no terminal here
"""


def walkthrough_blocks(readme: str) -> list[str]:
    """The bash blocks of the README's walkthrough section, but `make run` (already running)."""
    start = readme.index(SECTION)
    end = readme.index("\n## ", start + len(SECTION))
    blocks = re.findall(r"```bash\n(.*?)```", readme[start:end], flags=re.DOTALL)
    return [b for b in blocks if not b.lstrip().startswith("make run")]


def _wait_for(log: Path, make: subprocess.Popen[bytes], pattern: str, timeout: float) -> str:
    """Wait until `pattern` (a regex) matches the output of `make run`; the output."""
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text(errors="replace")
        if re.search(pattern, text, flags=re.MULTILINE):
            return text
        if make.poll() is not None:
            pytest.fail(f"make run exited with {make.returncode}:\n{log_tail(log, 60)}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {pattern!r} within {timeout:.0f} s:\n{log_tail(log, 60)}")
        time.sleep(0.5)


def _stop(clone: Path, make: subprocess.Popen[bytes]) -> int:
    """SIGTERM the launcher by its pid; what is left of make's process group is killed."""
    stack = clone / ".data" / "stack.json"
    launcher = json.loads(stack.read_text()).get("launcher") if stack.exists() else None
    if launcher is not None and make.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(launcher, signal.SIGTERM)
    try:
        return make.wait(timeout=90)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGKILL)  # its own session: only what this test started
        make.wait(timeout=10)
        return -9


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_fresh_clone_make_run_and_readme_walkthrough(tmp_path: Path) -> None:
    started = time.monotonic()
    clone = tmp_path / "asylumflow"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    (clone / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    blocks = walkthrough_blocks((clone / "README.md").read_text())
    script = "\n".join(blocks)
    assert "$API" in script, "the walkthrough must use $API (from the settings)"
    assert "8000" not in script and "7233" not in script, "ports must come from the settings"

    api_port, temporal_port, ui_port = free_port(), free_port(), free_port()
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TEMPORAL_", "API_", "ASYLUMFLOW_", "DATABASE_URL"))
        },
        "API_PORT": str(api_port),
        "TEMPORAL_PORT": str(temporal_port),
        "TEMPORAL_UI_PORT": str(ui_port),
        "ASYLUMFLOW_DEMO_CASES": str(DEMO_CASES),
        "PYTHONPATH": str(clone),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "make-run.log"
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "-o", ".venv/.installed", "run"],
            cwd=clone,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for(log, make, r"^asylumflow is running", 150)
        up = time.monotonic() - started
        text = log.read_text()
        assert f"API          http://127.0.0.1:{api_port}" in text
        assert f"Temporal UI  http://127.0.0.1:{ui_port}" in text

        walked = subprocess.run(
            ["bash", "-c", HARNESS + script + '\necho "CASE=$CASE"\necho "CW=$CW"\n'],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert walked.returncode == 0, f"{walked.stdout[-3000:]}\n{walked.stderr[-3000:]}"
        answers = re.findall(r"^HTTP (\d{3}) (\w+) (\S+)$", walked.stderr, flags=re.MULTILINE)
        statuses = Counter(code for code, _, _ in answers)
        assert answers and all(code.startswith("2") for code, _, _ in answers), answers
        assert all(url.startswith(f"http://127.0.0.1:{api_port}/") for _, _, url in answers)
        assert len(answers) == 1 + len(WALKTHROUGH_ACTIONS) + 2  # intake, acts, case, history
        found = dict(re.findall(r"^(CASE|CW)=(\S+)$", walked.stdout, flags=re.MULTILINE))
        walked_at = time.monotonic() - started

        api = f"http://127.0.0.1:{api_port}"
        auth = {"Authorization": f"Bearer {found['CW']}"}
        case = httpx.get(f"{api}/cases/{found['CASE']}", headers=auth, timeout=30).json()
        assert case["stage"] == "interviewed", case["stage"]
        lodging = next(d for d in case["deadlines"] if d["clock"] == "lodging")
        assert lodging["status"] == "met", lodging  # as the README explains
        history = httpx.get(f"{api}/cases/{found['CASE']}/history", headers=auth, timeout=30)
        acts = [i["action"] for i in history.json()["items"] if not i["derived"]]
        assert [a for a in acts if a in WALKTHROUGH_ACTIONS] == WALKTHROUGH_ACTIONS, acts
        assert any(i["retracted"] for i in history.json()["items"])  # the lodging expiry

        # The tokens `make run` prints once the demo is seeded, one per role, each working.
        text = _wait_for(log, make, r"^supervisor: \S+$", 360)
        tokens = dict(re.findall(rf"^({'|'.join(TOKEN_ROLES)}): (\S+)$", text, flags=re.M))
        assert set(tokens) == set(TOKEN_ROLES), tokens
        seeded_at = time.monotonic() - started
        for role in ("caseworker", "supervisor"):
            listed = httpx.get(
                f"{api}/cases", headers={"Authorization": f"Bearer {tokens[role]}"}, timeout=30
            )
            assert listed.status_code == 200, (role, listed.text)
        assert "demo caseload ready" in text
        summary = re.search(r"^demo cases: (.*)$", text, flags=re.MULTILINE)
        assert summary, log_tail(log, 40)
        assert sum(int(n) for n in re.findall(r"(\d+) \w+", summary.group(1))) == DEMO_CASES
    finally:
        code = _stop(clone, make)
    assert code == 0, log_tail(log, 40)
    print(
        f"\nfresh clone: stack up after {up:.0f} s; README walkthrough "
        f"({dict(statuses)} answers) done after {walked_at:.0f} s; "
        f"tokens printed after {seeded_at:.0f} s; stopped with code {code}"
    )
