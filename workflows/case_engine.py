"""The logic of one `CaseWorkflow` run (`workflows.case` is the shell of decorated handlers).

Loaded once per process and shared by every run, as the shell runs unsandboxed (before that,
this module was passed through the sandbox): a private copy of its code per cached run was
most of what a cached case cost a worker beyond a no-op's.

What that asks of this module: it runs inside each run's workflow context, so it may call the
`temporalio.workflow` APIs (`now`, `patched`, activities, timers, search attributes) and must
stay deterministic like any workflow code; all per-run state lives on the `CaseRun` instance
the shell holds, never in module globals. No sandbox checks it for non-deterministic calls;
`tests/unit/test_determinism.py` does, here and in `models`.

The main loop settles the state (a `models.lifecycle.CaseState`), every action goes through the
pure transition table, and every legal clock becomes one recomputed wake-up of the loop (the
"updatable timer" pattern): an update that moves a date only marks the state changed, the loop
wakes, cancels its timer by leaving the wait, recomputes the earliest due instant and waits again.
Nothing stale can fire.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

from models.actions import parse_input
from models.enums import ClockStatus, Stage
from models.legal_record import ActRequest, record_all
from models.lifecycle import (
    Applied,
    CaseState,
    DomainError,
    InvalidInput,
    apply,
    as_public_dict,
    local_date,
    new_case,
    next_wakeup,
    settle,
)
from models.messages import (
    PATCH_LEVEL,
    ActionBatch,
    ActionRequest,
    CaseInput,
    ProjectionBatch,
    Refresh,
    case_row,
    start_of_day_utc,
)
from models.reminders import (
    ReminderRequest,
    RetractionRequest,
    due_reminders,
    forget_sent,
    mark_sent,
    next_reminder_at,
    owed_anew,
    request_for,
    retraction_for,
    sent,
    stale_reminders,
)
from models.rules import PackError, all_packs
from workflows.action_signing import require_signed
from workflows.patches import patched
from workflows.search import (
    CASE_STAGE,
    JURISDICTION,
    LAST_TRANSITION_AT,
    LEGAL_AID_ORG,
    NEXT_DEADLINE_AT,
    NEXT_DEADLINE_CLOCK,
    OVERDUE,
    PRESUMED_ABANDONED,
    PROCEDURE,
    VULNERABLE,
)

PROJECT_CASE = "project_case"
"""Name of the read-model projection activity (referenced by name: no ORM import here)."""

SEND_REMINDER = "send_reminder"
"""Name of the activity that POSTs one reminder to the legal aid org's webhooks."""

SEND_RETRACTION = "send_reminder_retraction"
"""Name of the activity that POSTs a `reminder_retracted` to the legal aid org's webhooks."""

REMINDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=3.0,
    maximum_interval=timedelta(minutes=30),
    maximum_attempts=12,
)
"""A receiver that is down gets retried for about three hours; every attempt is logged in SQL."""

_MIN_WAIT = timedelta(seconds=1)

_RECORD_ACTIONS = frozenset({"correct_event", "retract_event"})
"""Acts about the record itself: they may change any part of its past."""


def workflow_id(case_id: str) -> str:
    """The workflow id of a case (`case-<id>`)."""
    return f"case-{case_id}"


def _new_case(inp: CaseInput, family: str, identified_on: date) -> CaseState:
    return new_case(
        case_id=inp.case_id,
        family=family,
        identified_on=identified_on,
        identified_at=inp.identified_at,
        unaccompanied_child=inp.unaccompanied_child,
        vulnerable=inp.vulnerable,
        legal_aid_org=inp.legal_aid_org,
        actor=inp.actor,
        recorded_at=workflow.now(),
        vulnerabilities=inp.vulnerabilities,
    )


def _reject(exc: DomainError | InvalidInput | ValidationError) -> ApplicationError:
    """A domain or input error as an update failure the API can map to 409 or 422."""
    if isinstance(exc, DomainError):
        return ApplicationError(exc.detail, exc.to_dict(), type="DomainError", non_retryable=True)
    if isinstance(exc, InvalidInput):
        body = {"field": exc.field, "detail": exc.detail}
        return ApplicationError(str(exc), body, type="InvalidInput", non_retryable=True)
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "body"
    body = {"field": field, "detail": first["msg"]}
    return ApplicationError(
        f"{field}: {first['msg']}", body, type="InvalidInput", non_retryable=True
    )


