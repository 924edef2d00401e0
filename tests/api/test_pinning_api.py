"""Pinning over HTTP against a real worker: cases 4 and 7 of the legal-time issue.

Case 4: an `eu` case made before the Pact applied and lodged after it is pinned to eu-2024 with
no clock triggered before that instrument applied. Case 7: a pack corrected under the same id
does not move a running case; the case keeps the content it was pinned to, by digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from db.users import Role
from models import rules
from tests.api.helpers import Api, act, create, fetch_history

CW = "cw"


def _deadlines(case: dict[str, Any]) -> dict[str, tuple[str, str, bool]]:
    return {
        d["clock"]: (d["due"], d["status"], d["recomputed_at_lodging"]) for d in case["deadlines"]
    }


async def test_eu_case_made_before_the_pact_and_lodged_after_it(api: Api) -> None:
    """Case 4: made Wed 10 Jun 2026, registered Thu 11, lodged Mon 15 Jun: pinned to eu-2024.

    Recomputed at lodging (eu-2013 had them too): registration 10 Jun + 5 days = Mon 15 Jun,
    met that day; decision 15 Jun + 6 months = Tue 15 Dec; labour market 11 Jun + 6 months =
    Fri 11 Dec. Not created, because eu-2024 made them new and their trigger falls before it
    applied (12 Jun): screening, the child's representative, the reception needs assessment.
    """
    api.user(CW, Role.CASEWORKER)
    cid = (
        await create(
            api,
            CW,
            jurisdiction="eu",
            identified_on="2026-06-10",
            identified_at="border",
            vulnerabilities=["unaccompanied_child"],
        )
    )["id"]
    await act(api, CW, cid, "make_application", on="2026-06-10")
    await act(api, CW, cid, "register", on="2026-06-11")
    await act(api, CW, cid, "lodge", on="2026-06-15")
    case = await act(api, CW, cid, "record_contact", on="2026-12-01")
    assert case["rule_pack"]["id"] == "eu-2024"
    assert case["rule_pack"]["digest"] == rules.get_pack("eu-2024").digest
    assert _deadlines(case) == {
        "registration": ("2026-06-15", "met", True),
        "decision": ("2026-12-15", "running", True),
        "labour_market_access": ("2026-12-11", "running", True),
    }
    assert "overdue" not in case["flags"]
    records = await fetch_history(api, CW, cid)
    standing = [e for e in records if e["action"] == "deadline_expired" and not e["retracted"]]
    assert standing == []


# ------------------------------------------------------------------------------------------------
# Case 7: a pack corrected under the same id


def _canonical_digest(pack: rules.RulePack) -> str:
    body = json.dumps(
        pack.model_dump(mode="json", exclude_defaults=True), sort_keys=True, separators=(",", ":")
    )
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def _clear_pack_caches() -> None:
    rules.all_packs.cache_clear()
    rules.superseded_packs.cache_clear()
    rules._by_digest.cache_clear()


@pytest.fixture
def zz_packs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A jurisdiction `zz` of this test only: rs-2018's figures under the id zz-2018.

    The worker runs in this process and the case workflow runs unsandboxed on the same domain
    modules, so the workflows see the same pack directories as the API.
    """
    text = (rules.PACKS_DIR / "rs-2018.yaml").read_text(encoding="utf-8")
    text = text.replace("id: rs-2018", "id: zz-2018").replace("family: rs", "family: zz")
    # Version 2 whatever rs-2018's own version is now (the correction below makes it 3).
    text = re.sub(r'^version: ".*"$', 'version: "2"', text, count=1, flags=re.MULTILINE)
    (tmp_path / "zz-2018.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "superseded").mkdir()
    monkeypatch.setattr(rules, "_pack_dirs", [*rules._pack_dirs, tmp_path])
    _clear_pack_caches()
    yield tmp_path
    monkeypatch.undo()
    _clear_pack_caches()


def _correct_zz(folder: Path) -> rules.RulePack:
    """Correct zz-2018 in place as a maintainer would: the labour market at 6 months, version 3.

    The earlier content is kept under superseded/ by its digest, as the packs' README asks.
    """
    current = folder / "zz-2018.yaml"
    before = rules.load_pack_file(current)
    (folder / "superseded" / f"zz-2018@{before.short_digest}.yaml").write_text(
        current.read_text(encoding="utf-8"), encoding="utf-8"
    )
    text = current.read_text(encoding="utf-8")
    lma = text.index("name: labour_market_access")
    head, tail = text[:lma], text[lma:]
    tail = tail.replace("period: 9 months", "period: 6 months", 1)
    current.write_text(head.replace('version: "2"', 'version: "3"') + tail, encoding="utf-8")
    _clear_pack_caches()
    return rules.get_pack("zz-2018")


async def _lodged_zz(api: Api) -> str:
    cid: str = (await create(api, CW, jurisdiction="zz", identified_on="2026-09-01"))["id"]
    await act(api, CW, cid, "make_application", on="2026-09-01")
    await act(api, CW, cid, "register", on="2026-09-02")
    await act(api, CW, cid, "lodge", on="2026-09-07")
    return cid


async def test_a_corrected_pack_does_not_move_a_pinned_case(api: Api, zz_packs: Path) -> None:
    """Case 7: lodged Mon 7 Sep 2026 under zz-2018 (9 months: Wed 7 Jun 2027), then corrected."""
    api.user(CW, Role.CASEWORKER)
    original = rules.get_pack("zz-2018")
    assert original.digest == _canonical_digest(original)
    pinned = await _lodged_zz(api)
    response = await api.http.get(f"/cases/{pinned}", headers=api.auth(CW))
    case = response.json()
    assert case["rule_pack"] == {
        "id": "zz-2018",
        "version": "2",
        "pinned": True,
        "digest": original.digest,
    }
    assert _deadlines(case)["labour_market_access"][0] == "2027-06-07"

    corrected = _correct_zz(zz_packs)
    assert corrected.digest != original.digest and corrected.version == "3"

    # The running case keeps its figures, read as they are and after a past-dated act that
    # re-derives it from its record (the pin is replayed with the record).
    response = await api.http.get(f"/cases/{pinned}", headers=api.auth(CW))
    assert _deadlines(response.json())["labour_market_access"][0] == "2027-06-07"
    case = await act(api, CW, pinned, "record_contact", on="2026-09-03")
    assert case["rule_pack"] == {
        "id": "zz-2018",
        "version": "2",
        "pinned": True,
        "digest": original.digest,
    }
    assert _deadlines(case)["labour_market_access"][0] == "2027-06-07"

    # A case lodged on the same dates now goes by the corrected content: 6 months, Sun 7 Mar 2027
    # (an entitlement does not roll to a working day).
    fresh = await _lodged_zz(api)
    response = await api.http.get(f"/cases/{fresh}", headers=api.auth(CW))
    case = response.json()
    assert case["rule_pack"]["digest"] == corrected.digest
    assert case["rule_pack"]["version"] == "3"
    assert _deadlines(case)["labour_market_access"][0] == "2027-03-07"
