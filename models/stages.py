"""Stage groups: the sets of stages (and of actions) the rules speak of by name."""

from __future__ import annotations

from models.enums import Action, Outcome, Stage

PRE_APPLICATION = frozenset({Stage.IDENTIFIED, Stage.SCREENING, Stage.REFERRED})
EXAMINATION = frozenset(
    {
        Stage.APPLICATION_MADE,
        Stage.REGISTERED,
        Stage.LODGED,
        Stage.ADMISSIBILITY,
        Stage.INTERVIEW_SCHEDULED,
        Stage.INTERVIEWED,
        # Responsibility procedure (issue 20): still pending here until the transfer.
        Stage.RESPONSIBILITY_REQUESTED,
        Stage.TRANSFER_PENDING,
    }
)
IN_PROCEDURE = EXAMINATION | {
    Stage.DECIDED,
    Stage.NOTIFIED,
    Stage.APPEAL_LODGED,
    # Tracks around a decision (issue 20, branch `tracks`): the further appeal is still the
    # procedure (the decision is not final).
    Stage.APPEAL_DECIDED,
    Stage.FURTHER_APPEAL_LODGED,
}
TERMINAL_STAGES = frozenset({Stage.WITHDRAWN, Stage.CLOSED})
OPEN_STAGES = frozenset(Stage) - TERMINAL_STAGES
WATCHED_STAGES = EXAMINATION
"""Stages in which the applicant is expected to keep in touch (the no-contact watch runs):
from the application to the first-instance decision (domain.md)."""
NEGATIVE_FOR_APPEAL = frozenset(
    {
        Outcome.REJECTED,
        Outcome.MANIFESTLY_UNFOUNDED,
        Outcome.INADMISSIBLE,
        Outcome.IMPLICITLY_WITHDRAWN,
    }
)

APPLICANT_SIDE_ACTIONS = frozenset(
    {
        Action.MAKE_APPLICATION,
        Action.REGISTER,
        Action.LODGE,
        Action.LODGE_APPEAL,
        Action.RECORD_CONTACT,
        Action.REQUEST_REOPENING,
        Action.RECORD_RETURN_CONSENT,
        Action.REQUEST_FAMILY_REUNIFICATION,
        # Tracks around a decision (issue 20, branch `tracks`).
        Action.LODGE_FURTHER_APPEAL,
    }
)
"""Acts that show the applicant is engaging: they lift a presumption of abandonment."""
