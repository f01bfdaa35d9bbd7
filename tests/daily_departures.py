"""The ``daily_departures`` pipeline the PartitionedSQLOperator tests build (tests/integration:
test_writer_partitioned_sql on SQLite, test_writer_dialects on every warehouse): a plain module.
``contract`` is a fixture: a test module takes it with ``contract = daily_departures.contract``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

CONTRACT = textwrap.dedent(
    """
    apiVersion: v3.1.0
    kind: DataContract
    id: urn:test:daily_departures
    version: 2.1.0
    status: active
    schema:
      - name: daily_departures
        physicalName: daily_departures
        properties:
          - {name: day, logicalType: string, required: true}
          - name: origin
            logicalType: string
            required: true
            quality:
              - name: nycAirport
                metric: invalidValues
                mustBe: 0
                arguments: {validValues: [EWR, JFK, LGA]}
                severity: error
          - {name: flights, logicalType: integer, required: true}
        quality:
          - {name: rowCount, type: library, metric: rowCount, mustBeGreaterThan: 0, severity: error}
    """
)
#: ``raw_flights`` rows (day, origin, carrier) both suites start from; each adds its own last row.
RAW_ROWS = [
    ("2026-11-01", "JFK", "AA"),
    ("2026-11-01", "JFK", "B6"),
    ("2026-11-01", "LGA", "AA"),
    ("2026-11-01", "JFK", "ZZ"),  # skipped by :skip_carrier
    ("2026-11-02", "EWR", "UA"),
    ("2026-11-02", "XXX", "UA"),  # breaks nycAirport
]


@pytest.fixture
def contract(tmp_path: Path) -> str:
    """:data:`CONTRACT` as a file; its path."""
    path = tmp_path / "daily_departures.odcs.yaml"
    path.write_text(CONTRACT)
    return str(path)
