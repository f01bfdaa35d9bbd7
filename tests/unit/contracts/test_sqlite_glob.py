"""On SQLite, simple anchored patterns compile to native GLOB: the verdict of ``re.search`` (what
our SQLite REGEXP runs), checked in a real SQLite. Other dialects keep their regex operator."""

from __future__ import annotations

import re
import warnings

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_dataops.contracts.engines.sql import _regexp, register_sqlite_regexp
from airflow_dataops.contracts.engines.sql_elements import PatternMatch, sqlite_glob


@pytest.mark.parametrize(
    ("pattern", "glob"),
    [
        ("^[A-Z0-9]{2}$", "[A-Z0-9][A-Z0-9]"),
        ("^[A-Z]{3}$", "[A-Z][A-Z][A-Z]"),
        ("^N[0-9]{3}[A-Z]{2}$", "N[0-9][0-9][0-9][A-Z][A-Z]"),
        (r"^\d{3}$", None),  # \d is Unicode digits in re: no exact GLOB
        ("^[A-Z]+$", None),
        ("^a.c$", None),
        ("[A-Z]{3}", None),  # unanchored: re.search finds it anywhere
        ("^[^A-Z]$", None),  # negated class
        (r"^a\*b\?c\[d\]$", "a[*]b[?]c[[]d]"),
        ("^(ab|cd)$", None),
        ("^a{2,3}$", None),
        (r"^\$$", "$"),  # an escaped dollar, then the anchor
        (r"^abc\$", None),  # no end anchor: the dollar is escaped
    ],
)
def test_translation(pattern, glob):
    assert sqlite_glob(pattern) == glob


def _matches(engine: sa.Engine, value: str | None, pattern: str) -> bool | None:
    with engine.connect() as conn:
        return conn.execute(sa.select(PatternMatch(sa.literal(value, sa.String), pattern))).scalar()


@pytest.fixture(scope="module")
def engine():
    eng = sa.create_engine("sqlite://")
    register_sqlite_regexp(eng)
    yield eng
    eng.dispose()


def test_the_statement_uses_glob_only_when_exact(engine):
    simple = sa.select(PatternMatch(sa.column("c"), "^[A-Z]{3}$"))
    regex = sa.select(PatternMatch(sa.column("c"), "^[A-Z]+$"))
    assert " GLOB " in str(simple.compile(engine)) and "REGEXP" not in str(simple.compile(engine))
    assert "REGEXP" in str(regex.compile(engine)) and " GLOB " not in str(regex.compile(engine))
    on_pg = str(simple.compile(dialect=sa.dialects.postgresql.dialect()))
    assert "GLOB" not in on_pg and "~" in on_pg


CLASSES = ["[A-Z]", "[a-z]", "[0-9]", "[A-Z0-9]", "[ABC-]", "[a-cx-z]", "[-_.]", "[*?]"]
LITERALS = [*"AZaz09N-_:/@,;'=#%&!~<>", r"\.", r"\*", r"\?", r"\[", r"\]", r"\-", r"\$", r"\^"]
ATOM = st.tuples(st.sampled_from(CLASSES + LITERALS), st.sampled_from(["", "{2}", "{3}"]))
SAMPLE_CHARS = "AZaz09BCbcxyN-_.*?[]:/@,;'=#%&!~<>$^\né\u00c0"


@st.composite
def pattern_and_value(draw):
    atoms = draw(st.lists(ATOM, min_size=1, max_size=5))
    pattern = "^" + "".join(a + q for a, q in atoms) + "$"
    # a value built to match (then maybe mutated), so both verdicts get exercised
    regex = re.compile(pattern)
    chars = []
    for atom, quant in atoms:
        n = int(quant[1:-1]) if quant else 1
        pool = [c for c in SAMPLE_CHARS if re.fullmatch(atom, c)] or ["A"]
        chars += [draw(st.sampled_from(pool)) for _ in range(n)]
    value = "".join(chars)
    assert regex.search(value) or not [c for c in value if c in SAMPLE_CHARS]
    mutate = draw(st.sampled_from(["none", "newline", "prefix", "suffix", "swap", "free"]))
    if mutate == "newline":
        value += "\n"  # re.search's "$" matches before a final newline
    elif mutate == "prefix":
        value = draw(st.sampled_from(SAMPLE_CHARS)) + value
    elif mutate == "suffix":
        value += draw(st.sampled_from(SAMPLE_CHARS))
    elif mutate == "swap" and value:
        i = draw(st.integers(0, len(value) - 1))
        value = value[:i] + draw(st.sampled_from(SAMPLE_CHARS)) + value[i + 1 :]
    elif mutate == "free":
        value = draw(st.text(alphabet=SAMPLE_CHARS, max_size=8))
    return pattern, value


@settings(max_examples=400, deadline=None)
@given(case=pattern_and_value())
def test_glob_gives_re_search_verdicts(engine, case):
    pattern, value = case
    assert sqlite_glob(pattern) is not None, pattern
    assert _matches(engine, value, pattern) == _regexp(pattern, value), (pattern, value)


@settings(max_examples=200, deadline=None)
@given(pattern=st.text(alphabet="^$[]{}AZ09az-\\.*+?()|,23", max_size=12), value=st.text(max_size=6))
def test_any_pattern_that_translates_agrees(engine, pattern, value):
    try:
        with warnings.catch_warnings():  # random text: re warns about "[[" (possible nested set)
            warnings.simplefilter("ignore", FutureWarning)
            re.compile(pattern)
    except re.error:
        return
    if sqlite_glob(pattern) is None:
        return
    assert _matches(engine, value, pattern) == _regexp(pattern, value), (pattern, value)


def test_null_stays_null(engine):
    assert _matches(engine, None, "^[A-Z]{3}$") is None
