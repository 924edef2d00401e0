"""The case workflow's changes to running histories (`workflow.patched`), and patch levels.

Each change to what a running case does goes behind `workflow.patched("<id>")`, which records a
marker in the history (and the SDK, a search-attribute upsert beside it) the first time a run
asks. A case started at a patch level (`CaseInput.patch_level`, set by `CaseInput.opening`)
takes the changes its level folds without asking: its history holds none of their markers,
and its worker's cache none of their state.
"""

from __future__ import annotations

from temporalio import workflow

FOLDED_PATCHES: dict[int, frozenset[str]] = {
    0: frozenset(),
    1: frozenset(
        {
            "referral-keeps-stage",
            "legal-time",
            "no-projection-after-continue-as-new",
            "no-lost-wakeup",
            "reminders",
            "reminder-retractions",
            "no-vulnerable-search-attribute",
            "reminders-follow-org",
        }
    ),
}
"""The changes a run of each `CaseInput.patch_level` takes without asking `workflow.patched`.

A level may fold only changes that every deployed worker already knows (those of the release
before it): during a rolling deploy, a worker of that release may run part of a case started at
the new level; it ignores the level, asks, takes the change and records its marker, which
`patched` consumes on replay. A change it did not know would have taken its old path
with no marker, and a replay that took the folded path would fail."""


def patched(level: int, patch_id: str) -> bool:
    """`workflow.patched(patch_id)`, unless patch `level` has the change on already.

    Folded, the change is on and nothing is recorded. Replaying, it is still asked, its answer
    ignored: a worker of the previous release (which knows the change but not the level) may
    have run this part and recorded the change's marker, which the replay must consume; where
    there is no marker, asking records nothing.
    """
    if patch_id not in FOLDED_PATCHES.get(level, frozenset()):
        return workflow.patched(patch_id)
    if workflow.unsafe.is_replaying():
        workflow.patched(patch_id)
    return True
