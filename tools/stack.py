"""`make run`: a persistent local Temporal dev server, the worker and the API, stopped together.

Reads API_PORT, TEMPORAL_PORT, TEMPORAL_UI_PORT, ASYLUMFLOW_DATA_DIR and ASYLUMFLOW_DEMO (seed
the demo caseload on the first start unless `0`) from the environment.
Cases survive a restart: the Temporal server keeps its state in a SQLite file under the data
directory, and the read model lives beside it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from core.codec import new_key
from core.private_files import restrict_tree, write_private
from workflows.search import cli_flags

BIN = Path(sys.executable).parent


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with code {proc.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not open port {port} within {timeout:.0f} s")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def main() -> None:
    """Start everything, print the URLs, and stop everything on Ctrl-C or SIGTERM."""
    api_port = int(os.environ.get("API_PORT", "8000"))
    temporal_port = int(os.environ.get("TEMPORAL_PORT", "7233"))
    ui_port = int(os.environ.get("TEMPORAL_UI_PORT", "8233"))
    data_dir = Path(os.environ.get("ASYLUMFLOW_DATA_DIR", "./.data")).resolve()
    # Everything this stack and its children create (the read model, Temporal's database,
    # keys) is the owner's alone; files from before this rule are tightened too.
    os.umask(0o077)
    restrict_tree(data_dir)
    for port, name in (
        (api_port, "API_PORT"),
        (temporal_port, "TEMPORAL_PORT"),
        (ui_port, "TEMPORAL_UI_PORT"),
    ):
        if not _port_free(port):
            raise SystemExit(f"port {port} ({name}) is in use; set {name} to another port")

    env = {
        **os.environ,
        **local_keys(data_dir),
        "ASYLUMFLOW_DATA_DIR": str(data_dir),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "API_PORT": str(api_port),
    }
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\nstopping…", flush=True)
        for _name, proc in reversed(children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in reversed(children):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in time; killing it", flush=True)
                proc.kill()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop()
        raise SystemExit(0)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        server = subprocess.Popen(
            [
                str(BIN / "temporal"),
                "server",
                "start-dev",
                "--db-filename",
                str(data_dir / "temporal.db"),
                "--ip",
                "127.0.0.1",
                "--port",
                str(temporal_port),
                "--ui-port",
                str(ui_port),
                "--log-level",
                "warn",
                *cli_flags(),
            ],
            env=env,
        )
        children.append(("temporal", server))
        _wait_for_port(temporal_port, server, "the Temporal server", 60)
        from db.engine import migrate

        migrate(_db_url(env))
        worker = subprocess.Popen([str(BIN / "asylumflow"), "worker"], env=env)
        children.append(("worker", worker))
        # The nightly reconciliation of the read model with the workflows.
        subprocess.run([str(BIN / "asylumflow"), "schedules", "apply"], env=env, check=True)
        api = subprocess.Popen([str(BIN / "asylumflow"), "api"], env=env)
        children.append(("api", api))
        _wait_for_port(api_port, api, "the API", 60)
        if os.environ.get("ASYLUMFLOW_DEMO", "1") != "0":
            _seed_demo(env, data_dir)
        print(
            "\nasylumflow is running\n"
            f"  API          http://127.0.0.1:{api_port}   (docs: /docs, health: /health/ready)\n"
            f"  Temporal UI  http://127.0.0.1:{ui_port}\n"
            f"  Temporal     127.0.0.1:{temporal_port}\n"
            f"  data         {data_dir}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while True:
            for name, proc in children:
                if proc.poll() is not None:
                    raise SystemExit(f"{name} exited with code {proc.returncode}")
            time.sleep(1)
    finally:
        stop()


CODEC_KEY_FILE = "codec.key"
ACTION_KEY_FILE = "action.key"


def local_keys(data_dir: Path) -> dict[str, str]:
    """Encryption by default: the payload and action-signing keys, made on the first start.

    Both live in the data directory (0600) beside each other and reach the worker and the API
    as `ASYLUMFLOW_ENCRYPTION_KEY_FILE` / `ASYLUMFLOW_ACTION_KEY_FILE`. A key set in the
    environment wins (nothing is created for it). Histories written before the key existed stay
    readable: the codec passes unencrypted payloads through.
    """
    env: dict[str, str] = {}
    for name, variable in (
        (CODEC_KEY_FILE, "ASYLUMFLOW_ENCRYPTION_KEY"),
        (ACTION_KEY_FILE, "ASYLUMFLOW_ACTION_KEY"),
    ):
        if os.environ.get(variable) or os.environ.get(f"{variable}_FILE"):
            continue
        path = data_dir / name
        if not path.exists():
            write_private(path, new_key() + "\n")
        env[f"{variable}_FILE"] = str(path)
    return env


def _seed_demo(env: dict[str, str], data_dir: Path) -> None:
    """Seed the demo caseload on the first start and print a token per role.

    The marker file only saves later starts the round trip: `asylumflow demo` itself does
    nothing when the demo data exists. A failed seeding is reported, not fatal: the stack is
    still usable without it.
    """
    marker = data_dir / "demo-seeded"
    if marker.exists():
        return
    print("seeding the demo caseload (ASYLUMFLOW_DEMO=0 skips this)…", flush=True)
    done = subprocess.run(
        [str(BIN / "asylumflow"), "demo"], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(f"demo seeding failed: {done.stderr.strip()}", flush=True)
        return
    marker.touch()
    if done.stdout.strip():
        print("demo users (bearer tokens, shown only this once):", flush=True)
        print(done.stdout.rstrip(), flush=True)
    else:
        print(done.stderr.strip(), flush=True)


def _db_url(env: dict[str, str]) -> str:
    if env.get("DATABASE_URL"):
        return env["DATABASE_URL"]
    return f"sqlite:///{Path(env['ASYLUMFLOW_DATA_DIR']) / 'asylumflow.db'}"


if __name__ == "__main__":
    main()
