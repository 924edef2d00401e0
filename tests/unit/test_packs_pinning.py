"""Packs pinned by id and content digest; `rules migrate`; the legal corrections of issue 15.

Every expected date is a literal counted on a calendar (see test_deadlines_worked.py for the
counting rules): 2 Oct 2023 + 6 months = 2 Apr 2024; + 9 months = 2 Jul 2024 (91 days later).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from models.actions import input_model
from models.deadlines import Occurrence, compute_deadlines
from models.enums import Action, ClockName, ClockStatus, IdentifiedAt, LegalEvent
from models.legal_record import ActRequest, record
from models.lifecycle import CaseState, DomainError, InvalidInput, as_public_dict, new_case
from models.migration import affected, preview
from models.rules import PackError, Situation, get_pack, governing_pack, pack_contents

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
TODAY = date(2026, 12, 3)
C = ClockName


def _case(family: str, identified_on: date, *, child: bool = False, at_border: bool = False) -> Any:
    return new_case(
        case_id=f"{family}-{identified_on.isoformat()}",
        family=family,
        identified_on=identified_on,
        identified_at=IdentifiedAt.BORDER if at_border else IdentifiedAt.INLAND,
        unaccompanied_child=child,
        vulnerable=False,
        legal_aid_org=None,
        actor="cw",
        recorded_at=NOW,
    )


def rec(state: CaseState, action: Action, now: datetime = NOW, **fields: Any) -> CaseState:
    payload = input_model(action).model_validate(fields)
    today = now.date()
    return record(state, ActRequest(action, payload, "cw"), now=now, today=today).state


def _old_rs_2023() -> Any:
    """rs-2023 as it was before the correction (valid from 4 August 2023)."""
    # Version 1; version 2 is superseded too since the further appeal was added (issue 20).
    old = [p for p in pack_contents("rs-2023") if p.version == "1"]
    assert len(old) == 1
    return old[0]


def _pinned_to_old_rs_2023(lodged: date = date(2023, 10, 2)) -> CaseState:
    """A case lodged while rs-2023's file still said 4 August 2023, pinned to that content."""

    def on_the_day(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)

    # Recorded as they happened, each act on its day (the engine records acts of the day as
    # they come, without re-deriving the case).
    s = _case("rs", date(2023, 9, 25))
    s = rec(s, Action.MAKE_APPLICATION, on_the_day(date(2023, 9, 25)), on=date(2023, 9, 25))
    s = rec(s, Action.REGISTER, on_the_day(date(2023, 9, 26)), on=date(2023, 9, 26))
    # What the case knew when it was lodged: the content of rs-2023 then.
    s = s.model_copy(update={"pack_pins": {"rs-2023": _old_rs_2023().digest}})
    return rec(s, Action.LODGE, on_the_day(lodged), on=lodged)


# ------------------------------------------------------------------------------------------------
# Digests and superseded contents


def test_digest_is_sha256_of_the_canonical_json_of_the_parsed_pack() -> None:
    pack = get_pack("rs-2023")
    canonical = json.dumps(
        pack.model_dump(mode="json", exclude_defaults=True), sort_keys=True, separators=(",", ":")
    )
    assert pack.digest == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    changed = pack.model_copy(update={"version": "99"})
    assert changed.digest != pack.digest


def test_superseded_contents_are_kept_and_resolved_by_digest() -> None:
    # Every pack was corrected once more for issue #19 (child_exempt_procedures, the
    # representative clock): one earlier content more each.
    for pack_id in ("rs-2018", "rs-2023", "me-2018", "eu-2024", "eu-2013", "pl-2015"):
        contents = pack_contents(pack_id)
        # Every pack has at least one earlier content (issue #19's and #20's clocks, if not before).
        assert len(contents) >= 2, pack_id
        *olds, current = contents
        for old in olds:
            assert old.digest != current.digest
            assert get_pack(pack_id, old.digest) == old
            assert get_pack(pack_id, old.short_digest) == old
        assert get_pack(pack_id) == current
        for old in olds:
            assert old.digest != current.digest
            assert get_pack(pack_id, old.digest) == old
            assert get_pack(pack_id, old.short_digest) == old
    assert _old_rs_2023().valid_from == date(2023, 8, 4)
    assert get_pack("rs-2023").valid_from == date(2024, 2, 1)
    with pytest.raises(PackError, match="no content"):
        get_pack("rs-2018", _old_rs_2023().digest)


