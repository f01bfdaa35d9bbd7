"""`airflow dataops contract test` on MySQL/MariaDB and DuckDB connections (#18): a real `airflow`
subprocess, the provider's own connection type, a read-only session, the verdict and its exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import warehouse_of
from connections import connection_json

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = textwrap.dedent(
    """
    apiVersion: v3.1.0
    kind: DataContract
    id: urn:test:cli_dialects
    version: 1.0.0
    status: active
    schema:
      - name: t
        properties:
          - name: code
            logicalType: string
            logicalTypeOptions: {pattern: "^[A-Z]{3}$"}
          - name: n
            logicalType: integer
            quality:
              - {type: sql, name: negatives, query: "SELECT COUNT(*) FROM {table} WHERE {column} < 0", mustBe: 0}
    """
)


@pytest.mark.parametrize("kind", [pytest.param("mysql", marks=pytest.mark.mysql), "duckdb"])
def test_contract_test_cli_reads_only_and_exits_with_the_verdict(kind: str, tmp_path: Path) -> None:
    url = warehouse_of(kind, tmp_path)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (code VARCHAR(10), n INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES ('JFK', 1), ('jfk', -2), ('EWR\n', 3)")
    engine.dispose()  # DuckDB: the CLI opens the file read-only, which needs no other writer in it
    contract = tmp_path / "c.odcs.yaml"
    contract.write_text(CONTRACT)
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "dataops", "contract", "test", str(contract),
         "--conn-id", "wh", "--table", "t", "-o", "json"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, "AIRFLOW_CONN_WH": connection_json(url)},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # a blocking rule failed
    results = {r["name"]: r for r in json.loads(done.stdout)["results"]}
    assert results["t.code.pattern"]["failing_rows"] == 1  # 'jfk' (case); 'EWR\n' matches as in re.search
    assert results["t.n.negatives"]["actual"] == 1.0  # the sql rule ran, read-only
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM t").scalar() == 3
    engine.dispose()
