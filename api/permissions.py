"""Which role may take which action on a case (shared/api.md's table, in one place)."""

from __future__ import annotations

from db.users import Role
from models.enums import Action

BORDER_ACTIONS = frozenset({Action.COMPLETE_SCREENING, Action.REFER, Action.MAKE_APPLICATION})
# Protection track (issue #19): profiling at entry records the needs found and the information
# given, as screening and referral do.
BORDER_ACTIONS |= {Action.RECORD_VULNERABILITY, Action.RECORD_INFORMATION_GIVEN}
LEGAL_AID_ACTIONS = frozenset({Action.RECORD_CONTACT})
SUPERVISOR_ONLY = frozenset({Action.REVIEW_ABANDONMENT})
SYSTEM_ONLY = frozenset({Action.MIGRATE_RULES})
"""Recorded by administrators' tools (`asylumflow rules migrate`), never through the API."""


def roles_for(action: Action) -> frozenset[Role]:
    """The roles that may take `action` (admins take none)."""
    if action in SYSTEM_ONLY:
        return frozenset()
    roles = {Role.SUPERVISOR}
    if action not in SUPERVISOR_ONLY:
        roles.add(Role.CASEWORKER)
    if action in BORDER_ACTIONS:
        roles.add(Role.BORDER_OFFICER)
    if action in LEGAL_AID_ACTIONS:
        roles.add(Role.LEGAL_AID)
    return frozenset(roles)
