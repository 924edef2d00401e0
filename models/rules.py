"""Rule packs: the legal clocks of one version of one jurisdiction's law, as validated data.

A pack is a YAML file in `models/packs/` named after its id (`eu-2013.yaml`). Adding a
jurisdiction or a new version of a law is adding a file; no code knows a pack by name.

A pack is pinned by its id *and* the digest of its content (`RulePack.digest`). Correcting a pack
file under the same id changes new cases only: the content it replaces is kept in
`models/packs/superseded/<id>@<first 12 hex of its digest>.yaml`, and a case pinned to it keeps
computing with it until `asylumflow rules migrate` moves it, on the record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    field_validator,
    model_validator,
)

from models.enums import (
    Actor,
    ClockKind,
    ClockName,
    LegalEvent,
    Outcome,
    Procedure,
    Stage,
    Unit,
)

PACKS_DIR = Path(__file__).parent / "packs"
SUPERSEDED_DIR = PACKS_DIR / "superseded"

Fact = Literal[
    "to_other_authority",
    "mass_influx",
    "subsequent",
    "unaccompanied_child",
    "identified_at_border",
    "held_over_72h",
    "amm_transfer",
    "remanded",
    # Responsibility procedure (issue 20): set by the request that starts it.
    "take_charge",
    "take_back",
    "eurodac_hit",
]
"""Case facts a clock variant may depend on. None of them is personal data."""


class PackError(ValueError):
    """A rule pack is unknown, malformed, or no version covers the requested date."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Strict):
    """A legal period: a count and a unit."""

    n: int = Field(gt=0)
    unit: Unit

    def __str__(self) -> str:
        """Render as the API does: `9 months`, `1 month`, `3 working days`."""
        label = {
            Unit.DAYS: "day",
            Unit.WORKING_DAYS: "working day",
            Unit.WEEKS: "week",
            Unit.MONTHS: "month",
            Unit.SECONDS: "second",
            Unit.MINUTES: "minute",
        }[self.unit]
        return f"{self.n} {label}{'' if self.n == 1 else 's'}"

    @property
    def is_sub_day(self) -> bool:
        """Seconds or minutes: counted from the trigger's instant, not its day."""
        return self.unit in (Unit.SECONDS, Unit.MINUTES)

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse `9 months`, `15 working days`, `2 weeks` (also used for YAML shorthand)."""
        parts = text.strip().split(maxsplit=1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise ValueError(f"period {text!r} is not '<n> <unit>'")
        unit_text = parts[1].strip().lower().replace(" ", "_")
        if not unit_text.endswith("s"):
            unit_text += "s"
        try:
            unit = Unit(unit_text)
        except ValueError:
            allowed = ", ".join(u.value.replace("_", " ") for u in Unit)
            raise ValueError(
                f"unit {parts[1]!r} in period {text!r}: use one of {allowed}"
            ) from None
        return cls(n=int(parts[0]), unit=unit)


def _period_from_text(value: object) -> object:
    return Period.parse(value) if isinstance(value, str) else value


class Condition(_Strict):
    """A set of requirements on the case, all of which must hold."""

    procedure: list[Procedure] | None = None
    outcome: list[Outcome] | None = None
    facts: list[Fact] | None = None
    grounds: list[str] | None = None
    registered_before: date | None = Field(
        default=None,
        description="The application was registered before this day (the responsibility "
        "regime turns on the registration date: Regulation 2024/1351 Art 84(2), 85)",
    )
    registered_from: date | None = Field(
        default=None, description="The application was registered on or after this day"
    )

    def holds(self, situation: Situation) -> bool:
        """Whether the case's situation satisfies every requirement given."""
        registered = situation.registered_on
        if self.registered_before is not None and (
            registered is None or registered >= self.registered_before
        ):
            return False
        if self.registered_from is not None and (
            registered is None or registered < self.registered_from
        ):
            return False
        if self.procedure is not None and situation.procedure not in self.procedure:
            return False
        if self.outcome is not None and situation.outcome not in self.outcome:
            return False
        if self.facts is not None and not set(self.facts) <= situation.facts:
            return False
        return self.grounds is None or situation.grounds in self.grounds


