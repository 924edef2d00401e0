"""The rows of `asylumflow import` (JSON Lines or CSV): read, then checked before anything is sent.

A row is one case: the body of `POST /cases`, the acts to record on it (each with its legal
date `on` and its action's fields) and an `external_id`, the key that makes an import
repeatable. `prepare` checks everything a row says the way the API and the workflow would:
the case body (`api.schemas.CaseCreate`), each act (known, one a supervisor may record, its
input model, its free text), and then the acts themselves through the same transition table
and legal record the workflow's update validator runs (a dry run on a new case). A row that
fails any of it is refused with the field and the reason, and nothing of it is stored.

CSV has one column per case field and per act field: `<action>_on` for the act's date and
`<action>_<field>` for its other fields (`decide_on`, `decide_outcome`,
`schedule_interview_interview_on`); a row records the acts whose columns it fills, ordered by
date, acts of the same day in lifecycle order. `csv_columns()` lists every column.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from api.casework import opening_input
from api.permissions import roles_for
from api.schemas import CaseCreate, PersonIn
from api.text_safety import refused_character, refused_field
from core.settings import Settings
from db.users import Role
from models.actions import input_model, parse_input
from models.enums import Action
from models.legal_record import ActRequest, record_all
from models.lifecycle import DomainError, InvalidInput, local_date, new_case
from models.messages import ActionBatch, ActionRequest, CaseInput
from models.rules import local_today

Format = Literal["jsonl", "csv"]

MAX_EXTERNAL_ID = 190
"""Room for the `import:` prefix in an idempotency key (200 characters)."""

IMPORTABLE: tuple[Action, ...] = tuple(a for a in Action if Role.SUPERVISOR in roles_for(a))
"""Acts an import may record: those staff may take (`migrate_rules` is the rules tool's)."""

CASE_COLUMNS = (
    "external_id",
    "jurisdiction",
    "identified_on",
    "identified_at",
    "legal_aid_org",
    "vulnerabilities",
)
PERSON_COLUMNS = tuple(PersonIn.model_fields)
LIST_SEPARATOR = ";"
"""Between the items of a list in one CSV cell (`vulnerabilities`, `pause_clock_clocks`)."""


def _act_columns() -> dict[str, tuple[Action, str]]:
    columns: dict[str, tuple[Action, str]] = {}
    for action in IMPORTABLE:
        for name in input_model(action).model_fields:
            column = f"{action.value}_{name}"
            # `decide_appeal_on` must not also read as `decide` + `appeal_on`: never ambiguous.
            assert column not in columns, column
            columns[column] = (action, name)
    return columns


ACT_COLUMNS = _act_columns()
"""Every act column of the CSV format: column → (action, field)."""


def csv_columns() -> list[str]:
    """Every column a CSV import may have, in the order the README lists them."""
    return [*CASE_COLUMNS, *PERSON_COLUMNS, *ACT_COLUMNS]


class FileError(ValueError):
    """The file cannot be imported at all (its format, its header): nothing was read."""


class RowError(ValueError):
    """One row is refused: the field (as the file names it) and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Rejection:
    """A refused row as the report lists it (no personal data: ids, field names, reasons)."""

    row: int
    """The line of the file the row starts on (a CSV's header is line 1)."""
    external_id: str | None
    field: str
    reason: str


@dataclass
class SourceRow:
    """One row as read from the file, before any check."""

    row: int
    external_id: Any
    case: Any
    actions: Any
    csv: bool = False
    """Fields are then named by their column."""

    def act_field(self, action: str, index: int, name: str) -> str:
        """How the file names field `name` of the act at `index` (as given in the file)."""
        return f"{action}_{name}" if self.csv else f"actions.{index}.{name}"

    def case_field(self, loc: tuple[int | str, ...]) -> str:
        """How the file names the case field at a validation error's location."""
        if self.csv:
            named = [str(p) for p in loc if isinstance(p, str) and p != "person"]
            return named[0] if named else "case"
        return ".".join(["case", *(str(p) for p in loc)])


@dataclass
class PreparedRow:
    """A row that passed every check: what `asylumflow import` sends for it."""

    row: int
    external_id: str
    body: CaseCreate
    acts: list[ActionRequest] = field(default_factory=list)

    def batch(self) -> ActionBatch | None:
        """The acts as the one batch the case opens with (None for a case with no act)."""
        return ActionBatch(actions=self.acts) if self.acts else None


def format_of(path: Path, given: str | None) -> Format:
    """The file's format: `--format`, else its extension (`.jsonl`/`.ndjson`, `.csv`)."""
    chosen = given or {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(
        path.suffix.lower()
    )
    if chosen not in ("jsonl", "csv"):
        raise FileError(f"{path.name}: say --format jsonl or csv (unknown extension)")
    return "jsonl" if chosen == "jsonl" else "csv"


def read_rows(path: Path, fmt: Format) -> Iterator[SourceRow | Rejection]:
    """The file's rows in order; a line that is not a row at all is a `Rejection` already."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        if fmt == "jsonl":
            yield from _jsonl_rows(fh)
        else:
            yield from _csv_rows(csv.DictReader(fh))


def _jsonl_rows(lines: Any) -> Iterator[SourceRow | Rejection]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            yield Rejection(number, None, "line", f"not JSON: {exc.args[0]}")
            continue
        if not isinstance(item, dict):
            yield Rejection(number, None, "line", "each line is one JSON object")
            continue
        unknown = sorted(set(item) - {"external_id", "case", "actions"})
        if unknown:
            yield Rejection(number, None, unknown[0], "unknown key")
            continue
        yield SourceRow(number, item.get("external_id"), item.get("case"), item.get("actions", []))


def _csv_rows(reader: csv.DictReader[str]) -> Iterator[SourceRow | Rejection]:
    header = reader.fieldnames or []
    allowed = set(csv_columns())
    unknown = [c for c in header if c not in allowed]
    if unknown:
        raise FileError(f"unknown column(s) {', '.join(unknown)}; see the README's CSV columns")
    if "external_id" not in header:
        raise FileError("the CSV needs an external_id column")
    for values in reader:
        row = reader.line_num
        if None in values:  # more cells than the header has columns
            yield Rejection(row, values.get("external_id"), "line", "more cells than columns")
            continue
        cells = {k: v.strip() for k, v in values.items() if v is not None and v.strip()}
        case: dict[str, Any] = {k: cells[k] for k in CASE_COLUMNS[1:] if k in cells}
        if "vulnerabilities" in case:
            case["vulnerabilities"] = _items(case["vulnerabilities"])
        case["person"] = {k: cells[k] for k in PERSON_COLUMNS if k in cells}
        acts: dict[Action, dict[str, Any]] = {}
        for column, (action, name) in ACT_COLUMNS.items():
            if column in cells:
                value = cells[column]
                is_list = "list" in str(input_model(action).model_fields[name].annotation)
                acts.setdefault(action, {})[name] = _items(value) if is_list else value
        # Lifecycle order here; `prepare` then orders by date (a stable sort keeps it on ties).
        actions = [{"action": a.value, **acts[a]} for a in IMPORTABLE if a in acts]
        yield SourceRow(row, cells.get("external_id"), case, actions, csv=True)


def _items(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(LIST_SEPARATOR) if part.strip()]


def prepare(source: SourceRow, settings: Settings, actor: str, now: datetime) -> PreparedRow:
    """Check a row completely; what to send for it.

    Raises:
        RowError: the first thing wrong, named as the file names it.
    """
    external_id = _external_id(source.external_id)
    if not isinstance(source.case, dict):
        raise RowError("case", "the body of POST /cases, as a JSON object")
    try:
        body = CaseCreate.model_validate(source.case)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RowError(source.case_field(tuple(first["loc"])), first["msg"]) from None
    if not isinstance(source.actions, list) or len(source.actions) > 200:
        raise RowError("actions", "a list of at most 200 acts")
    acts = [_act(source, index, item, actor) for index, item in enumerate(source.actions)]
    today = local_today(body.jurisdiction, now)
    for index, (request, payload) in enumerate(acts):
        if payload.on > today:
            where = source.act_field(request.action.value, index, "on")
            raise RowError(where, f"in the future (today in {body.jurisdiction} is {today})")
    # Acts in order of their legal dates; the file's order on one day.
    order = sorted(range(len(acts)), key=lambda i: acts[i][1].on)
    requests = [acts[i][0] for i in order]
    if requests:
        # The case id is not known yet (the key decides it); a placeholder runs the same rules.
        _dry_run(opening_input(settings, "dry-run", body, actor), requests, now, source, order)
    return PreparedRow(source.row, external_id, body, requests)


def _external_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RowError("external_id", "required: the row's id in the system it comes from")
    if len(value) > MAX_EXTERNAL_ID:
        raise RowError("external_id", f"at most {MAX_EXTERNAL_ID} characters")
    reason = refused_character(value)
    if reason is not None:
        raise RowError("external_id", reason)
    return value


def _act(source: SourceRow, index: int, item: Any, actor: str) -> tuple[ActionRequest, Any]:
    name = item.get("action") if isinstance(item, dict) else None
    where = f"actions.{index}.action"
    if not isinstance(name, str):
        raise RowError(where, "each act names its action")
    try:
        action = Action(name)
    except ValueError:
        raise RowError(where, f"unknown action {name!r}") from None
    if action not in IMPORTABLE:
        raise RowError(where, f"{name} cannot be imported (no caseworker or supervisor takes it)")
    fields = {k: v for k, v in item.items() if k != "action"}
    unsafe = refused_field(fields)
    if unsafe is not None:
        raise RowError(source.act_field(name, index, unsafe[0]), unsafe[1])
    try:
        payload = parse_input(action, fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "on"
        raise RowError(source.act_field(name, index, loc), first["msg"]) from None
    # What the API sends: the fields given, in their JSON form (the workflow validates again).
    body = payload.model_dump(mode="json", exclude_unset=True)
    return ActionRequest(action=action, body=body, actor=actor), payload


def _dry_run(
    inp: CaseInput,
    requests: list[ActionRequest],
    now: datetime,
    source: SourceRow,
    order: list[int],
) -> None:
    """Record the acts on a new case as the workflow's update validator would.

    A batch the workflow would refuse is refused here, before the person is stored or the
    workflow started: an update-with-start whose update is refused still starts the workflow.
    """
    state = new_case(
        case_id=inp.case_id,
        family=inp.jurisdiction,
        identified_on=inp.identified_on,
        identified_at=inp.identified_at,
        unaccompanied_child=inp.unaccompanied_child,
        vulnerable=inp.vulnerable,
        legal_aid_org=inp.legal_aid_org,
        actor=inp.actor,
        recorded_at=now,
    )
    parsed = [ActRequest(r.action, parse_input(r.action, r.body), r.actor) for r in requests]
    try:
        record_all(state, parsed, now=now, today=local_date(state, now))
    except DomainError as exc:
        index = exc.index or 0
        allowed = ", ".join(a.value for a in exc.allowed_actions) or "none"
        name = requests[index].action.value
        where = source.act_field(name, order[index], "on" if source.csv else "action")
        raise RowError(where, f"{exc.detail} (allowed then: {allowed})") from None
    except InvalidInput as exc:
        index = exc.index or 0
        name = requests[index].action.value
        raise RowError(source.act_field(name, order[index], exc.field), exc.detail) from None
