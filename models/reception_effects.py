"""Reception and detention (issue #19): what their actions do to a case.

Beside `models.effects`, whose table of effects takes these, so that module stays one a reader
can hold in their head. Each has the signature of an `Effect`. The workflow knows only the
centre's id and whether the person is detained or in an alternative: grounds stay in SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from models.actions import AssignAccommodationInput, OrderDetentionInput, ReviewDetentionInput
from models.case_state import CaseEvent, CaseState, occur
from models.enums import Action, Detention, LegalEvent


def _assign_accommodation(state: CaseState, p: AssignAccommodationInput, *_: Any) -> None:
    # Only the centre's id and the day: occupancy and over-capacity come from the read model.
    state.accommodation_centre, state.accommodated_since = p.centre, p.on


def _end_accommodation(state: CaseState, *_: Any) -> None:
    state.accommodation_centre, state.accommodated_since = None, None


def _order_detention(state: CaseState, p: OrderDetentionInput, entry: CaseEvent, *_: Any) -> None:
    state.detention = Detention.ALTERNATIVE if p.alternative else Detention.DETAINED
    state.detention_since = p.on
    if not p.alternative:
        # Only a detention starts the review clock: an alternative is no deprivation of liberty.
        occur(state, LegalEvent.DETAINED, p.on, entry.recorded_at)


def _review_detention(state: CaseState, p: ReviewDetentionInput, entry: CaseEvent, *_: Any) -> None:
    if not p.continued:
        # Detention held unlawful or no longer needed: released at once (RCD Art 9(3), 11(3)).
        state.detention, state.detention_since = None, None
        occur(state, LegalEvent.RELEASED_FROM_DETENTION, p.on, entry.recorded_at)


def _release_from_detention(state: CaseState, *_: Any) -> None:
    state.detention, state.detention_since = None, None


RECEPTION_EFFECTS: dict[Action, Callable[..., None]] = {
    Action.ASSIGN_ACCOMMODATION: _assign_accommodation,
    Action.END_ACCOMMODATION: _end_accommodation,
    Action.ORDER_DETENTION: _order_detention,
    Action.REVIEW_DETENTION: _review_detention,
    Action.RELEASE_FROM_DETENTION: _release_from_detention,
}
"""The effects of the reception and detention actions, by action."""
