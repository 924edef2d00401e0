"""The action forms: generated from each input model, and back to the very body the API takes."""

from __future__ import annotations

from typing import Any

import pytest

from api.action_forms import form_body, form_fields
from api.routes.actions import ACTION_EXAMPLES
from models.actions import input_model, parse_input
from models.enums import Action


def as_posted(action: Action, body: dict[str, Any]) -> dict[str, list[str]]:
    """What a browser posts for `body` filled into `action`'s form."""
    kinds = {f.name: f.kind for f in form_fields(action)}
    posted: dict[str, list[str]] = {"csrf": ["x"], "form_key": ["k"]}
    for name, value in body.items():
        if kinds[name] == "yesno":
            posted[name] = ["yes" if value else "no"]
        elif kinds[name] == "checkbox":
            if value:
                posted[name] = ["yes"]  # an unticked box is not posted at all
        elif kinds[name] == "checks":
            posted[name] = list(value)
        else:
            posted[name] = [str(value)]
    return posted


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_every_field_of_every_action_round_trips(action: Action) -> None:
    example = ACTION_EXAMPLES[action.value]
    fields = form_fields(action)
    # Every field of the model has a form field, the legal date first and required.
    assert {f.name for f in fields} == set(input_model(action).model_fields)
    assert fields[0].name == "on" and fields[0].required and fields[0].kind == "date"
    required = {f.name for f in fields if f.required}
    assert required == {n for n, f in input_model(action).model_fields.items() if f.is_required()}
    assert parse_input(action, form_body(action, as_posted(action, example))) == parse_input(
        action, example
    )


def test_kinds_follow_the_model() -> None:
    kinds = {f.name: f for f in form_fields(Action.PAUSE_CLOCK)}
    assert kinds["attributable_to"].kind == "select"
    assert kinds["attributable_to"].options == ("applicant", "authority")
    assert kinds["clocks"].kind == "checks" and "decision" in kinds["clocks"].options
    assert kinds["reason"].attrs == {"maxlength": 500, "minlength": 1}
    # A required yes/no is a pair of radios (an unticked checkbox cannot say "no").
    assert {f.name: f.kind for f in form_fields(Action.RECORD_INTERVIEW)}["attended"] == "yesno"
    assert {f.name: f.kind for f in form_fields(Action.LODGE)}["subsequent"] == "checkbox"
    retract = {f.name: f for f in form_fields(Action.RETRACT_EVENT)}["seq"]
    assert retract.kind == "number" and retract.attrs == {"min": 1}


def test_the_body_holds_only_what_was_filled_in() -> None:
    posted = {
        "on": ["2026-11-20"],
        "outcome": [""],  # the select left at "Choose…"
        "grounds": ["  "],
        "note": [" seen "],
        "clocks": [],
    }
    assert form_body(Action.DECIDE, posted) == {"on": "2026-11-20", "note": "seen"}
    assert form_body(Action.PAUSE_CLOCK, {"clocks": ["decision", "appeal"]}) == {
        "clocks": ["decision", "appeal"]
    }
    # A yes/no left unanswered is absent, so the model's own "field required" names it.
    assert form_body(Action.RECORD_INTERVIEW, {"on": ["2026-11-20"]}) == {"on": "2026-11-20"}
