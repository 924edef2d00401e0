"""The one cursor codec of every paged list: opaque to clients, the keyset position to us."""

from __future__ import annotations

import base64


class InvalidCursor(ValueError):
    """A cursor this API did not hand out (the API answers 422 naming `cursor`)."""

    def __init__(self) -> None:
        super().__init__("not a cursor this API returned")


def encode_cursor(*parts: str) -> str:
    """An opaque cursor after the row whose sort key is `parts`."""
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode()


def decode_cursor(cursor: str, parts: int = 1) -> list[str]:
    """The `parts` values a cursor of `encode_cursor` holds.

    Raises:
        InvalidCursor: when `cursor` is not one `encode_cursor` made with `parts` values.
    """
    try:
        # validate=True: characters outside the alphabet are an error, not silently dropped.
        value = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor from None
    values = value.split("|", parts - 1)
    if len(values) != parts or not all(values):
        raise InvalidCursor
    return values
