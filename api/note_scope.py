"""Whose notes a legal aid user may read: its own organisation's, and no one else's.

A note carries its author's organisation: the organisation of the user who recorded the act
(`users.org`, which never changes; staff and the engine belong to none). A legal aid user reads
the notes of its own organisation's members only. When a case moves to another organisation,
the new one sees the case's acts and dates but not what the previous organisation's lawyers
wrote about their client (nor the authority's internal notes); staff read every note. The
engine's own notes (actor `system`, e.g. "presumption of abandonment lifted") are generated
text, not anyone's words: every reader sees them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from db.tables import UserRecord
from db.users import Role

ENGINE_ACTOR = "system"
"""The actor of what the engine concluded; its notes are generated text every reader sees."""


def note_orgs(engine: Engine, authors: Iterable[str]) -> dict[str, str | None]:
    """Each author's organisation (None for staff, the engine and unknown names)."""
    names = sorted(set(authors))
    if not names:
        return {}
    with Session(engine) as session:
        rows = session.exec(
            select(UserRecord.name, UserRecord.org).where(col(UserRecord.name).in_(names))
        ).all()
    found = dict(rows)
    return {name: found.get(name) for name in names}


def readable_notes(
    engine: Engine, user: UserRecord, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """`events`, each with its note's `note_org`; notes `user` may not read become None."""
    authors = note_orgs(engine, (str(e.get("actor")) for e in events if e.get("note")))
    limited = user.role == Role.LEGAL_AID.value
    # A monitor reads the acts and dates the person consented to, not what anyone wrote.
    monitor = user.role == Role.MONITOR.value
    shown = []
    for event in events:
        org = authors.get(str(event.get("actor"))) if event.get("note") else None
        event = {**event, "note_org": org}
        engine_note = event.get("actor") == ENGINE_ACTOR  # generated text, no one's words
        if monitor and event.get("note") and not engine_note:
            event["note"] = None
        if limited and event.get("note") and not engine_note and org != user.org:
            event["note"] = None
        shown.append(event)
    return shown
