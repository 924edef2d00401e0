"""Per-action domain work against the length of a case's history (no Temporal, no database).

    .venv/bin/python -m bench.domain [--sizes 1,50,200,1000] [--repeat 300]

Replays, outside any workflow, the pure domain calls `CaseWorkflow` makes for one `act` Update
of `record_contact` and the main-loop pass that follows it:

- record x2: the update validator's dry run, then the handler's own `record_all` (the legal
  record's fast path: the act at the end of the record, then settled), each on the case as it
  was, with the record facts of the case's previous action kept (`models.record_facts`);
- settle: the main loop settles again (nothing is due);
- view: the handler's answer (`as_public_dict` and `next_wakeup`);
- rest: the projection batch handed back to the API (`case_row` and the new events) and the loop's
  search attributes (deadlines, flags), next wake-up and reminders.

The case is a lodged one (4 events) padded with contacts up to the size, or, below 4 events, a
freshly identified one (fewer clocks, so its figures are not comparable with the others). The
contact is dated the day of the last act, so nothing falls due. Each figure is the median over
`--repeat` runs, in milliseconds (`time.perf_counter`); `bench/RESULTS.md` §3 says what they
mean.
"""

from __future__ import annotations

import argparse
import bisect
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from models.actions import input_model
from models.enums import Action, IdentifiedAt
from models.legal_record import ActRequest, record_all
from models.lifecycle import (
    CaseState,
    apply,
    as_public_dict,
    local_date,
    new_case,
    next_wakeup,
    settle,
)
from models.messages import ProjectionBatch, case_row
from models.record_facts import record_facts
from models.reminders import due_reminders, next_reminder_at

NOW = datetime(2026, 6, 1, 10, tzinfo=UTC)
"""The instant of the measured action (its day is the case's `today`)."""

SIZES = (1, 50, 200, 1000)
REPEAT = 300
OFFSETS = (7, 2)
"""Reminder offsets in days, as the workflow's default."""

STEPS = ("record x2", "settle", "view", "rest")


def _act(state: CaseState, action: Action, on: date) -> CaseState:
    payload = input_model(action)(on=on)
    return apply(state, action, payload, actor="bench", recorded_at=NOW, today=NOW.date()).state


def case_with(events: int) -> CaseState:
    """A case whose history holds `events` entries, with its clocks running and none due."""
    today = NOW.date()
    state = new_case(
        case_id="bench-1",
        family="rs",
        identified_on=today - timedelta(days=10),
        identified_at=IdentifiedAt.BORDER,
        unaccompanied_child=False,
        vulnerable=False,
        legal_aid_org="ngo-1",
        actor="bench",
        recorded_at=NOW,
    )
    if events >= 4:  # a lodged case, its clocks running
        state = _act(state, Action.MAKE_APPLICATION, today - timedelta(days=9))
        state = _act(state, Action.REGISTER, today - timedelta(days=8))
        state = _act(state, Action.LODGE, today - timedelta(days=7))
    while len(state.history) < events:
        state = _act(state, Action.RECORD_CONTACT, state.last_action_on)
    return state


def one_action(state: CaseState, previous: CaseState) -> dict[str, float]:
    """Seconds each step of one `record_contact` Update and the loop pass after it take.

    `previous` is the case before its last entry: the record facts kept from the action that
    made it are what the validator's dry run extends, as in a running workflow.
    """
    clock = time.perf_counter
    payload = input_model(Action.RECORD_CONTACT)(on=state.last_action_on)
    request = [ActRequest(Action.RECORD_CONTACT, payload, "bench")]
    today = local_date(state, NOW)
    record_facts(previous)
    t0 = clock()
    for _ in range(2):  # the validator's dry run (thrown away), then the handler's record
        new = record_all(state, request, now=NOW, today=today, settled=True).state
    t1 = clock()
    view = as_public_dict(new, NOW)
    view["next_wakeup"] = next_wakeup(new, NOW)
    t2 = clock()
    row, deadlines = case_row(new, NOW)
    # As CaseWorkflow._unprojected: from the end of the history, not a scan of all of it.
    events = new.history[bisect.bisect_right(new.history, state.seq, key=lambda e: e.seq) :]
    ProjectionBatch(case=row, events=events, deadlines=deadlines)
    t3 = clock()
    new = settle(new, NOW, recorded_at=NOW).state  # the main loop's pass
    t4 = clock()
    due_reminders(new, OFFSETS, NOW)
    new.flags(today, NOW, new.deadlines(today, NOW))
    next_wakeup(new, NOW)
    next_reminder_at(new, OFFSETS, NOW)
    t5 = clock()
    return {
        "record x2": t1 - t0,
        "settle": t4 - t3,
        "view": t2 - t1,
        "rest": (t3 - t2) + (t5 - t4),
    }


def measure(events: int, repeat: int) -> dict[str, float]:
    """Median milliseconds per step and in total for a case of `events` events."""
    state = case_with(events)
    previous = state.model_copy(update={"history": state.history[:-1]})
    one_action(state, previous)  # warm caches (packs, calendars) outside the figures
    runs = [one_action(state, previous) for _ in range(repeat)]
    result = {step: statistics.median(r[step] for r in runs) * 1000 for step in STEPS}
    result["total"] = statistics.median(sum(r.values()) for r in runs) * 1000
    return result


def format_row(events: int, figures: dict[str, float]) -> str:
    """One line of the table: events, total, then each step (ms)."""
    cells = [f"{figures['total']:10.3f}", *(f"{figures[s]:10.3f}" for s in STEPS)]
    return f"{events:>7}" + "".join(cells)


HEADER = f"{'events':>7}{'total ms':>10}" + "".join(f"{s:>10}" for s in STEPS)


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    """Print the table; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench.domain", description=__doc__)
    parser.add_argument(
        "--sizes",
        default=",".join(str(s) for s in SIZES),
        help="history lengths, comma-separated (default: %(default)s)",
    )
    parser.add_argument("--repeat", type=int, default=REPEAT, help="runs per size (median)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if any(s < 1 for s in sizes) or args.repeat < 1:
        parser.error("sizes and --repeat must be at least 1")
    out(f"domain work per record_contact, median of {args.repeat} runs (ms)")
    out(HEADER)
    for events in sizes:
        out(format_row(events, measure(events, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
