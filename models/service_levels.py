"""The built-in service levels: how long a case may stay in a stage before it counts as stuck.

Read by the supervisor's stuck list (`db.supervision`); `ASYLUMFLOW_SERVICE_LEVELS` and a
pack's `service_levels` override them. Days, by stage.
"""

from __future__ import annotations

from models.enums import Stage

DEFAULT_SERVICE_LEVELS: dict[Stage, int] = {
    Stage.IDENTIFIED: 7,
    Stage.SCREENING: 7,
    # A referral elsewhere (child protection, return counselling...) should be closed promptly.
    Stage.REFERRED: 30,
    # Registration is due within 3 working days (APD) or 5 days (APR); a week is already late.
    Stage.APPLICATION_MADE: 7,
    # Lodging: 15 days in Serbia, 21 days under the Pact.
    Stage.REGISTERED: 21,
    Stage.LODGED: 60,
    Stage.ADMISSIBILITY: 60,
    Stage.INTERVIEW_SCHEDULED: 60,
    Stage.INTERVIEWED: 60,
    # A decision taken but not notified holds everything (the appeal window runs from notice).
    Stage.DECIDED: 14,
    # Appeal windows are at most a month; after that the case should have moved on by itself.
    Stage.NOTIFIED: 45,
    Stage.APPEAL_LODGED: 180,
    Stage.INTEGRATION: 365,
    Stage.RETURN: 180,
    # Longer than the usual nine-month reopen window, which closes the case by itself.
    Stage.DISCONTINUED: 300,
    # Tracks around a decision (issue 20, branch `tracks`): the further appeal's window is about
    # a month and ends the stage by itself; a court takes longer than an appeal body.
    Stage.APPEAL_DECIDED: 45,
    Stage.FURTHER_APPEAL_LODGED: 365,
    # pl: the toleration document is valid for 2 years; a case so long unchanged is looked at.
    Stage.TOLERATED: 730,
    # Resettlement: submissions and departures take months; a year unchanged is looked at.
    Stage.RESETTLEMENT: 365,
    # Responsibility procedure (issue 20): the reply is due within 2 months at most (604/2013
    # Art 22(1)) and silence is acceptance; a transfer is due within 6 months (Art 29(1)) and
    # a lapsed one keeps the case here, so neither stage waits longer by itself.
    Stage.RESPONSIBILITY_REQUESTED: 75,
    Stage.TRANSFER_PENDING: 200,
}
"""Built-in service levels in days; `Settings.service_levels` and packs override them."""
