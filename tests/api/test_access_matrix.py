"""Who may call what: a role matrix generated from the app's route table (issue 7 part 3).

`RULES` maps every (method, path template) of the app to the roles that may use it, written out
from shared/api.md's roles table rather than read from the code. A route added without a rule
fails `test_every_route_has_a_rule`; `test_access_matrix` then sends a request to every route as
every kind of principal and checks the status class:

- no token or a revoked token: `401`;
- a role without permission: `403`;
- a legal aid user of another org on a case (or webhook) of org-a: `404` (it must not learn
  that the case exists); likewise another border officer on a case it did not open;
- no answer names a case its caller may not read (`leak`): org-a's case is linked to org-b's,
  opened by another officer, and neither org-a nor the first officer may see that id;
- a monitor reads the seeded org-a case, whose person consented (`record_monitor_consent` in
  `seed`); without consent it is `404` (tests/api/test_monitor.py), and it names no linked case;
- a permitted role: anything but `401`/`403` (and not `404` on org-scoped routes) and no `5xx`.

Dashboard pages under `/ui` sign in with a cookie, not a bearer token: they have `UiRule`s and
are only checked for what an anonymous visitor gets (a redirect to the sign-in form).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from api.app import create_app
from db.users import Role
from models.enums import Action
from tests.api.helpers import Api, Seed, case_body, seed, today

BORDER, CASEWORKER, SUPERVISOR = "border_officer", "caseworker", "supervisor"
LEGAL_AID, ADMIN, MONITOR = "legal_aid", "admin", "monitor"
ALL_ROLES = frozenset(r.value for r in Role)
STAFF = frozenset({CASEWORKER, SUPERVISOR})
CASE_READERS = frozenset({BORDER, CASEWORKER, SUPERVISOR, LEGAL_AID})
CASE_FILE_READERS = CASE_READERS | {MONITOR}
"""One case by its id: a monitor too, where the person consented (the seeded case's did)."""
STATS_READERS = frozenset({SUPERVISOR, MONITOR})

Scope = Literal["none", "case", "org"]


@dataclass(frozen=True)
class Rule:
    """A bearer-token route: the roles that may use it and whether it is scoped to an org."""

    roles: frozenset[str]
    scope: Scope = "none"
    """`case`/`org`: a legal aid user of another org gets `404` (the resource is org-a's)."""


@dataclass(frozen=True)
class ActionRule:
    """`POST /cases/{id}/actions…`: one `Rule` per representative action."""

    actions: dict[str, Rule]


@dataclass(frozen=True)
class UiRule:
    """A cookie-session dashboard route, checked for an anonymous visitor only."""

    anonymous: int
    note: str
    to_signin: bool = False


AnyRule = Rule | ActionRule | UiRule

# Representative case actions (api/permissions.py holds the code's rules; these are the contract's).
ACTIONS: dict[str, Rule] = {
    "complete_screening": Rule(frozenset({BORDER, CASEWORKER, SUPERVISOR}), "case"),
    "decide": Rule(STAFF, "case"),
    "review_abandonment": Rule(frozenset({SUPERVISOR}), "case"),
    "record_contact": Rule(frozenset({CASEWORKER, SUPERVISOR, LEGAL_AID}), "case"),
    "record_monitor_consent": Rule(STAFF, "case"),
    # Issue #19 (protection track b): staff place people and order detention.
    "assign_accommodation": Rule(STAFF, "case"),
    "order_detention": Rule(STAFF, "case"),
    # Tracks around a decision (issue 20, branch `tracks`): staff acts, as lodge_appeal and
    # record_return_consent are (a 409 on the seeded case still shows the role may).
    "lodge_further_appeal": Rule(STAFF, "case"),
    "decide_further_appeal": Rule(STAFF, "case"),
    "refuse_return_consent": Rule(STAFF, "case"),
    "record_return_decision": Rule(STAFF, "case"),
    "grant_toleration": Rule(STAFF, "case"),
    "decide_family_reunification": Rule(STAFF, "case"),
    "submit_for_resettlement": Rule(STAFF, "case"),
    # Responsibility procedure (issue 20): the authority's acts, as for deciding
    "request_take_charge": Rule(STAFF, "case"),
    "record_responsibility_reply": Rule(STAFF, "case"),
    "record_transfer": Rule(STAFF, "case"),
}

SIGNIN = "ui: redirects to sign-in without a session"

RULES: dict[tuple[str, str], AnyRule] = {
    ("POST", "/cases"): Rule(frozenset({BORDER, CASEWORKER, SUPERVISOR})),
    ("GET", "/cases"): Rule(CASE_READERS),  # filtered to what the user may see: never 404
    ("POST", "/cases/search"): Rule(CASE_READERS),  # within the user's reach: never 404
    ("GET", "/cases/{case_id}"): Rule(CASE_FILE_READERS, "case"),
    ("GET", "/cases/{case_id}/history"): Rule(CASE_FILE_READERS, "case"),
    # Special-category detail (GDPR Art 9): the authority's caseworkers and supervisors only.
    ("GET", "/cases/{case_id}/protection/details"): Rule(STAFF, "case"),
    ("POST", "/cases/{case_id}/actions/{action}"): ActionRule(ACTIONS),
    ("POST", "/cases/{case_id}/actions"): ActionRule(ACTIONS),  # a batch of one action
    ("GET", "/duplicates"): Rule(STAFF),
    ("POST", "/duplicates/{duplicate_id}/confirm"): Rule(frozenset({SUPERVISOR})),
    ("POST", "/duplicates/{duplicate_id}/dismiss"): Rule(frozenset({SUPERVISOR})),
    ("GET", "/supervision/overdue"): Rule(frozenset({SUPERVISOR})),
    ("GET", "/supervision/stuck"): Rule(frozenset({SUPERVISOR})),
    ("GET", "/supervision/abandoned"): Rule(frozenset({SUPERVISOR})),
    ("GET", "/supervision/entitled-blocked"): Rule(frozenset({SUPERVISOR})),
    ("POST", "/supervision/reassign"): Rule(frozenset({SUPERVISOR})),
    ("GET", "/stats"): Rule(STATS_READERS),
    ("GET", "/stats/eurostat"): Rule(STATS_READERS),
    ("GET", "/stats/eurostat/{table}"): Rule(STATS_READERS),
    ("GET", "/stats/export"): Rule(STATS_READERS),
    ("GET", "/legal-aid/deadlines"): Rule(frozenset({LEGAL_AID})),
    ("GET", "/legal-aid/calendar.ics"): Rule(frozenset({LEGAL_AID})),
    ("POST", "/legal-aid/feed-secret"): Rule(frozenset({LEGAL_AID})),
    ("POST", "/legal-aid/webhooks"): Rule(frozenset({LEGAL_AID})),
    ("GET", "/legal-aid/webhooks"): Rule(frozenset({LEGAL_AID})),
    ("DELETE", "/legal-aid/webhooks/{webhook_id}"): Rule(frozenset({LEGAL_AID}), "org"),
    ("GET", "/legal-aid/webhooks/{webhook_id}/deliveries"): Rule(frozenset({LEGAL_AID}), "org"),
    ("POST", "/users"): Rule(frozenset({ADMIN})),
    ("GET", "/users"): Rule(frozenset({ADMIN})),
    ("POST", "/users/{name}/revoke"): Rule(frozenset({ADMIN})),
    ("GET", "/audit"): Rule(frozenset({ADMIN})),
    ("GET", "/rules"): Rule(ALL_ROLES),  # rule packs are public law: any signed-in user
    # The interpreter pool (issue #19): admins and supervisors keep it.
    ("GET", "/interpreters"): Rule(frozenset({ADMIN, SUPERVISOR})),
    ("POST", "/interpreters"): Rule(frozenset({ADMIN, SUPERVISOR})),
    ("POST", "/interpreters/{interpreter_id}/availability"): Rule(frozenset({ADMIN, SUPERVISOR})),
    # Issue #19 (protection track b): centres are read by those who place people, kept by
    # admins (reference data) and supervisors; the detained list is a supervisor's.
    ("GET", "/reception/centres"): Rule(STAFF),
    ("POST", "/reception/centres"): Rule(frozenset({ADMIN, SUPERVISOR})),
    ("PUT", "/reception/centres/{centre_id}"): Rule(frozenset({ADMIN, SUPERVISOR})),
    ("GET", "/supervision/detained"): Rule(frozenset({SUPERVISOR})),
    ("GET", "/ui/protection/centres"): UiRule(303, SIGNIN, to_signin=True),
    ("GET", "/ui/protection/detained"): UiRule(303, SIGNIN, to_signin=True),
    # The Temporal UI's codec server: the roles that read every case (issue 21).
    ("POST", "/codec/decode"): Rule(STAFF),
    ("POST", "/codec/encode"): Rule(STAFF),
    # Bearer-authenticated although under /ui: swaps a token for a one-time sign-in link.
    ("POST", "/ui/tickets"): Rule(ALL_ROLES),
    ("GET", "/ui"): UiRule(303, SIGNIN, to_signin=True),
    ("GET", "/ui/supervision/{name}"): UiRule(303, SIGNIN, to_signin=True),
    ("GET", "/ui/supervision/{name}/export.csv"): UiRule(303, SIGNIN, to_signin=True),
    ("GET", "/ui/cases/{case_id}"): UiRule(303, SIGNIN, to_signin=True),
    ("GET", "/ui/cases/{case_id}/protection-detail"): UiRule(303, SIGNIN, to_signin=True),
    ("GET", "/ui/legal-aid"): UiRule(303, SIGNIN, to_signin=True),
    ("POST", "/ui/legal-aid"): UiRule(303, SIGNIN, to_signin=True),
    ("POST", "/ui/legal-aid/feed-secret"): UiRule(303, SIGNIN, to_signin=True),
    ("POST", "/ui/search"): UiRule(303, SIGNIN, to_signin=True),
    ("GET", "/ui/desk"): UiRule(303, SIGNIN, to_signin=True),
    ("GET", "/ui/stats"): UiRule(303, SIGNIN, to_signin=True),
    ("GET", "/ui/stats/eurostat/{table}.csv"): UiRule(303, SIGNIN, to_signin=True),
    ("POST", "/ui/supervision/{name}/reassign"): UiRule(303, SIGNIN, to_signin=True),
    ("POST", "/ui/cases/{case_id}/review-abandonment"): UiRule(303, SIGNIN, to_signin=True),
    ("POST", "/ui/cases/{case_id}/actions/{action}"): UiRule(303, SIGNIN, to_signin=True),
    ("GET", "/ui/case"): UiRule(303, "ui: the open-a-case form forwards to the case page"),
    ("GET", "/ui/signin"): UiRule(200, "ui: the sign-in form is public"),
    ("POST", "/ui/signin"): UiRule(403, "ui: signing in without the form's CSRF token is refused"),
    ("POST", "/ui/signout"): UiRule(303, "ui: signing out without a session just goes to sign-in"),
}

SKIPPED_PATHS = ("/docs", "/openapi.json", "/redoc", "/health/")

BORDER_ACTIONS = frozenset({"complete_screening", "refer", "make_application"}) | {
    # Issue #19: profiling at entry records the needs found and the information given.
    "record_vulnerability",
    "record_information_given",
}


def contract_roles(action: str) -> frozenset[str]:
    """Who may take `action`, as shared/api.md's role table says."""
    if action == "migrate_rules":
        return frozenset()  # recorded by `asylumflow rules migrate` only, never through the API
    roles = {SUPERVISOR}
    if action != "review_abandonment":
        roles.add(CASEWORKER)
    if action in BORDER_ACTIONS:
        roles.add(BORDER)
    if action == "record_contact":
        roles.add(LEGAL_AID)
    return frozenset(roles)


TYPED_ACTIONS: dict[tuple[str, str], str] = {
    ("POST", f"/cases/{{case_id}}/actions/{action.value}"): action.value for action in Action
}
"""One typed operation per action. Probed over HTTP through the `{action}` rows above (their
URLs reach these routes); checked here for their declared roles."""


def app_routes(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    """Every (method, path template, route) of the app's API routes, minus docs and health."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path
        if not isinstance(route, APIRoute) or path is None or path.startswith(SKIPPED_PATHS):
            continue
        for method in sorted(context.methods or ()):
            if method != "HEAD":
                yield method, path, route


def declared_roles(dependant: Dependant) -> set[frozenset[str]]:
    """The `allowed_roles` of every `require_role` checker among a route's dependencies."""
    found: set[frozenset[str]] = set()
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "allowed_roles", None)
        if roles is not None:
            found.add(frozenset(roles))
        found |= declared_roles(dep)
    return found


def test_every_route_has_a_rule() -> None:
    app = create_app()
    routes = {(m, p): r for m, p, r in app_routes(app)}
    typed = {key: routes.pop(key) for key in TYPED_ACTIONS if key in routes}
    assert set(typed) == set(TYPED_ACTIONS), "every action has its own typed operation"
    wrong = [
        key
        for key, route in typed.items()
        if contract_roles(TYPED_ACTIONS[key]) not in declared_roles(route.dependant)
    ]
    assert not wrong, f"typed action routes whose roles are not the contract's: {wrong}"
    missing = sorted(set(routes) - set(RULES))
    stale = sorted(set(RULES) - set(routes))
    assert not missing, f"routes without an access rule in RULES: {missing}"
    assert not stale, f"rules for routes the app no longer has: {stale}"
    # Where a route declares its roles with `require_role`, they must be the table's.
    drift = []
    for key, route in routes.items():
        rule = RULES[key]
        expected = (
            frozenset().union(*(r.roles for r in rule.actions.values()))
            if isinstance(rule, ActionRule)
            else rule.roles
            if isinstance(rule, Rule)
            else None
        )
        declared = declared_roles(route.dependant)
        if expected is not None and declared and declared != {expected}:
            drift.append(
                f"{key}: require_role {sorted(map(sorted, declared))} != {sorted(expected)}"
            )
    assert not drift, "require_role disagrees with RULES:\n" + "\n".join(drift)


# ---------------------------------------------------------------------------------------------
# The matrix over HTTP


@dataclass(frozen=True)
class Principal:
    """Who sends the request: a user (by its name in `Api.tokens`) or nobody."""

    label: str
    role: str | None
    user: str | None


PRINCIPALS = (
    Principal("none", None, None),
    Principal("revoked", None, "revoked"),
    Principal("border", BORDER, "officer"),
    Principal("cw", CASEWORKER, "cw"),
    Principal("sup", SUPERVISOR, "sup"),
    Principal("la-own", LEGAL_AID, "la-a"),
    Principal("la-other", LEGAL_AID, "la-b"),
    Principal("border-other", BORDER, "officer-b"),
    Principal("admin", ADMIN, "admin"),
    Principal("monitor", MONITOR, "monitor"),
)


ACTION_BODIES: dict[str, dict[str, Any]] = {
    "complete_screening": {},
    "decide": {"outcome": "rejected"},
    "review_abandonment": {"confirm": False},
    "record_contact": {"note": "access matrix"},
    "record_monitor_consent": {"given": True},
    "assign_accommodation": {"centre": "matrix-centre"},
    "order_detention": {"ground": "access matrix probe"},
    "lodge_further_appeal": {},
    "decide_further_appeal": {"result": "dismissed"},
    "refuse_return_consent": {"withdrawn": True},
    "record_return_decision": {"departure_days": 30},
    "grant_toleration": {},
    "decide_family_reunification": {"outcome": "refused"},
    "submit_for_resettlement": {"to_state": "SE"},
    "request_take_charge": {"to_state": "DE"},
    "record_responsibility_reply": {"accepted": True},
    "record_transfer": {},
}


@dataclass(frozen=True)
class Probe:
    """One request to make: the table key, a label for the summary and the request itself."""

    key: tuple[str, str]
    label: str
    rule: Rule | UiRule
    method: str
    url: str
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)


