"""Vocabulary of the asylum procedure: stages, procedures, outcomes, actions, clocks.

The string values are part of the public contract (shared/api.md): they appear in URLs, JSON bodies,
rule-pack files and search attributes, so they are never renamed.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """Where a case stands in its lifecycle. Flags (overdue, abandoned...) are not stages."""

    IDENTIFIED = "identified"
    SCREENING = "screening"
    REFERRED = "referred"
    APPLICATION_MADE = "application_made"
    REGISTERED = "registered"
    LODGED = "lodged"
    ADMISSIBILITY = "admissibility"
    INTERVIEW_SCHEDULED = "interview_scheduled"
    INTERVIEWED = "interviewed"
    DECIDED = "decided"
    NOTIFIED = "notified"
    APPEAL_LODGED = "appeal_lodged"
    INTEGRATION = "integration"
    RETURN = "return"
    DISCONTINUED = "discontinued"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"
    # Tracks around a decision (issue 20, branch `tracks`): a further appeal to a court where
    # the pack's law provides one.
    APPEAL_DECIDED = "appeal_decided"
    FURTHER_APPEAL_LODGED = "further_appeal_lodged"
    # A person who cannot be returned, where the pack's law has such a status (pl: toleration).
    TOLERATED = "tolerated"
    # A safe legal pathway: resettlement (or a complementary pathway) to another state.
    RESETTLEMENT = "resettlement"
    # Responsibility procedure (Dublin III / AMMR, issue 20)
    RESPONSIBILITY_REQUESTED = "responsibility_requested"
    TRANSFER_PENDING = "transfer_pending"


class Procedure(StrEnum):
    """Examination procedure a lodged application is channelled into."""

    REGULAR = "regular"
    ACCELERATED = "accelerated"
    BORDER = "border"
    ADMISSIBILITY = "admissibility"


class Outcome(StrEnum):
    """First-instance (or substituted appeal) decision outcome."""

    REFUGEE_STATUS = "refugee_status"
    SUBSIDIARY_PROTECTION = "subsidiary_protection"
    HUMANITARIAN = "humanitarian"
    REJECTED = "rejected"
    MANIFESTLY_UNFOUNDED = "manifestly_unfounded"
    INADMISSIBLE = "inadmissible"
    # Not a first-instance decision on the merits: a discontinuation is appealable where a pack
    # says so, and rule packs select its appeal variant with this value.
    IMPLICITLY_WITHDRAWN = "implicitly_withdrawn"

    @property
    def is_positive(self) -> bool:
        """Eurostat counts refugee, subsidiary and humanitarian status as positive."""
        return self in POSITIVE_OUTCOMES


POSITIVE_OUTCOMES = frozenset(
    {Outcome.REFUGEE_STATUS, Outcome.SUBSIDIARY_PROTECTION, Outcome.HUMANITARIAN}
)
DECISION_OUTCOMES = tuple(o for o in Outcome if o is not Outcome.IMPLICITLY_WITHDRAWN)


class Vulnerability(StrEnum):
    """Vulnerability categories. Only rule-relevant flags ever leave the SQL database."""

    UNACCOMPANIED_CHILD = "unaccompanied_child"
    CHILD = "child"
    VICTIM_OF_TRAFFICKING = "victim_of_trafficking"
    TORTURE_SURVIVOR = "torture_survivor"
    DISABILITY = "disability"
    PREGNANCY = "pregnancy"
    ELDERLY = "elderly"
    SERIOUS_ILLNESS = "serious_illness"
    SINGLE_PARENT = "single_parent"


class ReferralTarget(StrEnum):
    """Where a border officer refers a person after profiling."""

    ASYLUM = "asylum"
    CHILD_PROTECTION = "child_protection"
    TRAFFICKING_SUPPORT = "trafficking_support"
    RETURN_COUNSELLING = "return_counselling"
    NONE = "none"
    # Protection track (issue #19): services a person may be referred to at any stage.
    MEDICAL_CARE = "medical_care"
    OTHER = "other"


# --- Protection track (issue #19) -----------------------------------------------------------


class ReferralOutcome(StrEnum):
    """What became of a referral to a service (the service's answer, as the authority learns it)."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    COMPLETED = "completed"
    NO_RESPONSE = "no_response"


class InformationForm(StrEnum):
    """How information on rights and the procedure was given."""

    ORAL = "oral"
    WRITTEN = "written"


class MissedBy(StrEnum):
    """Whose side caused an interview not to take place (only the applicant's counts)."""

    APPLICANT = "applicant"
    AUTHORITY = "authority"
    INTERPRETER = "interpreter"


class AgeOutcome(StrEnum):
    """The outcome of an age assessment (inconclusive: the benefit of the doubt, a minor)."""

    MINOR = "minor"
    ADULT = "adult"
    INCONCLUSIVE = "inconclusive"


class AppealResult(StrEnum):
    """How an appeal body disposes of an appeal."""

    DISMISSED = "dismissed"
    QUASHED_REMANDED = "quashed_remanded"
    SUBSTITUTED = "substituted"


class DocumentKind(StrEnum):
    """Documents issued on the integration track."""

    ID_CARD = "id_card"
    RESIDENCE_PERMIT = "residence_permit"
    CONVENTION_TRAVEL_DOCUMENT = "convention_travel_document"
    # Issue #19 (protection track b): the document certifying applicant status, issued during
    # the procedure (Directive 2013/33/EU Art 6(1); Regulation (EU) 2024/1348 Art 29).
    APPLICANT_DOCUMENT = "applicant_document"


class Detention(StrEnum):
    """Issue #19: whether a person is detained or subject to an alternative to detention."""

    DETAINED = "detained"
    ALTERNATIVE = "alternative"


class Attribution(StrEnum):
    """Who caused a delay: only applicant-caused delay stops a clock."""

    APPLICANT = "applicant"
    AUTHORITY = "authority"


class Actor(StrEnum):
    """Who must act before a clock's due date."""

    AUTHORITY = "authority"
    APPLICANT = "applicant"


class ClockName(StrEnum):
    """Legal clocks (shared/api.md)."""

    SCREENING = "screening"
    REGISTRATION = "registration"
    LODGING = "lodging"
    UASC_REPRESENTATIVE = "uasc_representative"
    RECEPTION_NEEDS_ASSESSMENT = "reception_needs_assessment"
    ADMISSIBILITY_DECISION = "admissibility_decision"
    DECISION = "decision"
    BORDER_PROCEDURE = "border_procedure"
    LABOUR_MARKET_ACCESS = "labour_market_access"
    APPEAL = "appeal"
    REOPEN_WINDOW = "reopen_window"
    # Issue #19 (protection track b): detention and documents during the procedure.
    DETENTION_REVIEW = "detention_review"
    APPLICANT_DOCUMENT = "applicant_document"
    # Tracks around a decision (issue 20, branch `tracks`).
    FURTHER_APPEAL = "further_appeal"
    VOLUNTARY_DEPARTURE = "voluntary_departure"
    FAMILY_REUNIFICATION = "family_reunification"
    # Responsibility procedure (Dublin III / AMMR, issue 20)
    RESPONSIBILITY_REQUEST = "responsibility_request"
    RESPONSIBILITY_REPLY = "responsibility_reply"
    TRANSFER = "transfer"


class ClockStatus(StrEnum):
    """Status of one clock as of a given day."""

    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    LATE = "late"
    REACHED = "reached"
    EXPIRED = "expired"
    MISSED = "missed"
    CANCELLED = "cancelled"


class ClockKind(StrEnum):
    """An act must be done by the due day; an entitlement arises on it."""

    ACT = "act"
    ENTITLEMENT = "entitlement"


class Unit(StrEnum):
    """Units a legal period is expressed in."""

    DAYS = "days"
    WORKING_DAYS = "working_days"
    WEEKS = "weeks"
    MONTHS = "months"
    # Test packs only (domain.md): lets restarts and outages be tested against real time.
    SECONDS = "seconds"
    MINUTES = "minutes"


class LegalEvent(StrEnum):
    """Legal events that start, meet or cancel clocks.

    The first eight are the public event names of the CLI and of `correct_event`; the rest are
    recorded by actions and only used inside rule packs.
    """

    IDENTIFIED = "identified"
    MADE = "made"
    REGISTERED = "registered"
    LODGED = "lodged"
    DECIDED = "decided"
    NOTIFIED = "notified"
    DISCONTINUED = "discontinued"
    APPEAL_DECIDED = "appeal_decided"
    SCREENED = "screened"
    REFERRED = "referred"
    PROCEDURE_ASSIGNED = "procedure_assigned"
    REPRESENTATIVE_APPOINTED = "representative_appointed"
    RECEPTION_ASSESSED = "reception_assessed"
    ADMISSIBILITY_DECIDED = "admissibility_decided"
    APPEAL_LODGED = "appeal_lodged"
    FINAL = "final"
    REOPENING_REQUESTED = "reopening_requested"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"
    # Issue #19 (protection track b): detention (an alternative to detention records none of
    # these but the release) and the applicant's document.
    DETAINED = "detained"
    DETENTION_REVIEWED = "detention_reviewed"
    RELEASED_FROM_DETENTION = "released_from_detention"
    APPLICANT_DOCUMENT_ISSUED = "applicant_document_issued"
    # Tracks around a decision (issue 20, branch `tracks`).
    FURTHER_APPEAL_LODGED = "further_appeal_lodged"
    FURTHER_APPEAL_DECIDED = "further_appeal_decided"
    RETURN_DECIDED = "return_decided"
    DEPARTED = "departed"
    FAMILY_REUNIFICATION_REQUESTED = "family_reunification_requested"
    FAMILY_REUNIFICATION_DECIDED = "family_reunification_decided"
    # Responsibility procedure (Dublin III / AMMR, issue 20)
    EURODAC_HIT = "eurodac_hit"
    RESPONSIBILITY_REQUESTED = "responsibility_requested"
    RESPONSIBILITY_ACCEPTED = "responsibility_accepted"
    RESPONSIBILITY_REFUSED = "responsibility_refused"
    TRANSFERRED = "transferred"
    RESPONSIBILITY_SHIFTED = "responsibility_shifted"


PUBLIC_EVENTS = (
    LegalEvent.IDENTIFIED,
    LegalEvent.MADE,
    LegalEvent.REGISTERED,
    LegalEvent.LODGED,
    LegalEvent.DECIDED,
    LegalEvent.NOTIFIED,
    LegalEvent.DISCONTINUED,
    LegalEvent.APPEAL_DECIDED,
)


class Action(StrEnum):
    """Every action a user can take on a case (shared/api.md)."""

    COMPLETE_SCREENING = "complete_screening"
    REFER = "refer"
    MAKE_APPLICATION = "make_application"
    REGISTER = "register"
    LODGE = "lodge"
    ASSIGN_PROCEDURE = "assign_procedure"
    APPOINT_REPRESENTATIVE = "appoint_representative"
    RECORD_RECEPTION_ASSESSMENT = "record_reception_assessment"
    DECIDE_ADMISSIBILITY = "decide_admissibility"
    SCHEDULE_INTERVIEW = "schedule_interview"
    RECORD_INTERVIEW = "record_interview"
    EXTEND_DEADLINE = "extend_deadline"
    DECIDE = "decide"
    NOTIFY_DECISION = "notify_decision"
    LODGE_APPEAL = "lodge_appeal"
    DECIDE_APPEAL = "decide_appeal"
    MAKE_FINAL = "make_final"
    RECORD_CONTACT = "record_contact"
    REPORT_ABSCONDED = "report_absconded"
    REVIEW_ABANDONMENT = "review_abandonment"
    DISCONTINUE = "discontinue"
    REQUEST_REOPENING = "request_reopening"
    WITHDRAW = "withdraw"
    PAUSE_CLOCK = "pause_clock"
    RESUME_CLOCK = "resume_clock"
    CORRECT_EVENT = "correct_event"
    RETRACT_EVENT = "retract_event"
    ISSUE_PERSONAL_ID = "issue_personal_id"
    ISSUE_PERMIT = "issue_permit"
    ISSUE_DOCUMENT = "issue_document"
    REQUEST_FAMILY_REUNIFICATION = "request_family_reunification"
    START_RETURN = "start_return"
    RECORD_RETURN_CONSENT = "record_return_consent"
    RECORD_RISK_ASSESSMENT = "record_risk_assessment"
    RECORD_DEPARTURE = "record_departure"
    RECORD_REINTEGRATION = "record_reintegration"
    ASSIGN_CASEWORKER = "assign_caseworker"
    ASSIGN_LEGAL_AID = "assign_legal_aid"
    CLOSE = "close"
    RECORD_MONITOR_CONSENT = "record_monitor_consent"
    # Protection track (issue #19): profiling, referrals, information, interpreters, children.
    RECORD_VULNERABILITY = "record_vulnerability"
    RECORD_REFERRAL_OUTCOME = "record_referral_outcome"
    RECORD_INFORMATION_GIVEN = "record_information_given"
    ASSIGN_INTERPRETER = "assign_interpreter"
    RECORD_AGE_ASSESSMENT = "record_age_assessment"
    RECORD_BEST_INTERESTS = "record_best_interests"
    # Issue #19 (protection track b): reception and detention.
    ASSIGN_ACCOMMODATION = "assign_accommodation"
    END_ACCOMMODATION = "end_accommodation"
    ORDER_DETENTION = "order_detention"
    REVIEW_DETENTION = "review_detention"
    RELEASE_FROM_DETENTION = "release_from_detention"
    MIGRATE_RULES = "migrate_rules"
    # Tracks around a decision (issue 20, branch `tracks`).
    LODGE_FURTHER_APPEAL = "lodge_further_appeal"
    DECIDE_FURTHER_APPEAL = "decide_further_appeal"
    REFUSE_RETURN_CONSENT = "refuse_return_consent"
    RECORD_RETURN_DECISION = "record_return_decision"
    GRANT_TOLERATION = "grant_toleration"
    WITHDRAW_TOLERATION = "withdraw_toleration"
    DECIDE_FAMILY_REUNIFICATION = "decide_family_reunification"
    IDENTIFY_FOR_RESETTLEMENT = "identify_for_resettlement"
    SUBMIT_FOR_RESETTLEMENT = "submit_for_resettlement"
    DECIDE_RESETTLEMENT = "decide_resettlement"
    RECORD_RESETTLEMENT_DEPARTURE = "record_resettlement_departure"
    # Responsibility procedure (Dublin III / AMMR, issue 20)
    REQUEST_TAKE_CHARGE = "request_take_charge"
    REQUEST_TAKE_BACK = "request_take_back"
    RECORD_RESPONSIBILITY_REPLY = "record_responsibility_reply"
    RECORD_TRANSFER = "record_transfer"


class IdentifiedAt(StrEnum):
    """Where a person was first identified."""

    BORDER = "border"
    INLAND = "inland"


class ReunificationOutcome(StrEnum):
    """How a family reunification application is decided (tracks, issue 20)."""

    GRANTED = "granted"
    REFUSED = "refused"