class Situation(_Strict):
    """What clock variants are chosen by: procedure, outcome and rule-relevant facts."""

    procedure: Procedure = Procedure.REGULAR
    outcome: Outcome | None = None
    facts: frozenset[str] = frozenset()
    grounds: str | None = None
    registered_on: date | None = None
    """The registration date: which responsibility regime applies (not the pinned pack)."""


class ClockRule(_Strict):
    """One variant of one legal clock in a pack."""

    name: ClockName
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    trigger: LegalEvent
    period: Period | None = None
    no_figure: str | None = None
    kind: ClockKind = ClockKind.ACT
    actor: Actor
    rolls: bool
    pausable: bool = False
    met_by: list[LegalEvent] = Field(default_factory=list)
    cancelled_by: list[LegalEvent] = Field(default_factory=list)
    extensions: list[Period] = Field(default_factory=list)
    cap: Period | None = None
    when: list[Condition] = Field(default_factory=list)
    unless: list[Condition] = Field(default_factory=list)
    withdrawn_if: list[Condition] = Field(
        default_factory=list,
        description="An entitlement not granted, or withdrawn if already reached, once the case "
        "meets one of these (RCD 2024 Art 17(1): accelerated on APR Art 42(1)(a)-(f) grounds)",
    )
    citation: str
    unverified: bool = False
    note: str | None = None
    refuses_late: str | None = Field(
        default=None,
        description="The law takes the act that meets this clock after its due day as not "
        "done, with this consequence (Dublin III Art 21(1): a take-charge request out of time "
        "leaves responsibility here): such an act is refused, naming it",
    )
    # Tracks (issue 20): the act that starts the clock fixes its period (a return decision's
    # voluntary departure period); `period` is then the longest the law allows, `min_period`
    # the shortest.
    set_by_decision: bool = Field(
        default=False,
        description="The starting act fixes the period in days, between min_period and period",
    )
    min_period: Period | None = None

    _parse_period = field_validator("period", "cap", "min_period", mode="before")(_period_from_text)

    @field_validator("extensions", mode="before")
    @classmethod
    def _parse_extensions(cls, value: object) -> object:
        if isinstance(value, list):
            return [_period_from_text(v) for v in value]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ClockRule:
        if (self.period is None) == (self.no_figure is None):
            raise ValueError(
                f"clock {self.id}: give either a period or no_figure (what the law says instead)"
            )
        for extra in [*self.extensions, *([self.cap] if self.cap else [])]:
            if self.period is None or extra.unit != self.period.unit:
                raise ValueError(f"clock {self.id}: extensions and cap must use the period's unit")
        if self.cap and self.period and self.cap.n < self.period.n:
            raise ValueError(f"clock {self.id}: cap is shorter than the period")
        if self.kind is ClockKind.ENTITLEMENT and self.met_by:
            raise ValueError(f"clock {self.id}: an entitlement is reached, not met")
        if self.withdrawn_if and self.kind is not ClockKind.ENTITLEMENT:
            raise ValueError(f"clock {self.id}: only an entitlement can be withdrawn")
        if self.set_by_decision and (
            self.period is None
            or self.period.unit is not Unit.DAYS
            or (self.min_period is not None and self.min_period.unit is not Unit.DAYS)
            or self.extensions
        ):
            raise ValueError(f"clock {self.id}: a period set by decision is bounded in days")
        return self

    def days_bounds(self) -> tuple[int, int] | None:
        """The shortest and longest period, in days, a decision may fix (set_by_decision)."""
        if not self.set_by_decision or self.period is None:
            return None
        return (self.min_period.n if self.min_period else 1, self.period.n)

    @property
    def withdrawn_if_reason(self) -> str:
        """Why the entitlement is withdrawn, for the deadline's note."""
        return f"the case meets a withdrawal condition of {self.citation}"

    def withdrawn(self, situation: Situation) -> bool:
        """Whether the entitlement is not granted, or withdrawn, in the case's situation."""
        return any(c.holds(situation) for c in self.withdrawn_if)

    def applies(self, situation: Situation) -> bool:
        """Whether this variant is the one for the case's situation."""
        if self.when and not any(c.holds(situation) for c in self.when):
            return False
        return not any(c.holds(situation) for c in self.unless)

    def effective_period(self, extensions_taken: int) -> Period | None:
        """The period after `extensions_taken` extension steps, never beyond the cap."""
        if self.period is None:
            return None
        n = self.period.n + sum(step.n for step in self.extensions[:extensions_taken])
        if self.cap is not None:
            n = min(n, self.cap.n)
        return Period(n=n, unit=self.period.unit)

    def can_extend(self, extensions_taken: int) -> bool:
        """Whether one more extension step exists and the cap leaves room for it."""
        if extensions_taken >= len(self.extensions):
            return False
        current = self.effective_period(extensions_taken)
        nxt = self.effective_period(extensions_taken + 1)
        return current is not None and nxt is not None and nxt.n > current.n


