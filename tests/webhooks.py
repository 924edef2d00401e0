"""A real HTTP webhook receiver on 127.0.0.1 for reminder tests (stdlib server in a thread)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Received:
    """One POST the receiver got, with the status it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        """The body parsed."""
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        """Whether the signature header is the HMAC-SHA256 of the exact body with `secret`."""
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get("x-asylumflow-signature", ""), expected)


class WebhookReceiver:
    """Accepts POSTs on a free port; the first `fail_first` get a 500 (to exercise retries)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.requests: list[Received] = []
        self._fail_left = fail_first
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    status = 500 if receiver._fail_left > 0 else 200
                    receiver._fail_left -= 1 if status == 500 else 0
                    receiver.requests.append(
                        Received(
                            path=self.path,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body,
                            status=status,
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep test output quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL (a free port chosen by the OS)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def accepted(self) -> list[Received]:
        """The POSTs answered 200."""
        with self._lock:
            return [r for r in self.requests if r.status == 200]

    async def wait_accepted(self, n: int, timeout: float = 20) -> list[Received]:
        """Wait until `n` POSTs were accepted (deliveries run in activities, asynchronously)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if len(self.accepted) >= n:
                return self.accepted
            await asyncio.sleep(0.05)
        raise AssertionError(f"only {len(self.accepted)} of {n} reminders arrived: {self.requests}")

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
