"""Structured (JSON) logs with request ids. Log lines carry ids and route templates only.

Never log a request body, a query string or a person: a log line may reach systems (log shipping,
support tickets) where personal data must not go.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr for every logger, with the current request id."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}{request_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Uvicorn's access log prints full URLs (query strings); our request log replaces it.
    logging.getLogger("uvicorn.access").disabled = True