def test_case_view_shows_the_pinned_digest() -> None:
    s = _case("rs", date(2026, 9, 1))
    s = rec(s, Action.MAKE_APPLICATION, on=date(2026, 9, 1))
    s = rec(s, Action.REGISTER, on=date(2026, 9, 2))
    s = rec(s, Action.LODGE, on=date(2026, 9, 5))
    current = get_pack("rs-2023")
    assert as_public_dict(s, NOW)["rule_pack"] == {
        "id": "rs-2023",
        "version": current.version,
        "pinned": True,
        "digest": current.digest,
    }
    lodge = next(e for e in s.history if e.action == "lodge")
    assert lodge.data["rule_pack"] == {"id": "rs-2023", "digest": current.digest}


def test_a_corrected_pack_file_does_not_move_a_pinned_case() -> None:
    """Lodged 2 Oct 2023 under rs-2023 as it then read: 6 months, even after the correction."""
    s = _pinned_to_old_rs_2023()
    assert (s.pack_id, s.pack_digest) == ("rs-2023", _old_rs_2023().digest)
    lma = s.deadline(C.LABOUR_MARKET_ACCESS, date(2023, 12, 1))
    assert lma is not None and lma.due == date(2024, 4, 2) and lma.rule == "rs-2023/efa-2023"
    # A past-dated act re-derives the case from its record: the pin is replayed with it.
    s = rec(s, Action.RECORD_CONTACT, on=date(2023, 11, 2))
    assert (s.pack_id, s.pack_digest) == ("rs-2023", _old_rs_2023().digest)
    # The same dates in a new case go by the corrected file: rs-2018, 9 months.
    assert governing_pack("rs", made=None, lodged=date(2023, 10, 2), fallback=date(2023, 10, 2))[
        0
    ].id == ("rs-2018")


# ------------------------------------------------------------------------------------------------
# rules migrate


def test_migration_preview_lists_what_moves_and_by_how_much() -> None:
    """The rs-2023 correction: lodged 2 Oct 2023 falls to rs-2018, labour market +91 days."""
    s = _pinned_to_old_rs_2023()
    target = get_pack("rs-2023").digest
    assert affected(s, "rs-2023", target)
    result = preview(s, "rs-2023", target, now=NOW)
    assert (result.pack_before, result.pack_after) == ("rs-2023", "rs-2018")
    assert result.from_digest == _old_rs_2023().digest
    moves = {m.clock: m for m in result.moves}
    lma = moves["labour_market_access"]
    assert (lma.old_due, lma.new_due, lma.days) == (date(2024, 4, 2), date(2024, 7, 2), 91)
    # The decision clock (3 months from 2 Oct 2023 = Tue 2 Jan 2024) does not move.
    assert "decision" not in moves
    after = result.state_after
    item = after.history[-1] if after.history[-1].action == "migrate_rules" else None
    item = item or next(e for e in after.history if e.action == "migrate_rules")
    assert item.data["from_digest"] == _old_rs_2023().digest
    assert item.data["to_digest"] == target
    assert item.data["rule_pack"] == {"id": "rs-2018", "digest": get_pack("rs-2018").digest}
    assert not item.derived
    # Kept when the case is re-derived later (a past-dated act).
    later = rec(after, Action.RECORD_CONTACT, on=date(2026, 11, 1))
    assert later.pack_id == "rs-2018"


def test_a_case_lodged_after_the_correct_start_date_does_not_move() -> None:
    s = _pinned_to_old_rs_2023(lodged=date(2024, 3, 1))
    result = preview(s, "rs-2023", get_pack("rs-2023").digest, now=NOW)
    assert result.pack_after == "rs-2023"
    assert [m.clock for m in result.moves] == []


def test_migration_never_crosses_pack_ids() -> None:
    s = _pinned_to_old_rs_2023()
    with pytest.raises(InvalidInput, match="never moves a case across pack ids"):
        rec(s, Action.MIGRATE_RULES, on=TODAY, pack="eu-2024", to_digest=get_pack("eu-2024").digest)
    with pytest.raises(InvalidInput, match="has no content"):
        rec(s, Action.MIGRATE_RULES, on=TODAY, pack="rs-2023", to_digest=get_pack("rs-2018").digest)


def test_migrate_is_not_an_api_action() -> None:
    from api.permissions import roles_for
    from models.lifecycle import allowed_actions

    assert roles_for(Action.MIGRATE_RULES) == frozenset()
    assert Action.MIGRATE_RULES not in allowed_actions(_pinned_to_old_rs_2023())


