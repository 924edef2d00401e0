"""Characters refused in names, notes and other free text: they hide or reorder what is shown.

Control characters (C0, DEL, C1) and NUL break exports and logs; bidirectional overrides and
isolates (U+202A to U+202E, U+2066 to U+2069) make a name or note display in another order
than it is stored ("Trojan Source"); zero-width characters (U+200B to U+200F, U+FEFF) make two
names that look the same differ, defeating duplicate checks and searches. None belongs in a
name or note.
"""

from __future__ import annotations

import re
from typing import Any

_REFUSED = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]",
)

FREE_TEXT_FIELDS = ("note", "reason", "grounds", "ground", "user", "org")
"""Action body fields that carry text a person typed."""


def refused_character(text: str) -> str | None:
    """Why `text` is refused (the first offending character), or None when it is clean."""
    found = _REFUSED.search(text)
    if found is None:
        return None
    return f"contains the control or invisible character U+{ord(found.group()):04X}"


def check_text(value: str) -> str:
    """A pydantic validator: `value` unchanged, or a `ValueError` naming the character."""
    reason = refused_character(value)
    if reason is not None:
        raise ValueError(reason)
    return value


def refused_field(body: dict[str, Any]) -> tuple[str, str] | None:
    """The first free-text field of an action body that is refused, and why."""
    for name in FREE_TEXT_FIELDS:
        value = body.get(name)
        if isinstance(value, str) and (reason := refused_character(value)) is not None:
            return name, reason
    return None
