"""Search attributes of case workflows. None holds personal data: they are never encrypted."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

CASE_STAGE = SearchAttributeKey.for_keyword("CaseStage")
JURISDICTION = SearchAttributeKey.for_keyword("Jurisdiction")
PROCEDURE = SearchAttributeKey.for_keyword("Procedure")
NEXT_DEADLINE_AT = SearchAttributeKey.for_datetime("NextDeadlineAt")
NEXT_DEADLINE_CLOCK = SearchAttributeKey.for_keyword("NextDeadlineClock")
LAST_TRANSITION_AT = SearchAttributeKey.for_datetime("LastTransitionAt")
OVERDUE = SearchAttributeKey.for_bool("Overdue")
PRESUMED_ABANDONED = SearchAttributeKey.for_bool("PresumedAbandoned")
LEGAL_AID_ORG = SearchAttributeKey.for_keyword("LegalAidOrg")
VULNERABLE = SearchAttributeKey.for_bool("Vulnerable")
"""Special-category data (vulnerability): no longer set, nor registered for new namespaces.
Only case runs begun before its removal still upsert it (`workflow.patched`)."""

ALL_SEARCH_ATTRIBUTES = (
    CASE_STAGE,
    JURISDICTION,
    PROCEDURE,
    NEXT_DEADLINE_AT,
    NEXT_DEADLINE_CLOCK,
    LAST_TRANSITION_AT,
    OVERDUE,
    PRESUMED_ABANDONED,
    LEGAL_AID_ORG,
)


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool"}
    return [
        arg
        for key in ALL_SEARCH_ATTRIBUTES
        for arg in ("--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}")
    ]
