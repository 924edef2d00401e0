"""`asylumflow rules`: the rule packs, and moving running cases to a corrected pack."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from models.case_state import CaseState
from models.rules import PackError, all_packs, get_pack, pack_contents
from tools.cli_common import _err, _out, fail

rules_app = typer.Typer(help="Rule packs.", no_args_is_help=True)


@rules_app.command("list")
def rules_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the rule packs: family, pack id, version, valid from."""
    packs = all_packs()
    if as_json:
        rows = [
            {
                "family": p.family,
                "pack": p.id,
                "version": p.version,
                "valid_from": p.valid_from.isoformat(),
                "calendar": p.calendar,
                "title": p.title,
                "digest": p.digest,
                "superseded": [
                    {"version": old.version, "digest": old.digest}
                    for old in pack_contents(p.id)
                    if old.digest != p.digest
                ],
            }
            for p in packs
        ]
        print(json.dumps(rows, indent=2))
        return
    table = Table("family", "pack", "version", "valid from", "calendar", "digest", "title")
    for p in packs:
        table.add_row(
            p.family,
            p.id,
            p.version,
            p.valid_from.isoformat(),
            p.calendar,
            p.short_digest,
            p.title,
        )
    _out.print(table)


def _days(days: int | None, *, created: bool) -> str:
    if days is not None:
        return f"{days:+d}"
    return "new" if created else "gone"


def _load_running_states(pack_id: str) -> list[CaseState]:
    """The running cases pinned to `pack_id`: read model, then each workflow's state."""
    import asyncio

    from core.settings import get_settings
    from core.temporal import connect
    from db.engine import make_engine
    from tools.migrate import case_states, running_case_ids

    settings = get_settings()

    async def run() -> list[CaseState]:
        ids = running_case_ids(make_engine(settings.db_url), pack_id)
        return await case_states(await connect(settings), ids) if ids else []

    return asyncio.run(run())


def _apply_migration(
    case_ids: list[str], pack_id: str, to_digest: str, on: date, reason: str | None
) -> None:
    import asyncio

    from core.settings import get_settings
    from core.temporal import connect
    from tools.migrate import apply_migration

    settings = get_settings()

    async def run() -> None:
        await apply_migration(await connect(settings), case_ids, pack_id, to_digest, on, reason)

    asyncio.run(run())


def _is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


@rules_app.command("migrate")
def rules_migrate(
    pack_id: Annotated[str, typer.Argument(help="The pack id whose running cases to move.")],
    to_digest: Annotated[
        str | None,
        typer.Option("--to-digest", help="A content of the same pack (default: its current file)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would move; change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Apply without asking.")] = False,
    reason: Annotated[
        str | None, typer.Option(help="Why (recorded in each case's history).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Move the running cases pinned to PACK_ID to another content of the same pack.

    Lists each case whose deadlines would move (clock, old due, new due, days); applies only with
    --yes (or a confirmation at a terminal), as a `migrate_rules` act in each case's history.
    Never across pack ids: a case is judged again by its lodging date with the new content.
    """
    from datetime import UTC, datetime

    from models.errors import DomainError, InvalidInput
    from models.migration import affected, preview

    try:
        current = get_pack(pack_id)
    except PackError as exc:
        fail(str(exc))
    if to_digest is None:
        target = current
    else:
        try:
            target = get_pack(pack_id, to_digest)
        except PackError:
            known = ", ".join(p.digest for p in pack_contents(pack_id))
            fail(
                f"--to-digest {to_digest!r} is not a content of {pack_id} (a migration never "
                f"moves cases across pack ids); known contents: {known}"
            )
    now = datetime.now(UTC)
    previews = []
    for state in _load_running_states(pack_id):
        if not affected(state, pack_id, target.digest):
            continue
        try:
            previews.append(preview(state, pack_id, target.digest, now=now, reason=reason))
        except (DomainError, InvalidInput) as exc:
            _err.print(f"case {state.case_id}: cannot migrate: {exc}", markup=False)
    moving = [p for p in previews if p.moves]
    if as_json:
        print(
            json.dumps(
                {
                    "pack": pack_id,
                    "to_digest": target.digest,
                    "dry_run": dry_run,
                    "cases": [
                        {
                            "case_id": p.case_id,
                            "pack_before": p.pack_before,
                            "pack_after": p.pack_after,
                            "from_digest": p.from_digest,
                            "moves": [
                                {
                                    "clock": m.clock,
                                    "old_due": m.old_due.isoformat() if m.old_due else None,
                                    "new_due": m.new_due.isoformat() if m.new_due else None,
                                    "days": m.days,
                                    "old_status": m.old_status,
                                    "new_status": m.new_status,
                                }
                                for m in p.moves
                            ],
                        }
                        for p in previews
                    ],
                },
                indent=2,
            )
        )
    else:
        _out.print(
            f"{pack_id} -> {target.digest} (version {target.version}): "
            f"{len(previews)} running case(s) to migrate, {len(moving)} with deadlines that move"
        )
        table = Table("case", "pack", "clock", "old due", "new due", "days")
        for p in moving:
            for m in p.moves:
                table.add_row(
                    p.case_id,
                    p.pack_before
                    if p.pack_before == p.pack_after
                    else f"{p.pack_before} -> {p.pack_after}",
                    m.clock,
                    m.old_due.isoformat() if m.old_due else "-",
                    m.new_due.isoformat() if m.new_due else "-",
                    _days(m.days, created=m.old_due is None),
                )
        _out.print(table)
    if dry_run or not previews:
        return
    if not yes:
        if not _is_interactive():
            fail("refusing to migrate without --yes in a non-interactive run (see --dry-run)")
        if not typer.confirm(f"Migrate {len(previews)} case(s)?"):
            fail("nothing migrated")
    _apply_migration([p.case_id for p in previews], pack_id, target.digest, now.date(), reason)
    _err.print(f"migrated {len(previews)} case(s)", highlight=False)
