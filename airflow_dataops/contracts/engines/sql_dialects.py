"""What the SQL engine must know about MySQL/MariaDB, DuckDB and PostgreSQL to give pandas' verdicts, or refuse.

The pandas engine is the reference: patterns are Python ``re.search``, strings are compared code
point by code point.  Two places where these warehouses differ, and what we do:

* **Patterns.**  MySQL/MariaDB ``REGEXP`` is PCRE, case-insensitive under a ``_ci`` collation:
  the pattern is sent as ``(?-i)`` + pattern.  DuckDB's ``~`` is a *full* match; we use
  ``regexp_matches`` (a search), RE2 syntax: Python's ``$`` (end, or before a final newline) is
  sent as ``(?:\\n?\\z)`` and ``\\Z`` as ``\\z``.  PostgreSQL's ``~`` is a search in its own ARE
  syntax, where ``$`` is the end only, ``.`` also matches a newline and ``\\xhh`` takes any number of
  hex digits: Python's ``$`` is sent as ``(?:\\n?$)``, ``.`` as ``[^\\n]`` and ``\\xhh`` as ``\\u00hh``.
  The engines' ``\\d \\s`` are ASCII- or locale-bound where Python's are Unicode: they are sent as
  explicit classes (Unicode ``Nd``; every ``str.isspace()`` character).  ``\\w \\b`` (Python's
  Unicode word characters) and, on RE2, look-around and back-references are refused with the
  reason, never run with other semantics.  Anything else the warehouse's regex engine cannot
  compile is refused with its own error (:func:`unusable_patterns`).
* **Text comparison (MySQL/MariaDB).**  A ``_ci`` collation says ``'a' = 'A'``, and every
  PAD SPACE collation (``utf8mb4_bin`` included) says ``'a' = 'a '``: valid values, missing
  markers, duplicates and foreign keys on such a column would be counted differently.  Those
  rules are not run there (they fail with the reason and the fix: a binary NO PAD collation such
  as ``utf8mb4_nopad_bin``), and a partition column with such a collation is refused.
"""

from __future__ import annotations

import functools
import re

try:  # Python 3.11+
    from re import _constants as _sre  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]
from collections.abc import Mapping
from typing import Any

from airflow_dataops.warehouse import MYSQL, inexact_text_columns

#: dialects that cannot make a savepoint read-only (``sql`` rules need a transaction of their own)
NO_READ_ONLY_SAVEPOINT = (*MYSQL, "duckdb")


class PatternRefused(ValueError):
    """A pattern this warehouse's regex engine would read differently from Python's ``re``."""


#: the regex syntax each dialect's pattern is sent in (SQLite runs Python's ``re`` itself, or GLOB)
FLAVORS = {"mysql": "pcre", "mariadb": "pcre", "duckdb": "re2", "postgresql": "are"}
_ENGINE_NAMES = {
    "pcre": "PCRE (MySQL/MariaDB REGEXP)",
    "re2": "RE2 (DuckDB)",
    "are": "PostgreSQL's regular expressions",
}


def pattern_for(pattern: str, dialect: str) -> str:
    """The pattern to send to ``dialect``'s regex function for ``re.search(pattern, value)``'s verdict.

    :raises PatternRefused: the pattern uses what this engine reads differently (see the module doc).
    """
    flavor = FLAVORS.get(dialect)
    if flavor is None:
        return pattern
    for reason in _differences(pattern, re2=flavor == "re2"):
        raise PatternRefused(f"pattern {pattern!r} {reason} in {_ENGINE_NAMES[flavor]}; {_FIX}")
    translated = _translate(pattern, flavor)
    return "(?-i)" + translated if flavor == "pcre" else translated


_FIX = "rewrite the pattern (e.g. [A-Za-z0-9_] instead of \\w) or check this rule with engine='pandas'"
#: Python's ``\s`` on str: every character for which ``str.isspace()`` is true.
#: (pinned by tests/unit/contracts/test_sql_dialects.py against ``str.isspace`` over all of Unicode)
_SPACE = (
    "\\x{9}\\x{a}\\x{b}\\x{c}\\x{d}\\x{1c}\\x{1d}\\x{1e}\\x{1f}\\x{20}\\x{85}\\x{a0}\\x{1680}"
    "\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
)