class CaseRun:
    """One case workflow run: its state, its main loop and what its handlers do."""

    def __init__(self, inp: CaseInput) -> None:
        # State is built here, not in run(): update validators may run before run() starts, and
        # after continue-as-new they must see the carried state.
        self._input = inp
        self._unstartable: str | None = None
        # When the next clock or watch falls due, as the main loop last computed it: until
        # then the state is settled, and an action need not settle it again (its validator
        # runs for every request, and concurrent requests arrive in bursts).
        self._due_at: datetime | None = workflow.now()
        if inp.carried is not None:
            self.case: CaseState = inp.carried
        else:
            try:
                self.case = _new_case(inp, inp.jurisdiction, inp.identified_on)
            except PackError as exc:
                # The API checks this first; should a starter not have, the workflow fails at
                # once with the reason (an exception here would fail its task for ever).
                self._unstartable = str(exc)
                earliest = all_packs()[0]
                self.case = _new_case(inp, earliest.family, earliest.valid_from)
            # No command: cases begun before references replay alike (theirs stays None).
            self.case.reference = inp.reference
            # Cases begun before issue #19 replay their old rule (a referral ended the
            # pre-application track); new ones keep their stage when referred to a service.
            self.case.referral_keeps_stage = self._patched("referral-keeps-stage")
        # Cases begun before legal time replay their recorded behaviour; from the next run on
        # (or at once, for a new case) the record follows the legal dates of acts.
        self.case.legal_time = self._patched("legal-time")
        self._projected_seq = inp.projected_seq
        # Entries already projected that a later act marked retracted: written again.
        self._reproject: set[int] = set()
        # A starter that writes the first projection itself (the API) spares the activity.
        self._projection_stale = not inp.caller_projects
        self._changed = False
        self._deliveries: list[asyncio.Task[None]] = []
        # Reminders sent, and the earliest legal day a re-derivation changed since the loop
        # last checked them (None: nothing to check).
        self._sent = list(inp.sent_reminders)
        self._recheck_since: date | None = None

    # ----------------------------------------------------------------------------------------
    # Main loop

    async def run(self, inp: CaseInput) -> dict[str, Any]:
        """The main loop: settle due clocks, project, sleep until the next due instant or a change.

        Returns the view of the case once it is closed.
        """
        if self._unstartable is not None:
            raise self._cannot_start()
        if inp.carried is not None and self._patched("no-projection-after-continue-as-new"):
            # The previous run flushed everything before continuing; projecting again at the
            # start of each run was a wasted activity. Older runs replay the old behaviour.
            self._projection_stale = False
        # A change that arrives while the loop is busy (say, during a projection) must wake the
        # next wait, so the flag is cleared before the work, not just before the wait. Runs that
        # began before this fix replay the old order.
        wakeup_fix = self._patched("no-lost-wakeup")
        # Reminders schedule activities and timers that runs begun before them never issued;
        # those runs replay without reminders until they continue as new.
        reminders = self._patched("reminders")
        while True:
            if wakeup_fix:
                self._changed = False
            self._settle()
            if reminders:
                self._retract_stale()
                self._remind()
            await self._project()
            self._upsert_search_attributes()
            if self.case.stage is Stage.CLOSED:
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._project()
                # Every deadline of a closed case is over: a reminder still being retried is moot.
                for task in self._deliveries:
                    task.cancel()
                return self.view()
            if self._history_is_long():
                # A delivery still retrying would be lost with this run: let it finish first.
                await workflow.wait_condition(
                    lambda: (
                        workflow.all_handlers_finished() and all(t.done() for t in self._deliveries)
                    )
                )
                await self._project()
                workflow.continue_as_new(
                    inp.model_copy(
                        update={
                            "carried": self.case,
                            "projected_seq": self._projected_seq,
                            "sent_reminders": self._sent,
                            # A new run asks no folded change: from its start, each is "on".
                            "patch_level": PATCH_LEVEL,
                        }
                    )
                )
            wake_at, _ = next_wakeup(self.case, workflow.now())
            self._due_at = wake_at
            if reminders:
                remind_at = next_reminder_at(
                    self.case, self._input.reminder_offsets_days, workflow.now()
                )
                if remind_at is not None and (wake_at is None or remind_at < wake_at):
                    wake_at = remind_at
            timeout = None
            if wake_at is not None:
                timeout = max(wake_at - workflow.now(), _MIN_WAIT)
            if not wakeup_fix:
                self._changed = False
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._changed, timeout=timeout)

    def _patched(self, patch_id: str) -> bool:
        return patched(self._input.patch_level, patch_id)

    def _today(self) -> date:
        return local_date(self.case, workflow.now())

    def _settle(self) -> None:
        now = workflow.now()
        settled = settle(self.case, now, recorded_at=now)
        if settled.events:
            self.case = settled.state
            self._projection_stale = True

    def _remind(self) -> None:
        """Start delivering every reminder due by now; the loop never waits for a delivery."""
        now = workflow.now()
        due = due_reminders(self.case, self._input.reminder_offsets_days, now)
        if not due.send and not due.passed_over:
            return
        # Marked before delivery: the loop must not start the same reminder twice, and a
        # delivery that finally fails is in the delivery log (retrying it later would tell the
        # provider a number of days left that is no longer true).
        self.case = mark_sent(self.case, [*due.passed_over, *(r.key for r in due.send)])
        self._deliveries = [t for t in self._deliveries if not t.done()]
        for reminder in due.send:
            request = request_for(self.case, reminder, now)
            # Remembered (state only, no command) so a later re-derivation can withdraw it.
            self._sent.append(sent(request, now))
            self._deliveries.append(asyncio.create_task(self._deliver(request)))

    def _retract_stale(self) -> None:
        """Withdraw each sent reminder that a re-derivation of the record no longer bears out.

        Once per reminder: its `reminder_retracted` goes to the org that got it, signed alike.
        Cases begun before this replay without it (the patch is asked only when one is due).
        """
        since, self._recheck_since = self._recheck_since, None
        if since is None or not self.case.legal_time or not self._sent:
            return
        stale = stale_reminders(self.case, self._sent, since)
        if not stale or not self._patched("reminder-retractions"):
            return
        withdrawn = {reminder.key for reminder, _ in stale}
        self._sent = [
            r.model_copy(update={"retracted": True}) if r.key in withdrawn else r
            for r in self._sent
        ]
        self._deliveries = [t for t in self._deliveries if not t.done()]
        for reminder, reason in stale:
            request = retraction_for(self.case.case_id, reminder, reason)
            self._deliveries.append(asyncio.create_task(self._deliver(request)))

    def _note_rederivation(self, applied: Applied) -> None:
        """Remember from which legal day the record changed, if it changed the past.

        Acts dated today, recorded now, cannot change what the record said when an earlier
        reminder went out (that day's acts recorded after it are not counted against it).
        """
        if not self._sent:
            return
        today = self._today()
        days = [
            date.min if e.action in _RECORD_ACTIONS else e.on
            for e in applied.events
            if not e.derived
        ]
        since = min(days, default=today)
        if since < today:
            current = self._recheck_since
            self._recheck_since = since if current is None else min(current, since)

    async def _deliver(self, request: ReminderRequest | RetractionRequest) -> None:
        # In a task of its own so a webhook that is down never holds back the clocks' timers.
        try:
            await workflow.execute_activity(
                SEND_REMINDER if isinstance(request, ReminderRequest) else SEND_RETRACTION,
                request,
                start_to_close_timeout=timedelta(seconds=60),
                schedule_to_close_timeout=timedelta(days=1),
                retry_policy=REMINDER_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.warning(
                "reminder %s not delivered after retries: %s", request.key, exc.cause or exc
            )

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.history_threshold
        )

    async def _project(self) -> None:
        """Flush accepted events and the case's current row to the read model in one call."""
        if not self._projection_stale:
            return
        # Snapshot before awaiting: handlers may change the state while the activity runs, and
        # whatever they add is flushed on the next pass.
        self._projection_stale = False
        batch = self._pending_batch()
        await workflow.execute_activity(
            PROJECT_CASE,
            batch,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1),
                maximum_interval=timedelta(minutes=1),
            ),
        )
        self._projected_seq = max(self._projected_seq, batch.case.last_seq)

    def _pending_batch(self) -> ProjectionBatch:
        """The case's row and deadlines now, and the events after the last projected one."""
        row, deadlines = case_row(self.case, workflow.now())
        # History is in seq order: the new events are found from the end, not by a full scan.
        start = bisect.bisect_right(self.case.history, self._projected_seq, key=lambda e: e.seq)
        events = self.case.history[start:]
        if self._reproject:
            # Retractions of entries already in the read model: each is written again, marked.
            events = [e for e in self.case.history[:start] if e.seq in self._reproject] + events
            self._reproject = set()
        return ProjectionBatch(case=row, events=events, deadlines=deadlines)

    def _upsert_search_attributes(self) -> None:
        if not self._input.search_attributes:
            return
        today, now = self._today(), workflow.now()
        deadlines = self.case.deadlines(today, now)
        running = sorted(
            (d for d in deadlines if d.status is ClockStatus.RUNNING), key=lambda d: d.fires_at
        )
        flags = self.case.flags(today, now, deadlines)
        updates: list[SearchAttributeUpdate[Any]] = [
            CASE_STAGE.value_set(self.case.stage.value),
            JURISDICTION.value_set(self.case.family),
            PROCEDURE.value_set(self.case.procedure.value),
            LAST_TRANSITION_AT.value_set(start_of_day_utc(self.case.stage_since)),
            OVERDUE.value_set("overdue" in flags),
            PRESUMED_ABANDONED.value_set(self.case.presumed_abandoned),
            NEXT_DEADLINE_AT.value_set(running[0].fires_at)
            if running
            else NEXT_DEADLINE_AT.value_unset(),
            NEXT_DEADLINE_CLOCK.value_set(running[0].clock.value)
            if running
            else NEXT_DEADLINE_CLOCK.value_unset(),
            LEGAL_AID_ORG.value_set(self.case.legal_aid_org)
            if self.case.legal_aid_org
            else LEGAL_AID_ORG.value_unset(),
        ]
        if not self._patched("no-vulnerable-search-attribute"):
            # Special-category data is out of the search attributes (the read model has it);
            # runs from before keep upserting it as they did.
            updates.append(VULNERABLE.value_set(self.case.vulnerable))
        current = workflow.info().typed_search_attributes
        changed = [u for u in updates if current.get(u.key) != u.value]
        if changed:
            workflow.upsert_search_attributes(changed)

    # ----------------------------------------------------------------------------------------
    # Actions

    def _handed_over(self, before: CaseState, after: CaseState) -> CaseState:
        """`after`; for a case handed to another legal aid org, with its reminders owed anew."""
        # Histories from before this change replay without it (their later reminders differ).
        if owed_anew(before, after) and self._patched("reminders-follow-org"):
            return forget_sent(after)
        return after

    def _cannot_start(self) -> ApplicationError:
        return ApplicationError(
            f"the case cannot start: {self._unstartable}", type="InvalidStart", non_retryable=True
        )

    def _try(self, requests: list[ActionRequest]) -> Applied:
        """Record acts on a copy of the case: the legal record decides, not the typing order."""
        if self._unstartable is not None:
            raise self._cannot_start()
        if not self.case.legal_time:
            return self._try_in_typing_order(requests)
        parsed: list[ActRequest] = []
        for index, request in enumerate(requests):
            try:
                payload = parse_input(request.action, request.body)
            except ValidationError as exc:
                raise self._indexed(_reject(exc), index, len(requests), request) from None
            parsed.append(ActRequest(request.action, payload, request.actor))
        now = workflow.now()
        settled = self._due_at is None or now < self._due_at
        try:
            return record_all(self.case, parsed, now=now, today=self._today(), settled=settled)
        except (DomainError, InvalidInput) as exc:
            error = _reject(exc)
            if exc.index is None or len(requests) == 1:
                raise error from None
            raise self._indexed(error, exc.index, len(requests), requests[exc.index]) from None

    def _try_in_typing_order(self, requests: list[ActionRequest]) -> Applied:
        """How cases begun before legal time recorded acts: in typing order, then settled."""
        state, start = self.case, len(self.case.history)
        for index, request in enumerate(requests):
            try:
                payload = parse_input(request.action, request.body)
                state = apply(
                    state,
                    request.action,
                    payload,
                    actor=request.actor,
                    recorded_at=workflow.now(),
                    today=self._today(),
                ).state
            except (DomainError, InvalidInput, ValidationError) as exc:
                raise self._indexed(_reject(exc), index, len(requests), request) from None
        state = settle(state, workflow.now(), recorded_at=workflow.now()).state
        return Applied(state, state.history[start:])

    @staticmethod
    def _indexed(
        error: ApplicationError, index: int, count: int, request: ActionRequest
    ) -> ApplicationError:
        if count == 1:
            return error
        details = dict(error.details[0]) if error.details else {}
        details["index"] = index
        return ApplicationError(
            f"action {index} ({request.action.value}): {error.message}",
            details,
            type=error.type,
            non_retryable=True,
        )

    def _accept(self, applied: Applied) -> None:
        """Take the recorded case; entries it marked retracted are projected again."""
        self._reproject.update(e.seq for e in applied.events if e.seq <= self._projected_seq)
        self.case = self._handed_over(self.case, applied.state)
        # New clocks may fall due before the loop's last wake-up: it recomputes it.
        self._due_at = workflow.now()
        self._note_rederivation(applied)

    def act(self, request: ActionRequest) -> dict[str, Any]:
        """Apply one action and return the case's new state.

        Synchronous on purpose: the state changes before anything else can run, so of two
        concurrent conflicting actions that both passed validation, the second fails here.
        """
        # Consequences of the new dates (e.g. a past-dated decision after the appeal window)
        # are settled at once so the caller sees them.
        self._accept(self._try([request]))
        self._changed = True
        return self._answer(request.project)

    def validate(self, requests: list[ActionRequest]) -> None:
        """An update validator: refuse unsigned or rejected actions, changing nothing.

        A rejected update leaves nothing in history; the dry run works on a copy.
        """
        require_signed(requests)
        self._try(requests)

    def act_batch(self, batch: ActionBatch) -> dict[str, Any]:
        """Apply several past-dated actions at once, then settle the clocks once.

        For cases entered late or migrated: one action at a time, a clock would be settled
        between two actions as if the later act had not happened (an entitlement recorded
        although the decision came before it, an appeal window closed before the appeal is
        entered). All or nothing: one rejected action rejects the batch.
        """
        self._accept(self._try(batch.actions))
        self._changed = True
        return self._answer(batch.project)

    def refresh(self, request: Refresh | None = None) -> dict[str, Any]:
        """Settle any clock due by now and return the state.

        Used after server outages, and by the API's update-with-start (with `project`).
        """
        if self._unstartable is not None:
            raise self._cannot_start()
        self._settle()
        self._changed = True
        return self._answer(request is not None and request.project, changed=False)

    def _answer(self, project: bool, *, changed: bool = True) -> dict[str, Any]:
        """The view; with `project`, also the read model's batch for the caller to write.

        Handing the batch over replaces the projection activity for this change: the loop then
        finds nothing stale. Everything not yet projected goes into it (a change the loop
        settled but had not projected too), so the caller's write is complete; writes are
        idempotent by (case, seq), so overlapping with an activity in flight is harmless.
        """
        # A replayed update's answer was given when it first ran, and the SDK drops the one
        # computed again: building the view (every clock and every guard of the transition table)
        # was the dearest part of replaying an action. The projection's bookkeeping below is
        # state, so it still runs; the view is no command, so histories replay alike.
        replaying = workflow.unsafe.is_replaying_history_events()
        view = {} if replaying else self.view()
        if not project:
            # Projected by the loop's activity (a plain refresh changed nothing to project).
            self._projection_stale = self._projection_stale or changed
            return view
        if replaying:
            # The batch went out in the answer when the update first ran: only its bookkeeping
            # (what it would have carried counts as projected, as it did then).
            self._projected_seq = max(self._projected_seq, self.case.seq)
            self._reproject = set()
            self._projection_stale = False
            return view
        batch = self._pending_batch()
        view["projection"] = batch
        self._projected_seq = max(self._projected_seq, batch.case.last_seq)
        self._projection_stale = False
        return view

    def view(self) -> dict[str, Any]:
        """The public view of the case (shared/api.md)."""
        view = as_public_dict(self.case, workflow.now())
        wake_at, what = next_wakeup(self.case, workflow.now())
        view["next_wakeup"] = {"at": wake_at.isoformat(), "what": what} if wake_at else None
        return view
