"""Request and response shapes of the HTTP API (shared/api.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from api.text_safety import check_text
from models.actions import IsoDate
from models.enums import IdentifiedAt, Vulnerability

Sex = Literal["female", "male", "other", "unknown"]


_LATEST_ZONE = timezone(timedelta(hours=14))
"""The first zone to start each calendar day (Line Islands)."""


def _now() -> datetime:
    """The current instant (a function, so tests can move it to around midnight)."""
    return datetime.now(UTC)


class PersonIn(BaseModel):
    """The person behind a case. Stored in SQL only."""

    model_config = ConfigDict(extra="forbid")

    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    date_of_birth: IsoDate | None = None
    nationality: str | None = Field(
        default=None, description="ISO 3166-1 alpha-2 or alpha-3 code", examples=["SYR"]
    )
    sex: Sex = "unknown"
    biometric_ref: str | None = Field(
        default=None, max_length=128, description="Reference into a biometric system (exact match)"
    )

    @field_validator("given_name", "family_name", "biometric_ref")
    @classmethod
    def _visible_text(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value)

    @field_validator("nationality")
    @classmethod
    def _iso_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import pycountry

        code = value.strip().upper()
        found = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
        if found is None and len(code) == 3:
            found = pycountry.countries.get(alpha_3=code)
        if found is None:
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 or alpha-3 country code")
        return str(found.alpha_3)

    @field_validator("date_of_birth")
    @classmethod
    def _not_future(cls, value: date | None) -> date | None:
        # The person is not tied to one jurisdiction's calendar: future everywhere on Earth.
        if value is not None and value > _now().astimezone(_LATEST_ZONE).date():
            raise ValueError("date of birth is in the future")
        return value


class CaseCreate(BaseModel):
    """`POST /cases`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "jurisdiction": "rs",
                    "person": {
                        "given_name": "Amina",
                        "family_name": "Haddad",
                        "date_of_birth": "1994-03-02",
                        "nationality": "SYR",
                        "sex": "female",
                    },
                    "identified_on": "2026-11-20",
                    "identified_at": "border",
                    "vulnerabilities": [],
                    "legal_aid_org": None,
                }
            ]
        },
    )

    jurisdiction: str = Field(description="A family: eu, rs, me, pl…")
    person: PersonIn
    identified_on: IsoDate
    identified_at: IdentifiedAt = IdentifiedAt.BORDER
    vulnerabilities: list[Vulnerability] = Field(default_factory=list)
    legal_aid_org: str | None = Field(default=None, max_length=100)

    @field_validator("jurisdiction")
    @classmethod
    def _known_family(cls, value: str) -> str:
        from models.rules import families

        if value not in families():
            raise ValueError(f"unknown jurisdiction {value!r}; use one of {', '.join(families())}")
        return value

    @field_validator("identified_on")
    @classmethod
    def _not_future(cls, value: date, info: ValidationInfo) -> date:
        from models.rules import local_today

        # The jurisdiction's own calendar day, as the workflow counts (absent if it was wrong).
        family = info.data.get("jurisdiction")
        now = _now()
        today = local_today(family, now) if family else now.astimezone(_LATEST_ZONE).date()
        if value > today:
            raise ValueError("identified_on is in the future")
        if family:
            # The same check the workflow makes at start: a case needs a pack in force.
            from models.rules import PackError, pack_in_force

            try:
                pack_in_force(family, value)
            except PackError as exc:
                raise ValueError(str(exc)) from None
        return value


class Page(BaseModel):
    """A page of a list with an opaque cursor for the next one."""

    items: list[dict[str, Any]]
    next_cursor: str | None = None
    total: int | None = None


class SearchRequest(BaseModel):
    """`POST /cases/search`: what is typed goes in the body, never in a URL (personal data)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"q": "Zeinab Karawi"}, {"q": "RS-2026-000123"}]},
    )

    q: str = Field(
        min_length=1,
        max_length=200,
        description="A name (any transliteration, typos tolerated), an ISO date of birth, a "
        "case reference, or several of them",
    )
    limit: int = Field(default=20, ge=1, le=100)
