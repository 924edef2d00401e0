"""What `asylumflow import` stores before it opens a case: as `POST /cases` does, for many rows.

`api.routes.cases._remember` stores one creation's idempotency key, person, reference and
projection intent in a transaction of its own (about eight statements and a commit). The import
stores a group of checked rows the same way in one transaction, one multi-row statement per
table: on a 2-core machine the importer's CPU is taken from the Temporal server and the worker.
What ends up stored is what `_remember` stores row by row; the references of a group are
consecutive numbers of their family and year.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from api.routes.cases import body_hash, case_id_for, person_record
from db.engine import upsert_into
from db.imports import import_key
from db.references import format_reference
from db.tables import (
    CaseReferenceRecord,
    IdempotencyRecord,
    PersonRecord,
    ProjectionIntentRecord,
    ReferenceCounterRecord,
)
from tools.import_rows import PreparedRow, RowError

_KEYS = SQLModel.metadata.tables[IdempotencyRecord.__tablename__]
_PERSONS = SQLModel.metadata.tables[PersonRecord.__tablename__]
_COUNTERS = SQLModel.metadata.tables[ReferenceCounterRecord.__tablename__]
_REFERENCES = SQLModel.metadata.tables[CaseReferenceRecord.__tablename__]
_INTENTS = SQLModel.metadata.tables[ProjectionIntentRecord.__tablename__]

REUSED_KEY = "imported before with another case body"
"""Why a row whose `external_id` was imported with another body is refused."""


@dataclass(frozen=True)
class Stored:
    """What was stored for a row: its case id, projection intent and reference."""

    case_id: str
    intent_id: int | None
    """None for a row stored by an earlier run (its intent was written or repaired since)."""
    reference: str | None


def store_group(
    engine: Engine, deployment: str, actor: str, rows: Sequence[PreparedRow]
) -> list[Stored | RowError]:
    """Store the rows' keys, persons, references and intents in one transaction; per row, what.

    A row stored before (same key, same body) gets its case back; one whose key was used with
    another body gets a `RowError`. Rows are of distinct `external_id`s.

    Raises:
        sqlalchemy.exc.IntegrityError: another import stored one of the keys meanwhile; nothing
            of the group is stored (store the rows one by one: `_remember` answers such races).
    """
    keys = [import_key(r.external_id) for r in rows]
    digests = [body_hash(r.body) for r in rows]
    out: list[Stored | RowError | None] = [None] * len(rows)
    with Session(engine) as session:
        earlier = {
            k: (case_id, digest)
            for k, case_id, digest in session.execute(
                sa.select(_KEYS.c.key, _KEYS.c.case_id, _KEYS.c.body_hash).where(
                    _KEYS.c.user_name == actor, _KEYS.c.key.in_(keys)
                )
            )
        }
        known = [earlier[k][0] for k in keys if k in earlier]
        references = dict(
            session.execute(
                sa.select(_REFERENCES.c.case_id, _REFERENCES.c.reference).where(
                    _REFERENCES.c.case_id.in_(known)
                )
            ).all()
        )
        new: list[int] = []
        for i, key in enumerate(keys):
            if key not in earlier:
                new.append(i)
            elif earlier[key][1] != digests[i]:
                out[i] = RowError("external_id", REUSED_KEY)
            else:
                case_id = earlier[key][0]
                out[i] = Stored(case_id, None, references.get(case_id))
        if new:
            for i, stored in zip(
                new, _store_new(session, deployment, actor, rows, new), strict=True
            ):
                out[i] = stored
            session.commit()
    return [o for o in out if o is not None]


def _store_new(
    session: Session, deployment: str, actor: str, rows: Sequence[PreparedRow], new: list[int]
) -> list[Stored]:
    case_ids = [case_id_for(deployment, actor, import_key(rows[i].external_id)) for i in new]
    persons = [person_record(c, rows[i].body, actor) for c, i in zip(case_ids, new, strict=True)]
    session.execute(
        sa.insert(_KEYS),
        [
            {
                "user_name": actor,
                "key": import_key(rows[i].external_id),
                "body_hash": body_hash(rows[i].body),
                "case_id": c,
                "created_at": p.created_at,
            }
            for c, i, p in zip(case_ids, new, persons, strict=True)
        ],
    )
    session.execute(sa.insert(_PERSONS), [p.model_dump() for p in persons])
    # Numbers as `db.references.assign_reference` takes them, a run of them per family and year.
    wanted: dict[tuple[str, int], list[int]] = defaultdict(list)
    for n, i in enumerate(new):
        body = rows[i].body
        wanted[(body.jurisdiction, body.identified_on.year)].append(n)
    reference = [""] * len(new)
    dialect = session.get_bind().dialect.name
    for (family, year), which in sorted(wanted.items()):
        session.execute(
            upsert_into(dialect, _COUNTERS)
            .values(family=family, year=year, last=0)
            .on_conflict_do_nothing(index_elements=["family", "year"])
        )
        where = (_COUNTERS.c.family == family) & (_COUNTERS.c.year == year)
        session.execute(
            sa.update(_COUNTERS).where(where).values(last=_COUNTERS.c.last + len(which))
        )
        last = int(session.execute(sa.select(_COUNTERS.c.last).where(where)).scalar_one())
        for offset, n in enumerate(which):
            reference[n] = format_reference(family, year, last - len(which) + 1 + offset)
    session.execute(
        sa.insert(_REFERENCES),
        [{"case_id": c, "reference": r} for c, r in zip(case_ids, reference, strict=True)],
    )
    intents = session.execute(
        sa.insert(_INTENTS).returning(_INTENTS.c.id, sort_by_parameter_order=True),
        [
            {"case_id": c, "created_at": p.created_at}
            for c, p in zip(case_ids, persons, strict=True)
        ],
    )
    ids = [int(i) for i in intents.scalars()]
    return [Stored(c, i, r) for c, i, r in zip(case_ids, ids, reference, strict=True)]
