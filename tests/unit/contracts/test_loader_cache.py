"""load_contract caches by content hash: a hit is the same immutable object; any change misses."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest

from airflow_dataops.contracts import loader
from airflow_dataops.contracts.loader import CACHE_SIZE, clear_contract_cache, load_contract
from airflow_dataops.exceptions import ContractError

TEXT = """\
apiVersion: v3.1.0
kind: DataContract
id: urn:test:cache
version: {version}
status: active
schema:
  - name: t
    properties:
      - name: carrier
        logicalType: string
        logicalTypeOptions:
          pattern: "^[A-Z0-9]{{2}}$"
        quality:
          - metric: invalidValues
            arguments:
              validValues: [AA, UA, DL]
            mustBe: 0
      - name: month
        logicalType: integer
        logicalTypeOptions:
          minimum: 1
          maximum: 12
customProperties:
  - property: dataops
    value:
      partition_column: day
      tags: [a, b]
"""


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_contract_cache()
    yield
    clear_contract_cache()


def write(path: Path, version: str = "1.0.0") -> str:
    path.write_text(TEXT.format(version=version))
    return str(path)


def test_a_hit_returns_the_identical_object_without_parsing_again(tmp_path, monkeypatch):
    path = write(tmp_path / "c.odcs.yaml")
    first = load_contract(path)
    calls = []
    monkeypatch.setattr(loader, "parse_contract", lambda *a, **k: calls.append(a) or pytest.fail("re-parsed"))
    assert load_contract(path) is first
    assert calls == []


def test_new_bytes_at_the_same_path_miss_and_show_the_change(tmp_path):
    path = write(tmp_path / "c.odcs.yaml")
    first = load_contract(path)
    write(tmp_path / "c.odcs.yaml", version="2.0.0")
    second = load_contract(path)
    assert second is not first
    assert (first.version, second.version) == ("1.0.0", "2.0.0")


def test_same_bytes_at_another_path_is_another_contract(tmp_path):
    a = load_contract(write(tmp_path / "a.odcs.yaml"))
    b = load_contract(write(tmp_path / "b.odcs.yaml"))
    assert a is not b
    assert (a.source, b.source) == (str(tmp_path / "a.odcs.yaml"), str(tmp_path / "b.odcs.yaml"))


def test_changed_limits_miss(tmp_path, monkeypatch):
    path = write(tmp_path / "c.odcs.yaml")
    first = load_contract(path)
    monkeypatch.setenv("AIRFLOW__DATAOPS__CONTRACT_MAX_NODES", "10")
    with pytest.raises(ContractError, match="contract_max_nodes"):
        load_contract(path)
    monkeypatch.delenv("AIRFLOW__DATAOPS__CONTRACT_MAX_NODES")
    assert load_contract(path) is first


def test_an_invalid_file_raises_the_same_one_line_error_every_time(tmp_path):
    path = tmp_path / "bad.odcs.yaml"
    path.write_text(TEXT.format(version="1.0.0").replace("minimum: 1", "minimum: one"))
    messages = []
    for _ in range(3):
        with pytest.raises(ContractError) as info:
            load_contract(path)
        messages.append(str(info.value))
    assert len(set(messages)) == 1
    assert "\n" not in messages[0] and str(path) in messages[0] and "minimum" in messages[0]


def test_a_hostile_file_is_refused_every_time(tmp_path):
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    for i in range(1, 8):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [*{chr(96 + i)},*{chr(96 + i)},*{chr(96 + i)},*{chr(96 + i)},*{chr(96 + i)},*{chr(96 + i)},*{chr(96 + i)},*{chr(96 + i)},*{chr(96 + i)},*{chr(96 + i)}]\n"
    path = tmp_path / "bomb.odcs.yaml"
    path.write_text(bomb)
    messages = set()
    for _ in range(2):
        with pytest.raises(ContractError) as info:
            load_contract(path)
        messages.add(str(info.value))
    assert len(messages) == 1 and "\n" not in messages.pop()


def test_the_cache_is_bounded_and_drops_the_least_recently_used(tmp_path):
    paths = [write(tmp_path / f"c{i}.odcs.yaml") for i in range(CACHE_SIZE + 1)]
    first = load_contract(paths[0])
    for p in paths[1:CACHE_SIZE]:
        load_contract(p)
    assert load_contract(paths[0]) is first  # used again: now the most recent
    load_contract(paths[CACHE_SIZE])  # one more than the bound: drops paths[1], the least recent
    assert len(loader._cache) == CACHE_SIZE
    assert load_contract(paths[0]) is first
    assert paths[1] not in {source for source, _digest, _limits in loader._cache}


def test_a_shared_contract_cannot_be_changed_by_one_caller(tmp_path):
    path = write(tmp_path / "c.odcs.yaml")
    contract = load_contract(path)
    carrier = contract.schema[0].get_property("carrier")
    rule = carrier.quality[0]
    with pytest.raises(TypeError, match="immutable"):
        rule.arguments["validValues"] = []
    with pytest.raises(TypeError, match="immutable"):
        rule.arguments["validValues"].append("XX")
    with pytest.raises(TypeError, match="immutable"):
        contract.schema[0].get_property("month").options["minimum"] = 0
    with pytest.raises(TypeError, match="immutable"):
        contract.dataops["tags"].append("c")
    with pytest.raises(TypeError, match="immutable"):
        contract.custom_properties.pop("dataops")
    assert load_contract(path).schema[0].get_property("carrier").quality[0].arguments["validValues"] == [
        "AA",
        "UA",
        "DL",
    ]


def test_frozen_values_still_behave_as_plain_data(tmp_path):
    contract = load_contract(write(tmp_path / "c.odcs.yaml"))
    assert json.loads(json.dumps(contract.dataops)) == {"partition_column": "day", "tags": ["a", "b"]}
    assert pickle.loads(pickle.dumps(contract)) == contract
    copied = copy.deepcopy(contract.dataops)
    assert copied == contract.dataops and isinstance(copied, dict)
    mine = dict(contract.dataops)
    mine["tags"] = [*mine["tags"], "c"]  # a caller who needs a changed copy makes one
    assert contract.dataops["tags"] == ["a", "b"]