def probes(seed: Seed) -> list[Probe]:
    """One probe per route (one per representative action on the action routes)."""
    params = {
        "case_id": seed.case_id,
        "duplicate_id": str(seed.duplicate_id),
        "webhook_id": str(seed.webhook_id),
        "name": "spare",  # the user admins revoke
        "table": "applicants",
        "interpreter_id": "matrix-1",
        "centre_id": "matrix-centre",
    }
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/cases"): case_body(),
        ("POST", "/cases/search"): {"q": "Matrix Probe"},
        ("POST", "/supervision/reassign"): {"from_user": "cw", "to_user": "sup"},
        ("POST", "/legal-aid/webhooks"): {"url": "http://127.0.0.1:9/matrix"},
        ("POST", "/users"): {"name": "made-by-matrix", "role": "caseworker"},
        ("POST", "/codec/decode"): {"payloads": []},
        ("POST", "/codec/encode"): {"payloads": []},
        ("POST", "/interpreters"): {"id": "matrix-1", "name": "Matrix", "languages": ["ar"]},
        ("POST", "/interpreters/{interpreter_id}/availability"): {"available": False},
        ("POST", "/reception/centres"): {
            "id": "matrix-centre",
            "name": "Matrix",
            "jurisdiction": "rs",
            "capacity": 2,
        },
        ("PUT", "/reception/centres/{centre_id}"): {"capacity": 3},
    }
    result = []
    for key, rule in RULES.items():
        method, template = key
        if isinstance(rule, UiRule):
            url = template.format(
                case_id=seed.case_id, name="overdue", table="applicants", action="decide"
            )
            result.append(Probe(key, f"{method} {template}", rule, method, url))
            continue
        url = template.format(**{**params, "action": "{action}"})
        if isinstance(rule, ActionRule):
            for action, action_rule in rule.actions.items():
                body = {"on": today().isoformat(), **ACTION_BODIES[action]}
                single = url.replace("{action}", action) if "{action}" in url else url
                payload = body if "{action}" in url else {"actions": [{"action": action, **body}]}
                label = f"{method} {template} [{action}]"
                result.append(Probe(key, label, action_rule, method, single, payload))
            continue
        result.append(Probe(key, f"{method} {template}", rule, method, url, bodies.get(key)))
    # Deleting the webhook last keeps it in place for the other webhook routes.
    return sorted(result, key=lambda p: p.method == "DELETE")


