"""The orders table and contract shared by the ContractGateOperator tests (tests/unit/operators)
and the ``contract test`` CLI tests (tests/unit/cli): a plain module.  ``warehouse`` is a fixture: a
test module takes it with ``warehouse = gate_orders.warehouse``."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import sqlalchemy as sa
from connections import connection_json

HEADER = "apiVersion: v3.1.0\nkind: DataContract\nid: urn:test:gate\nversion: 2.0.0\nstatus: active\n"
SCHEMA = """\
- name: orders
  properties:
    - name: id
      logicalType: integer
      required: true
      primaryKey: true
    - name: day
      logicalType: string
      required: true
    - name: status
      logicalType: string
      quality:
        - name: knownStatus
          metric: invalidValues
          mustBe: 0
          arguments: {validValues: [new, paid, shipped]}
    - name: ssn
      logicalType: string
      classification: restricted
      quality:
        - name: ssnFormat
          metric: invalidValues
          mustBe: 0
          arguments: {pattern: "^[0-9]{3}-[0-9]{2}-[0-9]{4}$"}
    - name: amount
      logicalType: number
      quality:
        - name: fewNulls
          metric: nullValues
          mustBeLessOrEqualTo: 50
          unit: percent
          severity: warning
  quality:
    - metric: rowCount
      mustBeGreaterThan: 0
"""
SECRET = "SECRET-987-65-4321"
ROWS = [
    # id, day, status, ssn, amount
    (1, "d1", "new", "123-45-6789", 10.0),
    (2, "d1", "lost", "123-45-6780", 11.0),
    (3, "d1", "paid", SECRET, None),
    (4, "d1", "paid", "123-45-6781", 12.0),
    (5, "d2", "shipped", "123-45-6782", 13.0),
    (6, "d2", "bogus", "123-45-6783", 14.0),
]


def write_contract(tmp_path: Path, schema: str = SCHEMA, name: str = "orders") -> str:
    path = tmp_path / f"{name}.odcs.yaml"
    path.write_text(HEADER + "schema:\n" + textwrap.indent(textwrap.dedent(schema), "  "))
    return str(path)


@pytest.fixture
def warehouse(store_url, tmp_path, monkeypatch):
    """A warehouse DB of the same kind as the store (SQLite file or a fresh PostgreSQL database),
    holding the ``orders`` rows of tests/gate_orders.py (operators/ and cli/ gate tests)."""
    engine = sa.create_engine(store_url)
    conn_id = f"wh_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection_json(store_url))
    pd.DataFrame(ROWS, columns=["id", "day", "status", "ssn", "amount"]).to_sql("orders", engine, index=False)
    yield SimpleNamespace(engine=engine, conn_id=conn_id)
    engine.dispose()