def test_cli_rules_migrate_dry_run_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """`rules migrate rs-2023 --dry-run` lists the running cases that move, and by how much."""
    import tools.cli as cli
    import tools.cli_rules as rules_cli

    moving = _pinned_to_old_rs_2023()
    staying = _pinned_to_old_rs_2023(lodged=date(2024, 3, 1)).model_copy(
        update={"case_id": "rs-lodged-march-2024"}
    )
    monkeypatch.setattr(rules_cli, "_load_running_states", lambda pack_id: [moving, staying])
    applied: list[list[str]] = []
    monkeypatch.setattr(rules_cli, "_apply_migration", lambda ids, *a: applied.append(ids))
    runner = CliRunner()
    out = runner.invoke(cli.app, ["rules", "migrate", "rs-2023", "--dry-run", "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert body["to_digest"] == get_pack("rs-2023").digest
    cases = {c["case_id"]: c for c in body["cases"]}
    assert cases[moving.case_id]["pack_after"] == "rs-2018"
    assert cases[moving.case_id]["moves"] == [
        {
            "clock": "labour_market_access",
            "old_due": "2024-04-02",
            "new_due": "2024-07-02",
            "days": 91,
            "old_status": "reached",
            "new_status": "reached",
        }
    ]
    assert cases[staying.case_id]["moves"] == []
    table = runner.invoke(cli.app, ["rules", "migrate", "rs-2023", "--dry-run"])
    assert table.exit_code == 0 and "2024-07-02" in table.stdout and "+91" in table.stdout
    assert applied == []
    # Without --yes, not at a terminal: refused, nothing applied.
    refused = runner.invoke(cli.app, ["rules", "migrate", "rs-2023"])
    assert refused.exit_code == 2 and "--yes" in refused.output and applied == []
    done = runner.invoke(cli.app, ["rules", "migrate", "rs-2023", "--yes"])
    assert done.exit_code == 0, done.output
    assert applied == [[moving.case_id, staying.case_id]]
    other = runner.invoke(
        cli.app, ["rules", "migrate", "rs-2023", "--to-digest", get_pack("rs-2018").digest]
    )
    assert other.exit_code == 2 and "never" in other.output


# ------------------------------------------------------------------------------------------------
# Pinning never creates a clock triggered before the pinned instrument applied


def test_eu_case_made_before_the_pact_and_lodged_after_it() -> None:
    """Made Wed 10 Jun 2026, registered Thu 11, lodged Mon 15 Jun: pinned to eu-2024.

    Recomputed (eu-2013 had them with a figure): registration 10 Jun + 5 days = Mon 15 Jun
    (met that day); decision 15 Jun + 6 months = Tue 15 Dec; labour market 11 Jun + 6 months =
    Fri 11 Dec. Not created (new in eu-2024, triggered before 12 Jun): screening,
    uasc_representative, reception_needs_assessment, and eu-2024's lodging.
    """
    s = _case("eu", date(2026, 6, 10), child=True, at_border=True)
    s = rec(s, Action.MAKE_APPLICATION, on=date(2026, 6, 10))
    s = rec(s, Action.REGISTER, on=date(2026, 6, 11))
    s = rec(s, Action.LODGE, on=date(2026, 6, 15))
    s = rec(s, Action.RECORD_CONTACT, on=date(2026, 12, 1))
    view = as_public_dict(s, NOW)
    assert view["rule_pack"]["id"] == "eu-2024"
    got = {
        d["clock"]: (d["due"], d["status"], d["recomputed_at_lodging"]) for d in view["deadlines"]
    }
    assert got == {
        "registration": ("2026-06-15", "met", True),
        "decision": ("2026-12-15", "running", True),
        "labour_market_access": ("2026-12-11", "running", True),
    }
    assert "overdue" not in view["flags"]
    assert not any(e.action == "deadline_expired" and not e.retracted for e in s.history)


def test_eu_case_made_after_the_pact_has_every_eu_2024_clock() -> None:
    """Made Fri 12 Jun 2026 (eu-2024 from the start): screening, representative... all exist."""
    occurrences = [
        Occurrence(event=LegalEvent.IDENTIFIED, on=date(2026, 6, 12), seq=1),
        Occurrence(event=LegalEvent.MADE, on=date(2026, 6, 12), seq=2),
        Occurrence(event=LegalEvent.REGISTERED, on=date(2026, 6, 15), seq=3),
    ]
    situation = Situation(facts=frozenset({"unaccompanied_child"}))
    clocks = {
        d.clock: d.recomputed_at_lodging
        for d in compute_deadlines(
            get_pack("eu-2024"), occurrences, situation, as_of=date(2026, 6, 15)
        )
    }
    assert {C.SCREENING, C.UASC_REPRESENTATIVE, C.RECEPTION_NEEDS_ASSESSMENT, C.LODGING} <= set(
        clocks
    )
    assert not any(clocks.values())


def test_cli_deadlines_prints_recomputed_at_lodging() -> None:
    from tools.cli import app

    out = CliRunner().invoke(
        app,
        [
            "deadlines",
            "--pack",
            "eu",
            "--event",
            "made=2026-06-10",
            "--event",
            "registered=2026-06-11",
            "--event",
            "lodged=2026-06-15",
            "--as-of",
            "2026-12-03",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    got = {d["clock"]: d["recomputed_at_lodging"] for d in json.loads(out.stdout)}
    assert got == {"registration": True, "decision": True, "labour_market_access": True}


# ------------------------------------------------------------------------------------------------
# Legal corrections


def test_rs_decision_extensions_reach_9_months_and_12_only_for_temporary_insecurity() -> None:
    """Lodged Thu 15 Jan 2026: 3 + 3 + 3 months = Thu 15 Oct 2026; 12 months = Fri 15 Jan 2027."""
    s = _case("rs", date(2026, 1, 10))
    s = rec(s, Action.MAKE_APPLICATION, on=date(2026, 1, 10))
    s = rec(s, Action.REGISTER, on=date(2026, 1, 12))
    s = rec(s, Action.LODGE, on=date(2026, 1, 15))
    now = datetime(2026, 4, 2, 12, tzinfo=UTC)
    s = rec(s, Action.EXTEND_DEADLINE, now, on=date(2026, 4, 1), clock="decision", reason="complex")
    s = rec(s, Action.EXTEND_DEADLINE, now, on=date(2026, 4, 2), clock="decision", reason="except.")
    d = s.deadline(C.DECISION, date(2026, 4, 2))
    assert d is not None and (d.period, d.due) == ("9 months", date(2026, 10, 15))
    with pytest.raises(DomainError, match="extend"):
        rec(s, Action.EXTEND_DEADLINE, now, on=date(2026, 4, 2), clock="decision", reason="more")
    s = rec(
        s,
        Action.ASSIGN_PROCEDURE,
        now,
        on=date(2026, 4, 2),
        procedure="regular",
        grounds="temporary-insecurity-country-of-origin",
    )
    s = rec(s, Action.EXTEND_DEADLINE, now, on=date(2026, 4, 2), clock="decision", reason="war")
    d = s.deadline(C.DECISION, date(2026, 4, 2))
    assert d is not None and d.rule == "rs-2023/lat-39-insecurity"
    assert (d.period, d.due) == ("12 months", date(2027, 1, 15))


def test_me_appeal_is_a_suit_with_no_guessed_period() -> None:
    rule = get_pack("me-2018").clock_for(C.APPEAL, Situation())
    assert rule is not None and rule.period is None and rule.unverified
    assert "Administrative Court" in (rule.no_figure or "")


def test_eu_2024_reception_assessment_notes_the_apr_art_20_alternative() -> None:
    rule = get_pack("eu-2024").clock_for(C.RECEPTION_NEEDS_ASSESSMENT, Situation())
    assert rule is not None and "Art 20" in (rule.note or "")


def _eu_2024_lodged() -> CaseState:
    s = _case("eu", date(2026, 6, 15))
    s = rec(s, Action.MAKE_APPLICATION, on=date(2026, 6, 15))
    s = rec(s, Action.REGISTER, on=date(2026, 6, 15))
    return rec(s, Action.LODGE, on=date(2026, 6, 16))


def test_eu_2024_labour_market_withdrawn_when_accelerated_on_art_42_grounds() -> None:
    """Registered Mon 15 Jun 2026 + 6 months = Tue 15 Dec 2026 (reached, no decision).

    On Mon 11 Jan 2027 the examination is accelerated on APR Art 42(1)(c): access is withdrawn
    (RCD 2024 Art 17(1)); the case is no longer entitled but blocked.
    """
    now = datetime(2027, 1, 11, 12, tzinfo=UTC)
    s = rec(_eu_2024_lodged(), Action.RECORD_CONTACT, now, on=date(2027, 1, 4))
    lma = s.deadline(C.LABOUR_MARKET_ACCESS, date(2027, 1, 4))
    assert lma is not None and (lma.due, lma.status) == (date(2026, 12, 15), ClockStatus.REACHED)
    assert s.entitled_but_blocked
    s = rec(
        s, Action.ASSIGN_PROCEDURE, now, on=date(2027, 1, 11), procedure="accelerated",
        grounds="apr-42-1-c",
    )  # fmt: skip
    lma = s.deadline(C.LABOUR_MARKET_ACCESS, date(2027, 1, 11))
    assert lma is not None and lma.status is ClockStatus.CANCELLED
    assert lma.note is not None and lma.note.startswith("withdrawn")
    assert not s.entitled_but_blocked
    withdrawn = [e for e in s.history if e.action == "entitlement_withdrawn" and not e.retracted]
    assert [e.on for e in withdrawn] == [date(2027, 1, 11)]


def test_eu_2024_labour_market_not_granted_when_accelerated_before_it_is_reached() -> None:
    now = datetime(2027, 1, 11, 12, tzinfo=UTC)
    s = rec(
        _eu_2024_lodged(), Action.ASSIGN_PROCEDURE, now, on=date(2026, 9, 1),
        procedure="accelerated", grounds="apr-42-1-a",
    )  # fmt: skip
    lma = s.deadline(C.LABOUR_MARKET_ACCESS, date(2027, 1, 11))
    assert lma is not None and lma.status is ClockStatus.CANCELLED
    assert not any(e.action == "entitlement_reached" and not e.retracted for e in s.history)
    assert not s.entitled_but_blocked


def test_rules_list_shows_digests_and_superseded_contents() -> None:
    from tools.cli import app

    out = CliRunner().invoke(app, ["rules", "list", "--json"])
    rows = {r["pack"]: r for r in json.loads(out.stdout)}
    assert rows["rs-2023"]["digest"] == get_pack("rs-2023").digest
    superseded = rows["rs-2023"]["superseded"]
    assert {"version": "1", "digest": _old_rs_2023().digest} in superseded
    # Version 2 since a take-charge request out of time is refused (`refuses_late`).
    assert sorted(s["version"] for s in rows["pl-2015"]["superseded"]) == ["1", "2"]


def test_pinning_boundary_trigger_on_the_day_the_pact_applies() -> None:
    """Made Thu 11 Jun 2026 (eu-2013 provisionally), registered Fri 12 Jun, lodged Mon 15 Jun.

    eu-2024's lodging clock runs from the 12 June registration, the Pact's first day: created,
    although eu-2013 had no figure (12 Jun + 21 days = Fri 3 Jul; met on 15 Jun), and not
    recomputed (it never ran before). The reception needs assessment runs from the 11 June
    application, before the Pact: not created. Labour market: 12 Jun + 6 months = Sat 12 Dec
    (an entitlement: no roll), recomputed.
    """
    occurrences = [
        Occurrence(event=LegalEvent.IDENTIFIED, on=date(2026, 6, 11), seq=1),
        Occurrence(event=LegalEvent.MADE, on=date(2026, 6, 11), seq=2),
        Occurrence(event=LegalEvent.REGISTERED, on=date(2026, 6, 12), seq=3),
        Occurrence(event=LegalEvent.LODGED, on=date(2026, 6, 15), seq=4),
    ]
    made_pack = governing_pack(
        "eu", made=date(2026, 6, 11), lodged=None, fallback=date(2026, 6, 11)
    )
    assert made_pack[0].id == "eu-2013"
    got = {
        d.clock: (d.due, d.status, d.recomputed_at_lodging)
        for d in compute_deadlines(
            get_pack("eu-2024"),
            occurrences,
            Situation(),
            as_of=date(2026, 6, 20),
            provisional=made_pack[0],
        )
    }
    assert got == {
        C.REGISTRATION: (date(2026, 6, 16), ClockStatus.MET, True),
        C.LODGING: (date(2026, 7, 3), ClockStatus.MET, False),
        C.DECISION: (date(2026, 12, 15), ClockStatus.RUNNING, True),
        C.LABOUR_MARKET_ACCESS: (date(2026, 12, 12), ClockStatus.RUNNING, True),
    }
