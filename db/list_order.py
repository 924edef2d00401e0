"""The sort orders of the supervision lists (`?sort=`) and their keyset cursors.

Every order ends with the list's `since` column and the case id, so it is total and a keyset
cursor on it never skips or repeats a case. `since` (the default) keeps the lists' original
cursors (db/supervision.py); the others carry their name, so a cursor of one order is refused
(422) by another.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, func, tuple_
from sqlmodel import col

from db.cursor import InvalidCursor, decode_cursor, encode_cursor
from db.tables import CaseRecord

SORTS = ("since", "due", "stage")
"""`since`: oldest condition first; `due`: the case's next deadline first (cases without one
last); `stage`: by stage name; ties in each by `since`, then case id."""

NO_DEADLINE = date(9999, 12, 31)
"""Where a case without a running deadline sorts under `due`: after every real date."""


def keys(sort: str, since: Any) -> list[Any]:
    """The ORDER BY of `sort` on a list whose condition began on column `since`."""
    case_id = col(CaseRecord.id)
    if sort == "stage":
        return [col(CaseRecord.stage), since, case_id]
    if sort == "due":
        due = func.coalesce(col(CaseRecord.next_deadline_due), sa.literal(NO_DEADLINE, sa.Date))
        return [due, since, case_id]
    return [since, case_id]


def cursor_after(sort: str, row: CaseRecord, since_key: str) -> str:
    """A cursor after `row` in the order `sort` (not `since`)."""
    since: date = getattr(row, since_key)
    first = row.stage if sort == "stage" else (row.next_deadline_due or NO_DEADLINE).isoformat()
    return encode_cursor(sort, first, since.isoformat(), row.id)


def after(sort: str, cursor: str, order: list[Any]) -> ColumnElement[bool]:
    """The rows after `cursor` in the order `sort` (`order` is `keys(sort, since)`).

    Raises:
        InvalidCursor: a cursor this order did not hand out.
    """
    name, first, since, case_id = decode_cursor(cursor, 4)
    if name != sort:
        raise InvalidCursor
    try:
        start: Any = first if sort == "stage" else date.fromisoformat(first)
        values = (start, date.fromisoformat(since), case_id)
    except ValueError:
        raise InvalidCursor from None
    # A row-value comparison: one index range on both engines.
    return tuple_(*order) > tuple_(*values)
