"""Sealing special-category detail in SQL (core/sealed.py)."""

from __future__ import annotations

import pytest

from core.codec import CodecError, new_key
from core.sealed import PREFIX, seal, unseal
from core.settings import Settings


def _settings(**env: object) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[arg-type]


def test_without_a_key_values_are_stored_as_given() -> None:
    plain = _settings()
    assert seal("asthma", "referral.detail", plain) == "asthma"
    assert unseal("asthma", "referral.detail", plain) == "asthma"
    assert seal(None, "referral.detail", plain) is None


def test_with_a_key_the_value_is_sealed_and_bound_to_its_column() -> None:
    keyed = _settings(ASYLUMFLOW_ENCRYPTION_KEY=new_key())
    stored = seal("risk of self-harm", "detention.vulnerability", keyed)
    assert stored is not None and stored.startswith(PREFIX)
    assert "self-harm" not in stored
    assert seal("risk of self-harm", "detention.vulnerability", keyed) != stored  # fresh nonce
    assert unseal(stored, "detention.vulnerability", keyed) == "risk of self-harm"
    with pytest.raises(CodecError, match="failed authentication"):
        unseal(stored, "detention.ground", keyed)
    with pytest.raises(CodecError, match="no ASYLUMFLOW_ENCRYPTION_KEY"):
        unseal(stored, "detention.vulnerability", _settings())


def test_rows_sealed_before_a_rotation_still_open() -> None:
    old = new_key()
    before = _settings(ASYLUMFLOW_ENCRYPTION_KEY=old, ASYLUMFLOW_ENCRYPTION_KEY_ID="k1")
    stored = seal("age assessed: 16", "age_assessment.detail", before)
    after = _settings(
        ASYLUMFLOW_ENCRYPTION_KEY=new_key(),
        ASYLUMFLOW_ENCRYPTION_KEY_ID="k2",
        ASYLUMFLOW_ENCRYPTION_OLD_KEYS=[f"k1:{old}"],
    )
    assert unseal(stored, "age_assessment.detail", after) == "age assessed: 16"
    assert seal("x", "p", after).startswith(f"{PREFIX}k2:")  # type: ignore[union-attr]
    with pytest.raises(CodecError, match="unknown key id"):
        unseal(
            stored,
            "age_assessment.detail",
            _settings(ASYLUMFLOW_ENCRYPTION_KEY=new_key(), ASYLUMFLOW_ENCRYPTION_KEY_ID="k2"),
        )
    with pytest.raises(CodecError, match="failed authentication"):  # another key under id k1
        unseal(stored, "age_assessment.detail", _settings(ASYLUMFLOW_ENCRYPTION_KEY=new_key()))