def verdict(rule: Rule, who: Principal, status: int) -> str | None:
    """Why `status` is wrong for `who` under `rule`, or None when it is right."""
    if who.role is None:
        return None if status == 401 else "expected 401"
    if who.role not in rule.roles:
        return None if status == 403 else "expected 403"
    if who.label in ("la-other", "border-other") and rule.scope != "none":
        return None if status == 404 else "expected 404 (a case or resource out of its reach)"
    if status in (401, 403) or status >= 500 or (status == 404 and rule.scope != "none"):
        return "expected an allowed status"
    return None


def leak(seeded: Seed, who: Principal, text: str) -> str | None:
    """A seeded case id in an answer to someone who may not read that case, if any."""
    if who.user is None or who.role in (CASEWORKER, SUPERVISOR, ADMIN):
        return None  # staff read every case; admins read ids in the audit log only
    hidden = seeded.case_ids - seeded.readable.get(who.user, set())
    shown = sorted(cid for cid in hidden if cid in text)
    return f"names case(s) {shown} it may not read" if shown else None


async def test_access_matrix(api: Api) -> None:
    seeded = await seed(api)
    mismatches: list[str] = []
    rows: list[tuple[str, list[str]]] = []
    send = api.http.request
    for probe in probes(seeded):
        cells: list[str] = []
        if isinstance(probe.rule, UiRule):
            response = await send(probe.method, probe.url)
            status, problem = response.status_code, None
            if status != probe.rule.anonymous:
                problem = f"expected {probe.rule.anonymous} ({probe.rule.note})"
            elif probe.rule.to_signin and not response.headers["location"].startswith("/ui/signin"):
                problem = f"redirects to {response.headers['location']}, not the sign-in form"
            if problem:
                mismatches.append(f"{probe.label} as none: {status}: {problem}")
            rows.append((probe.label, [str(status)] + ["·"] * (len(PRINCIPALS) - 1)))
            continue
        for who in PRINCIPALS:
            headers = api.auth(who.user) if who.user else {}
            response = await send(probe.method, probe.url, json=probe.json, headers=headers)
            status = response.status_code
            problem = verdict(probe.rule, who, status) or leak(seeded, who, response.text)
            if problem:
                mismatches.append(
                    f"{probe.label} as {who.label}: {status}: {problem}: {response.text[:200]}"
                )
            cells.append(f"{status}{'!' if problem else ''}")
        rows.append((probe.label, cells))
    width = max(len(label) for label, _ in rows)
    header = " ".join(f"{p.label:>8}" for p in PRINCIPALS)
    lines = [f"{'route':<{width}} {header}"]
    lines += [f"{label:<{width}} " + " ".join(f"{c:>8}" for c in cells) for label, cells in rows]
    summary = "\n".join(lines)
    print(summary)
    checked = sum(len(cells) - cells.count("·") for _, cells in rows)
    assert not mismatches, (
        f"{len(mismatches)} of {checked} requests got the wrong status:\n"
        + "\n".join(mismatches)
        + "\n\n"
        + summary
    )
    # Every key of the table was exercised (the route-table test checks the app against it).
    assert {p.key for p in probes(seeded)} == set(RULES)
