"""HTML forms for case actions, generated from each action's input model (`models/actions.py`).

The case page offers one form per action the case allows and the user's role may take. Each
form's fields come from the action's pydantic model through its JSON schema, the same schema
the OpenAPI document publishes: a new field in a model appears on the page without touching a
template. What was posted is turned back into the JSON body the API takes, and then checked by
the same code as `POST /cases/{id}/actions/<action>`, so the page can never accept what the API
refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from models.actions import input_model
from models.enums import Action

FieldKind = Literal["date", "text", "textarea", "number", "select", "yesno", "checkbox", "checks"]

LABELS: dict[str, str] = {
    "on": "Date of the act",
    "interview_on": "Date of the interview",
    "date": "Correct date",
    "seq": "Number (#) of the act to retract",
    "to": "Refer to",
    "user": "Caseworker (user name)",
    "org": "Legal aid organisation",
    "clocks": "Clocks to pause (none ticked: all)",
    "attributable_to": "Attributable to",
    "to_other_authority": "Made to another authority",
    "mass_influx": "Mass influx",
    "at_risk": "At risk on return",
    "given": "The person consents to monitors reading the file (No: revokes it)",
    # Responsibility procedure (issue 20)
    "to_state": "Requested Member State (ISO code, EL for Greece)",
    "eurodac_hit_on": "Date the Eurodac (or VIS) hit was received, if any",
    "accepted": "Accepted (No: refused)",
}
"""Field labels where the field's name alone reads badly."""


@dataclass(frozen=True)
class FormField:
    """One field of an action's form."""

    name: str
    label: str
    kind: FieldKind
    required: bool
    hint: str | None = None
    options: tuple[str, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    """HTML constraint attributes from the schema (maxlength, minlength, min, pattern)."""


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of a property with `$ref` followed and `X | None` unwrapped."""
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        schema = {**schema, **options[0]} if len(options) == 1 else dict(schema)
        schema.pop("anyOf", None)
    if "$ref" in schema:
        schema = {**defs[schema["$ref"].rsplit("/", 1)[1]], **schema}
    return schema


def _kind(name: str, schema: dict[str, Any], required: bool) -> FieldKind:
    if "enum" in schema:
        return "select"
    kind = schema.get("type")
    if kind == "boolean":
        # A required yes/no must be answered, which an unticked checkbox cannot say.
        return "yesno" if required else "checkbox"
    if kind == "integer":
        return "number"
    if kind == "array":
        return "checks"
    if schema.get("format") == "date":
        return "date"
    return "textarea" if name in ("note", "reason", "grounds") else "text"


def _options(schema: dict[str, Any], defs: dict[str, Any]) -> tuple[str, ...]:
    if "enum" in schema:
        return tuple(str(v) for v in schema["enum"])
    items = schema.get("items")
    if isinstance(items, dict):
        return _options(_resolve(items, defs), defs)
    return ()


@cache
def form_fields(action: Action) -> tuple[FormField, ...]:
    """The fields of `action`'s form, in the model's order (the legal date first)."""
    schema = input_model(action).model_json_schema()
    defs: dict[str, Any] = schema.get("$defs", {})
    required = set(schema.get("required", []))
    fields: list[FormField] = []
    for name, raw in schema["properties"].items():
        prop = _resolve(dict(raw), defs)
        needed = name in required
        attrs = {
            html: prop[key]
            for key, html in (
                ("maxLength", "maxlength"),
                ("minLength", "minlength"),
                ("minimum", "min"),
                ("pattern", "pattern"),
            )
            if key in prop
        }
        fields.append(
            FormField(
                name=name,
                label=LABELS.get(name, name.replace("_", " ").capitalize()),
                kind=_kind(name, prop, needed),
                required=needed,
                hint=raw.get("description") or prop.get("description"),
                options=_options(prop, defs),
                attrs=attrs,
            )
        )
    fields.sort(key=lambda f: (f.name != "on", f.name == "note"))
    return tuple(fields)


def form_body(action: Action, posted: dict[str, list[str]]) -> dict[str, Any]:
    """The JSON body of the action from a posted form (only the fields given).

    Nothing is validated here beyond the shape: the API's own check (the input model) runs on
    the result, so a missing required field is the same 422, naming the same field.
    """
    body: dict[str, Any] = {}
    for spec in form_fields(action):
        values = [v.strip() for v in posted.get(spec.name, []) if v.strip()]
        if spec.kind == "checks":
            if values:
                body[spec.name] = values
        elif spec.kind == "checkbox":
            if values:
                body[spec.name] = values[0] in ("on", "yes", "true")
        elif not values:
            continue  # left empty: the model's default, or its "field required"
        elif spec.kind == "yesno":
            body[spec.name] = {"yes": True, "no": False}.get(values[0], values[0])
        else:
            body[spec.name] = values[0]
    return body


def offered_actions(allowed: list[str], may_take: set[str]) -> list[Action]:
    """The actions the case allows now and the user's role may take (`api.permissions`)."""
    return [Action(a) for a in allowed if a in may_take]