_DIGESTS: dict[int, tuple[RulePack, str]] = {}
_DIGEST_CACHE_SIZE = 256


class RulePack(_Strict):
    """One version of one jurisdiction's procedural law."""

    id: str = Field(pattern=r"^[a-z]{2,}(-[a-z0-9]+)*-\d{4}$")
    family: str = Field(pattern=r"^[a-z]{2,}$")
    version: str
    title: str
    valid_from: date
    calendar: str = Field(description="ISO country code of the holiday calendar, or 'weekends'")
    timezone: str
    two_working_days: bool = Field(
        default=False, description="Reg 1182/71 Art 3(5): a period of 2+ days has 2 working days"
    )
    no_contact_days: int = Field(default=30, gt=0)
    service_levels: dict[Stage, PositiveInt] = Field(
        default_factory=dict,
        description="Days a case may stay in a stage before supervisors see it as stuck; "
        "overrides the built-in and configured levels for cases under this pack",
    )
    test_only: bool = Field(default=False, description="Test packs may count in seconds/minutes")
    child_exempt_procedures: list[Procedure] = Field(
        # The default is the rule the code had before packs said it (issue #19): contents
        # written before the key (superseded ones, which running cases stay pinned to) keep it.
        default_factory=lambda: [Procedure.ACCELERATED, Procedure.BORDER],
        description="Procedures an unaccompanied child may not be put in under this law "
        "(`assign_procedure` refuses them while the case is flagged unaccompanied_child)",
    )
    cancelled_by_default: list[LegalEvent] = Field(default_factory=list)
    source: str
    notes: list[str] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)
    # Tracks (issue 20): a default, so that the digest of a pack without it does not change.
    toleration: str | None = Field(
        default=None,
        description="Where the law gives a status to a person who cannot be returned: its "
        "citation (None: the law has none, and grant_toleration is refused)",
    )
    clocks: list[ClockRule]

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @field_validator("calendar")
    @classmethod
    def _known_calendar(cls, value: str) -> str:
        if value != "weekends":
            import holidays

            if value not in holidays.list_supported_countries():
                raise ValueError(f"no holiday calendar for country {value!r}")
        return value

    @model_validator(mode="after")
    def _unique_rules(self) -> RulePack:
        seen: set[str] = set()
        for clock in self.clocks:
            if clock.id in seen:
                raise ValueError(f"pack {self.id}: rule id {clock.id} appears twice")
            seen.add(clock.id)
        if not self.id.startswith(self.family + "-"):
            raise ValueError(f"pack {self.id}: id must start with its family {self.family!r}")
        return self

    @model_validator(mode="after")
    def _sub_day_units_only_in_test_packs(self) -> RulePack:
        for clock in self.clocks:
            if clock.period and clock.period.is_sub_day and not self.test_only:
                raise ValueError(f"pack {self.id}: seconds and minutes are for test packs only")
        return self

    @property
    def digest(self) -> str:
        """`sha256:` + hex SHA-256 of the parsed pack as canonical JSON (what pinning binds to).

        Canonical JSON: `json.dumps(model_dump(mode="json", exclude_defaults=True),
        sort_keys=True, separators=(",", ":"))`.

        Comments and layout of the YAML file do not count; any change of a figure, a date or a
        citation does. Cached per pack object (packs are frozen; a copy with changes is another
        object, with its own digest).
        """
        cached = _DIGESTS.get(id(self))
        if cached is not None and cached[0] is self:
            return cached[1]
        # Defaults left out: a field added to the pack format later (with a default) must not
        # change the digest of every pack, or no running case could find its pinned content.
        dumped = self.model_dump(mode="json", exclude_defaults=True)
        canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
        digest = "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        if len(_DIGESTS) >= _DIGEST_CACHE_SIZE:
            _DIGESTS.clear()
        # The pack is kept with its digest, so its id() cannot be reused by another object.
        _DIGESTS[id(self)] = (self, digest)
        return digest

    @property
    def short_digest(self) -> str:
        """The first 12 hex digits of the digest (superseded packs' file names use it)."""
        return self.digest.removeprefix("sha256:")[:12]

    @property
    def tz(self) -> ZoneInfo:
        """The jurisdiction's time zone, in which due days begin and end."""
        return ZoneInfo(self.timezone)

    def rule_ref(self, clock: ClockRule) -> str:
        """Globally unique reference of a clock rule, e.g. `eu-2013/rcd-15-1`."""
        return f"{self.id}/{clock.id}"

    def clock_for(self, name: ClockName, situation: Situation) -> ClockRule | None:
        """The variant of clock `name` that applies to the situation (first match wins)."""
        for clock in self.clocks:
            if clock.name is name and clock.applies(situation):
                return clock
        return None

    def clock_names(self) -> list[ClockName]:
        """The clocks this pack lists, in their order of first appearance."""
        return list(dict.fromkeys(c.name for c in self.clocks))


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it: the same documents, parsed about 13 times
faster than the pure-Python parser (0.017 against 0.22 s for the 16 packs), which every worker,
API and CLI process pays once at start; the pure-Python one where libyaml is missing."""


def load_pack_file(path: Path) -> RulePack:
    """Load and validate one pack file; its id must equal its file name.

    A superseded pack's file is named `<id>@<first 12 hex of its digest>.yaml`, and its content
    must still have that digest (a superseded content never changes).
    """
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
        pack = RulePack.model_validate(data)
    except (yaml.YAMLError, ValueError) as exc:
        raise PackError(f"rule pack {path.name}: {exc}") from exc
    stem, at, short = path.stem.partition("@")
    if pack.id != stem:
        raise PackError(f"rule pack {path.name}: id {pack.id!r} does not match the file name")
    if at and pack.short_digest != short:
        raise PackError(
            f"rule pack {path.name}: content digest {pack.digest} does not match the file name"
        )
    return pack


_pack_dirs: list[Path] = [PACKS_DIR]


def add_pack_directory(directory: Path) -> None:
    """Also load the packs in `directory` (e.g. test packs counting in seconds).

    Its `superseded/` folder, if any, holds earlier contents of its packs.
    """
    if directory not in _pack_dirs:
        _pack_dirs.append(directory)
        all_packs.cache_clear()
        superseded_packs.cache_clear()
        _by_digest.cache_clear()


@cache
def all_packs() -> tuple[RulePack, ...]:
    """Every pack known, sorted by family and date of entry into force."""
    packs = [load_pack_file(p) for d in _pack_dirs for p in sorted(d.glob("*.yaml"))]
    ids = [p.id for p in packs]
    if len(ids) != len(set(ids)):
        raise PackError(f"a pack id appears twice: {sorted(ids)}")
    return tuple(sorted(packs, key=lambda p: (p.family, p.valid_from)))


@cache
def superseded_packs() -> tuple[RulePack, ...]:
    """Earlier contents of the packs, kept so that cases pinned to them keep their figures."""
    packs = [
        load_pack_file(p) for d in _pack_dirs for p in sorted((d / "superseded").glob("*.yaml"))
    ]
    current = {p.digest for p in all_packs()}
    return tuple(p for p in packs if p.digest not in current)


@cache
def _by_digest() -> dict[tuple[str, str | None], RulePack]:
    """Every content by (id, digest), and the current one also by (id, None)."""
    found: dict[tuple[str, str | None], RulePack] = {
        (p.id, p.digest): p for p in superseded_packs()
    }
    found.update({(p.id, p.digest): p for p in all_packs()})
    # Every case asks for its pack many times per action: a lookup, not a scan of the packs.
    found.update({(p.id, None): p for p in all_packs()})
    return found


def pack_contents(pack_id: str) -> list[RulePack]:
    """Every known content of `pack_id`: the superseded ones, then the current one."""
    return [p for p in (*superseded_packs(), *all_packs()) if p.id == pack_id]


def families(packs: Iterable[RulePack] | None = None) -> list[str]:
    """Names of the jurisdictions (pack families) known."""
    return sorted({p.family for p in (packs if packs is not None else all_packs())})


def get_pack(pack_id: str, digest: str | None = None) -> RulePack:
    """A pack by its exact id: its current content, or the content with `digest`.

    `digest` may be the full `sha256:...` digest or a prefix of its hex digits (12 or more).
    """
    found = _by_digest().get((pack_id, digest))
    if found is not None:
        return found
    if digest is not None:
        hexpart = digest.removeprefix("sha256:")
        matches = [
            p
            for p in pack_contents(pack_id)
            if len(hexpart) >= 12 and p.digest.removeprefix("sha256:").startswith(hexpart)
        ]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(p.digest for p in pack_contents(pack_id)) or "none"
        raise PackError(f"rule pack {pack_id!r} has no content {digest!r}; known: {known}")
    known = ", ".join(p.id for p in all_packs())
    raise PackError(f"unknown rule pack {pack_id!r}; known packs: {known}")


def packs_with(pins: Mapping[str, str] | None) -> tuple[RulePack, ...]:
    """The current packs, with the pinned content (by id) in place of the current one."""
    if not pins:
        return all_packs()
    packs = [get_pack(p.id, pins[p.id]) if p.id in pins else p for p in all_packs()]
    return tuple(sorted(packs, key=lambda p: (p.family, p.valid_from)))


def pack_in_force(family: str, on: date, pins: Mapping[str, str] | None = None) -> RulePack:
    """The version of `family`'s law in force on `on` (with a case's pinned contents)."""
    versions = [p for p in packs_with(pins) if p.family == family]
    if not versions:
        raise PackError(f"unknown jurisdiction {family!r}; known: {', '.join(families())}")
    in_force = [p for p in versions if p.valid_from <= on]
    if not in_force:
        raise PackError(
            f"no {family} rule pack is in force on {on.isoformat()} "
            f"(earliest: {versions[0].id}, from {versions[0].valid_from.isoformat()})"
        )
    return in_force[-1]


def local_today(family: str, now: datetime) -> date:
    """The calendar day `now` falls on in `family`'s jurisdiction (its pack's timezone).

    Dates of acts are the jurisdiction's calendar days: just after midnight in Belgrade it is
    still the day before in UTC, and a server's own date would call today's act "future".
    """
    return now.astimezone(pack_in_force(family, now.astimezone(UTC).date()).tz).date()


def calendar_today(family: str | None = None, now: datetime | None = None) -> date:
    """Today in `family`'s jurisdiction; otherwise the latest day any jurisdiction is on.

    Lists and windows count days in the cases' calendars, not the server's (UTC): just after
    midnight in Belgrade a deadline due yesterday there is a day overdue already. Across
    jurisdictions (every pack today is on Central European time) the earliest calendar leads.
    """
    now = now or datetime.now(UTC)
    known = families()
    if family in known:
        return local_today(family, now)
    # No filter, or one no case can match (a list filtered by it is empty anyway).
    return max(local_today(f, now) for f in known)


def governing_pack(
    family: str,
    *,
    made: date | None,
    lodged: date | None,
    fallback: date,
    pins: Mapping[str, str] | None = None,
) -> tuple[RulePack, bool]:
    """Which pack governs a case, and whether that choice is final (pinned).

    APR Art 79(3): the law in force when the application is *lodged* governs it; before lodging,
    the version in force when it was *made* applies provisionally (or, before that, the one in
    force on `fallback`, usually the day of identification). `pins` (pack id -> digest) are the
    contents a case is bound to: a pinned case is judged by the packs it was pinned under.
    """
    if lodged is not None:
        return pack_in_force(family, lodged, pins), True
    return pack_in_force(family, made or fallback), False


def resolve_pack(name: str, *, made: date | None, lodged: date | None, fallback: date) -> RulePack:
    """Accept either an exact pack id or a family (version chosen from the dates)."""
    if name in {p.id for p in all_packs()}:
        return get_pack(name)
    if name in families():
        return governing_pack(name, made=made, lodged=lodged, fallback=fallback)[0]
    allowed = ", ".join([*families(), *(p.id for p in all_packs())])
    raise PackError(f"unknown pack {name!r}; use a family or pack id: {allowed}")