def _are_char(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


#: Python's ``\\d`` on str: the Unicode decimal digits (category Nd) as this Python's ``re`` knows
#: them, as code point ranges (pinned by tests/unit/contracts/test_sql_dialects.py against ``re``
#: over all of Unicode: a Python with a newer Unicode database fails that test until it is updated)
DIGITS = (
    (0x30, 0x39), (0x660, 0x669), (0x6F0, 0x6F9), (0x7C0, 0x7C9), (0x966, 0x96F), (0x9E6, 0x9EF),
    (0xA66, 0xA6F), (0xAE6, 0xAEF), (0xB66, 0xB6F), (0xBE6, 0xBEF), (0xC66, 0xC6F), (0xCE6, 0xCEF),
    (0xD66, 0xD6F), (0xDE6, 0xDEF), (0xE50, 0xE59), (0xED0, 0xED9), (0xF20, 0xF29), (0x1040, 0x1049),
    (0x1090, 0x1099), (0x17E0, 0x17E9), (0x1810, 0x1819), (0x1946, 0x194F), (0x19D0, 0x19D9),
    (0x1A80, 0x1A89), (0x1A90, 0x1A99), (0x1B50, 0x1B59), (0x1BB0, 0x1BB9), (0x1C40, 0x1C49),
    (0x1C50, 0x1C59), (0xA620, 0xA629), (0xA8D0, 0xA8D9), (0xA900, 0xA909), (0xA9D0, 0xA9D9),
    (0xA9F0, 0xA9F9), (0xAA50, 0xAA59), (0xABF0, 0xABF9), (0xFF10, 0xFF19), (0x104A0, 0x104A9),
    (0x10D30, 0x10D39), (0x11066, 0x1106F), (0x110F0, 0x110F9), (0x11136, 0x1113F), (0x111D0, 0x111D9),
    (0x112F0, 0x112F9), (0x11450, 0x11459), (0x114D0, 0x114D9), (0x11650, 0x11659), (0x116C0, 0x116C9),
    (0x11730, 0x11739), (0x118E0, 0x118E9), (0x11950, 0x11959), (0x11C50, 0x11C59), (0x11D50, 0x11D59),
    (0x11DA0, 0x11DA9), (0x16A60, 0x16A69), (0x16AC0, 0x16AC9), (0x16B50, 0x16B59), (0x1D7CE, 0x1D7FF),
    (0x1E140, 0x1E149), (0x1E2F0, 0x1E2F9), (0x1E950, 0x1E959), (0x1FBF0, 0x1FBF9),
)  # fmt: skip
_ARE_DIGITS = "".join(f"{_are_char(lo)}-{_are_char(hi)}" for lo, hi in DIGITS)
#: :data:`_SPACE` with PostgreSQL's ``\\uhhhh`` escapes for PCRE's ``\\x{h}``
_ARE_SPACE = re.sub(r"\\x\{([0-9a-f]+)\}", lambda m: _are_char(int(m.group(1), 16)), _SPACE)


def _differences(pattern: str, *, re2: bool) -> list[str]:
    """What no translation can make mean the same on this engine."""
    try:
        parsed = _sre_parse.parse(pattern)
    except re.error as e:
        return [f"is not a valid regular expression ({e})"]
    found: list[str] = []

    def walk(items: Any) -> None:
        for op, arg in items:
            if op is _sre.IN:
                for sub_op, sub_arg in arg:
                    if sub_op is _sre.CATEGORY and sub_arg in (_sre.CATEGORY_WORD, _sre.CATEGORY_NOT_WORD):
                        found.append("uses \\w or \\W, whose Unicode letters differ from Python's")
            elif op is _sre.AT and arg in (_sre.AT_BOUNDARY, _sre.AT_NON_BOUNDARY):
                found.append("uses \\b or \\B, whose word characters differ from Python's")
            elif op in (_sre.ASSERT, _sre.ASSERT_NOT) and re2:
                found.append("uses a look-ahead or look-behind, which does not exist")
            elif op in (_sre.GROUPREF, _sre.GROUPREF_EXISTS) and re2:
                found.append("uses a back-reference, which does not exist")
            for value in arg if isinstance(arg, (list, tuple)) else (arg,):
                if isinstance(value, _sre_parse.SubPattern):
                    walk(value)
                elif isinstance(value, (list, tuple)):
                    for v in value:
                        if isinstance(v, _sre_parse.SubPattern):
                            walk(v)

    walk(parsed)
    return found


def _translate(pattern: str, flavor: str) -> str:
    """Python's Unicode ``\\d``/``\\s`` as explicit classes; ``\\Z`` as ``\\z`` (PCRE, RE2: their ``\\Z`` also
    matches before a final newline); Python's ``$`` (end, or before a final newline) as ``(?:\\n?\\z)`` on
    RE2 and ``(?:\\n?$)`` on PostgreSQL (whose ``$`` is the end only); on PostgreSQL ``.`` as ``[^\\n]``
    (its ``.`` matches a newline) and ``\\xhh`` as ``\\u00hh`` (its ``\\x`` takes any number of digits).
    Character classes are kept apart."""
    are = flavor == "are"
    space = _ARE_SPACE if are else _SPACE
    digit = _ARE_DIGITS if are else "\\p{Nd}"
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            pair = pattern[i : i + 2]
            if pair == "\\d":
                out.append(digit if in_class or not are else f"[{digit}]")
            elif pair == "\\D":
                if in_class and are:
                    raise PatternRefused(
                        f"pattern {pattern!r} uses \\D inside a character class, which has no exact "
                        f"translation; {_FIX}"
                    )
                out.append(f"[^{digit}]" if are else "\\P{Nd}")
            elif pair == "\\s":
                out.append(space if in_class else f"[{space}]")
            elif pair == "\\S":
                if in_class:
                    raise PatternRefused(
                        f"pattern {pattern!r} uses \\S inside a character class, which has no exact "
                        f"translation; {_FIX}"
                    )
                out.append(f"[^{space}]")
            elif pair == "\\Z" and not in_class and not are:
                out.append("\\z")
            elif pair == "\\x" and are and re.fullmatch(r"[0-9a-fA-F]{2}", pattern[i + 2 : i + 4]):
                out.append("\\u00" + pattern[i + 2 : i + 4])
                i += 4
                continue
            else:
                out.append(pair)
            i += 2
            continue
        if in_class:
            if ch == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            out.append(ch)
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                out.append("[^")
                i += 2
                continue
            out.append(ch)
        elif ch == "$" and flavor in ("re2", "are"):
            out.append("(?:\\n?\\z)" if flavor == "re2" else "(?:\\n?$)")
        elif ch == "." and are:
            out.append("[^\\n]")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def unusable_patterns(conn: Any, patterns: set[str]) -> dict[str, str]:
    """Pattern -> why it cannot be checked on this MySQL/MariaDB, DuckDB or PostgreSQL connection
    (empty elsewhere).

    Each pattern is translated (:func:`pattern_for`) and compiled once by the warehouse's own regex
    engine: on MySQL/MariaDB and PostgreSQL by the server, in a savepoint (or a transaction of its
    own), so a rejected pattern never aborts the caller's transaction; on DuckDB by a private
    in-memory database of the same library (DuckDB aborts a transaction on any error).
    """

    dialect = conn.dialect.name
    if dialect not in FLAVORS or not patterns:
        return {}
    out: dict[str, str] = {}
    for pattern in sorted(patterns):
        try:
            sent = pattern_for(pattern, dialect)
        except PatternRefused as e:
            out[pattern] = str(e)
            continue
        rejected = _duckdb_rejects(sent) if dialect == "duckdb" else _server_rejects(conn, sent)
        if rejected is not None:
            out[pattern] = (
                f"pattern {pattern!r} is refused by the warehouse's regex engine ({rejected}); {_FIX}"
            )
    return out


def _server_rejects(conn: Any, sent: str) -> str | None:
    """The server's error compiling ``sent`` (its first line), or ``None``."""
    import sqlalchemy as sa

    try:
        with conn.begin_nested() if conn.in_transaction() else conn.begin():
            conn.execute(sa.select(sa.literal("").regexp_match(sa.bindparam("p", sent)))).scalar()
    except sa.exc.DBAPIError as e:
        text = str(e.orig or e).strip().splitlines()
        return (text[0] if text else type(e).__name__)[:200]
    return None


@functools.lru_cache(maxsize=256)
def _duckdb_rejects(sent: str) -> str | None:
    """DuckDB's error compiling ``sent`` (its first line), or ``None``: the library's RE2 decides,
    the same for every database, so the answer is kept (opening a database costs milliseconds)."""
    import duckdb

    try:
        with duckdb.connect(":memory:") as probe:
            probe.execute("SELECT regexp_matches('', ?)", [sent]).fetchall()
    except duckdb.Error as e:
        text = str(e).strip().splitlines()
        return (text[0] if text else type(e).__name__)[:200]
    return None


def collation_reason(column: str, collation: str) -> str:
    return (
        f"not run: column {column!r} has collation {collation}, which compares text inexactly "
        "('a' = 'A' or 'a' = 'a '); give it a binary NO PAD collation (ALTER TABLE ... MODIFY "
        f"{column} ... COLLATE utf8mb4_nopad_bin) or check it with engine='pandas'"
    )


#: measure kinds that compare text values with each other or with the contract's values
_COMPARING = frozenset({"missing", "duplicates", "tuple_duplicates", "orphans"})


def refusals(
    conn: Any, measures: Any, *, table: str, db_schema: str | None, partition_column: str | None
) -> dict[Any, str]:
    """Measure -> why this MySQL/MariaDB, DuckDB or PostgreSQL connection cannot take it as pandas
    would (empty on other dialects).

    :raises ValueError: the partition column itself compares inexactly (the partition cannot be
        told apart from its neighbours).
    """
    if conn.dialect.name not in FLAVORS:
        return {}
    measures = list(measures)
    out: dict[Any, str] = {}
    unusable = unusable_patterns(conn, {m.pattern for m in measures if m.pattern})
    inexact = inexact_text_columns(conn, table, db_schema)
    if partition_column in inexact:
        raise ValueError(
            f"partition column {partition_column!r} of {table!r} has collation {inexact[partition_column]}, "
            "which compares text inexactly ('a' = 'A' or 'a' = 'a '), so one partition cannot be told "
            f"from another; give it a binary NO PAD collation (COLLATE utf8mb4_nopad_bin)"
        )
    for m in measures:
        if m.pattern and m.pattern in unusable:
            out[m] = f"not run: {unusable[m.pattern]}"
            continue
        compares = m.kind in _COMPARING or (m.kind == "invalid" and m.valid_values is not None)
        if compares and (cols := [c for c in m.columns if c in inexact]):
            out[m] = collation_reason(cols[0], inexact[cols[0]])
    return out


#: the share of a column's rows its matching most common values must cover for the lookup to pay:
#: a value outside them pays for the lookup and the regex (measured on 3.4M rows: the lookup costs
#: about a quarter of ``~`` on a short code)
COMMON_MIN_SHARE = 0.5


def common_matches(
    conn: Any, table: str, db_schema: str | None, measures: Any, families: Mapping[str, str | None]
) -> dict[tuple[str, str], tuple[str, ...]]:
    """``(column, pattern)`` -> the column's most common values that match the pattern, on PostgreSQL.

    PostgreSQL's statistics (``pg_stats.most_common_vals``, kept by ANALYZE and autovacuum) name
    the values most rows hold.  Those that match a pattern are asked of the server's own regex
    engine, with the pattern as the gate sends it, before the scan; in the scan a value among them
    is known to match by a hashed lookup and only the others run the regex.  The verdicts are the
    same whatever the statistics' age (a value is known to match or is checked); what stale or
    missing statistics cost is speed only.  Only for text columns and patterns of literals and
    ASCII classes (:func:`~.sql_elements.simple_pattern`, which no collation reads differently),
    when the matching values cover :data:`COMMON_MIN_SHARE` of the rows; empty elsewhere.
    """
    from airflow_dataops.contracts.engines.sql_elements import simple_pattern

    if conn.dialect.name != "postgresql":
        return {}
    wanted = {
        (m.column, m.pattern)
        for m in measures
        if m.kind in ("invalid", "format")
        and m.pattern
        and families.get(m.column) == "string"
        and simple_pattern(m.pattern) is not None
    }
    if not wanted:
        return {}
    import sqlalchemy as sa

    quote = conn.dialect.identifier_preparer.quote_identifier
    relation = f"{quote(db_schema)}.{quote(table)}" if db_schema else quote(table)
    query = sa.text(
        "SELECT array_agg(u.v ORDER BY u.f DESC), sum(u.f) FROM ("
        "  SELECT s.most_common_vals::text::text[] AS vals, s.most_common_freqs AS freqs"
        "  FROM pg_stats s JOIN pg_namespace n ON n.nspname = s.schemaname"
        "  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename"
        "  WHERE c.oid = to_regclass(:relation) AND s.attname = :column"
        "  ORDER BY s.inherited DESC LIMIT 1"
        ") AS st, unnest(st.vals, st.freqs) AS u(v, f) WHERE u.v ~ :pattern"
    )
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    try:
        # in a savepoint: a statistics query that fails costs the shortcut, never the caller's
        # transaction (PostgreSQL aborts it on any error) or the gate
        with conn.begin_nested() if conn.in_transaction() else conn.begin():
            for column, pattern in sorted(wanted):
                sent = pattern_for(pattern, "postgresql")
                params = {"relation": relation, "column": column, "pattern": sent}
                values, share = conn.execute(query, params).one()
                if values and (share or 0) >= COMMON_MIN_SHARE:
                    out[(column, pattern)] = tuple(values)
    except (sa.exc.DBAPIError, PatternRefused):
        return {}
    return out
