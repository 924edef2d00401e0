"""The protection record's items kept in a case's state (issue #19): referrals, information.

Beside `models.case_state`, whose `CaseState` holds lists of them. Dates and codes only: the
detail of a referral stays in SQL, sealed (`api/protection.py`).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from models.enums import InformationForm, ReferralOutcome, ReferralTarget


class Referral(BaseModel):
    """A referral to a service (issue #19): its acknowledgement and outcome as they come in.

    Frozen, as every item of a state's lists (see `fork`): an answer replaces the item.
    """

    model_config = ConfigDict(frozen=True)

    id: int = Field(description="The `seq` of the `refer` act")
    to: ReferralTarget
    on: date
    acknowledged_on: date | None = None
    outcome: ReferralOutcome | None = None
    outcome_on: date | None = None


class InformationGiven(BaseModel):
    """Information on rights and the procedure given to the person (date, language, form)."""

    model_config = ConfigDict(frozen=True)

    on: date
    language: str
    form: InformationForm
