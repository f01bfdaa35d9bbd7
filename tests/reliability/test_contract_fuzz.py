"""Hostile contracts: random mutations of real contracts never escape as a traceback.

Every outcome is either a loaded contract or a ContractError that names the file and the
field (a YAML path) — never a KeyError, TypeError or AttributeError from deep inside.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reliability_report import record

from airflow_dataops.contracts.loader import parse_contract
from airflow_dataops.exceptions import ContractError

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [
    ROOT / "dags" / "contracts" / "flights.odcs.yaml",
    *sorted((ROOT / "tests" / "spec" / "odcs" / "examples").glob("*.yaml")),  # vendored: tests/spec/README.md
]
BASES = [yaml.safe_load(p.read_text()) for p in SEEDS]

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    st.sampled_from(
        ["mustBe", "nullValues", "percent", "rows", "d", "-1", "1e309", "'; DROP TABLE x; --", "<script>"]
    ),
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(doc: Any, path: tuple, action: str, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    if not path:
        return value if action == "replace" else doc
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif action == "add" and isinstance(parent[last], dict):
        parent[last]["unexpected" + str(abs(hash(str(value))) % 100)] = value
    return doc


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    base = draw(st.sampled_from(BASES))
    doc = base
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        doc = _mutate(doc, path, draw(st.sampled_from(["delete", "replace", "add"])), draw(junk))
    text = (
        yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        if draw(st.booleans())
        else json.dumps(doc, default=str)
    )
    if draw(st.integers(min_value=0, max_value=9)) == 0:  # sometimes break the YAML itself
        cut = draw(st.integers(min_value=0, max_value=max(0, len(text) - 1)))
        text = text[:cut] + draw(st.sampled_from([":\n  - [", "\t", "{{", "\x00", "*anchor"])) + text[cut:]
    return "fuzz.odcs.yaml", text


OUTCOMES = {"loaded": 0, "refused": 0}


@settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(mutated())
@example(("fuzz.odcs.yaml", "\x00apiVersion: v3.1.0"))  # found by this test: a NUL escaped as ReaderError
@example(  # found by this test: `quality: true` escaped as TypeError
    (
        "fuzz.odcs.yaml",
        '{"apiVersion": "v3.1.0", "kind": "DataContract", "id": "x", "version": "1", "status": "active", '
        '"schema": [{"name": "t", "properties": [{"name": "c", "quality": true}]}]}',
    )
)
def test_a_mutated_contract_loads_or_is_refused_naming_file_and_field(case: tuple[str, str]) -> None:
    source, text = case
    try:
        contract = parse_contract(text, source=source)
    except ContractError as e:
        OUTCOMES["refused"] += 1
        message = str(e)
        assert message.startswith(source), message
        assert e.message, message
        assert e.path or e.line, f"names neither a field nor a line: {message}"
        assert "Traceback" not in message
        return
    OUTCOMES["loaded"] += 1
    assert contract.id


def test_zz_record_fuzz_outcome() -> None:
    total = OUTCOMES["loaded"] + OUTCOMES["refused"]
    assert total >= 500
    record(
        "contract-fuzz",
        scenario="Hostile contracts (hypothesis mutations of 10 real contracts)",
        runs=total,
        result=f"{OUTCOMES['refused']} refused with a ContractError naming file and field, "
        f"{OUTCOMES['loaded']} loaded, 0 other exceptions",
    )
