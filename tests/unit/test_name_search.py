"""Search's name matching (db/duplicates.py): transliterations, typos, parts, and the bulk form."""

from __future__ import annotations

import random

import pytest

from db.duplicates import name_key, name_score, name_scores

STORED = "Zainab Qarawi"


@pytest.mark.parametrize(
    "typed",
    [
        "Zeinab Karawi",  # another transliteration, and a typo's worth of difference
        "Zaynab Al-Qarawi",
        "Зејнаб Карави",  # Serbian Cyrillic
        "زينب قراوي",  # Arabic: no short vowels
        "Zainb Qarawi",  # a letter left out
        "qarawi",  # a part of the name
        "Qarawi Zainab",  # another order
        "zainabqarawi",  # parts run together
    ],
)
def test_variants_of_a_name_are_found(typed: str) -> None:
    assert name_score(name_key(typed, ""), name_key(STORED, "")) >= 80


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Amina Haddad", STORED),
        ("Omar", "Amar Haddad"),  # another name, not a spelling
        ("Ahmed", "Hamid"),
        ("Zainab", "Zeynep Kara"),
        ("Karimi", STORED),
    ],
)
def test_other_names_are_not(typed: str, stored: str) -> None:
    assert name_score(name_key(typed, ""), name_key(stored, "")) == 0


def test_the_bulk_form_scores_as_one_at_a_time() -> None:
    rng = random.Random(7)
    syllables = ["za", "in", "ab", "qa", "ra", "wi", "ha", "dd", "am", "mo", "med", "al", "ey"]

    def word() -> str:
        return "".join(rng.choice(syllables) for _ in range(rng.randint(1, 3)))

    stored = [name_key(word(), f"{word()} {rng.choice(['', 'al', 'x'])}") for _ in range(3000)]
    for typed in ("Zeinab Karawi", "zainabqarawi", "mhmd", "al", "Haddad Amina", ""):
        key = name_key(typed, "")
        assert name_scores(key, stored) == [name_score(key, s) for s in stored], typed
