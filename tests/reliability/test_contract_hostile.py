"""Contracts as untrusted input (#14), per dialect: writing sql rules, severities, YAML bombs, encodings.

Every writing / multi-statement / side-effect ``sql`` rule goes through ``contract test`` (the real
CLI function, and the real ``airflow dataops`` command for a few) and through a gate evaluation with
the rule forced past the loader (the model edited after load, so the run-time guard is tested on
its own), on a table and on a staged partition as the write-audit-publish operators gate it.  Afterwards the warehouse is byte-identical (SQLite: a hash of ``iterdump()``;
PostgreSQL: a catalog snapshot plus the canary rows), no file appeared, and the rule never passed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from connections import connection_json
from reliability_report import record

from airflow_dataops.contracts import gate
from airflow_dataops.contracts.engines.sql import evaluate_sql
from airflow_dataops.contracts.evaluate import evaluate
from airflow_dataops.contracts.loader import load_contract, parse_contract
from airflow_dataops.contracts.report import Verdict
from airflow_dataops.exceptions import ContractError
from airflow_dataops.partitions.writer import drop_stage, stage_frame

MARK = "/tmp/dataops_h14_pwned"
CORPUS = [
    "SELECT 0; DELETE FROM canary; COMMIT",
    "SELECT 0; COMMIT; DELETE FROM canary",
    "DELETE FROM canary",
    "UPDATE canary SET x = 0",
    "INSERT INTO canary VALUES (9)",
    "DROP TABLE canary",
    "CREATE TABLE evil (x INT)",
    "SELECT 0; DROP TABLE canary; COMMIT",
    "SELECT 0; CREATE TABLE evil (x INT); COMMIT",
    f"COPY (SELECT 1) TO PROGRAM 'touch {MARK}'",
    f"COPY canary TO '{MARK}'",
    f"ATTACH DATABASE '{MARK}.db' AS evil",
    f"VACUUM INTO '{MARK}.db'",
    "SET ROLE postgres",
    "RESET ROLE",
    "SELECT pg_read_file('/etc/hostname')",
    f"SELECT lo_export(0, '{MARK}')",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT pg_terminate_backend(pg_backend_pid())",
    "SELECT load_extension('/nonexistent')",
    f"SELECT writefile('{MARK}', 'x')",
    "WITH d AS (DELETE FROM canary RETURNING *) SELECT COUNT(*) FROM d",
    "SELECT * INTO evil FROM canary",
    "SELECT COUNT(*) FROM canary FOR UPDATE",
    "SELECT 'a\\'; DELETE FROM canary; --'",
    "PRAGMA query_only = OFF",
    "BEGIN; DELETE FROM canary; COMMIT",
]
COUNTS: dict[str, int] = {}

CONTRACT = """\
apiVersion: v3.1.0
kind: DataContract
id: urn:test:hostile
version: 1.0.0
status: active
schema:
  - name: t
    properties:
      - name: a
        logicalType: integer
        quality:
          - type: sql
            name: hostile
            query: {query}
            mustBe: 0
"""


def _count(key: str) -> None:
    COUNTS[key] = COUNTS.get(key, 0) + 1


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE canary (x INT)")
        conn.exec_driver_sql("INSERT INTO canary VALUES (1), (2), (3)")
        conn.exec_driver_sql("CREATE TABLE t (a INT)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1), (2)")
    yield request.param, url, engine
    engine.dispose()


def snapshot(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            raw = conn.connection.dbapi_connection
            text = "\n".join(raw.iterdump())  # type: ignore[union-attr]
        else:
            parts = [
                conn.exec_driver_sql(
                    "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3"
                ).all(),
                conn.exec_driver_sql("SELECT rolname, rolsuper FROM pg_roles ORDER BY 1").all(),
                conn.exec_driver_sql("SELECT count(*) FROM pg_largeobject_metadata").all(),
                conn.exec_driver_sql("SELECT x FROM canary ORDER BY x").all(),
                conn.exec_driver_sql("SELECT a FROM t ORDER BY a").all(),
            ]
            text = repr(parts)
    return hashlib.sha256(text.encode()).hexdigest()


def files(tmp_path: Path) -> set[str]:
    return {str(p) for p in tmp_path.rglob("*")} | {p for p in (MARK, MARK + ".db") if os.path.exists(p)}


def cli_args(path: Path, conn_id: str, **kw):
    args = types.SimpleNamespace(
        file=str(path),
        conn_id=conn_id,
        table="t",
        partition=None,
        partition_column=None,
        engine="sql",
        schema_object=None,
        db_schema=None,
        output="json",
        allow_unsafe_sql_rules_on=None,
    )
    args.__dict__.update(kw)
    return args


def run_cli(args) -> int:
    from airflow_dataops.cli.contract_test import contract_test

    try:
        contract_test(args)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def test_writing_sql_rules_never_write_and_never_pass(warehouse, tmp_path, monkeypatch, capsys):
    dialect, url, engine = warehouse
    monkeypatch.setenv("AIRFLOW_CONN_WH", connection_json(url))
    before, listing = snapshot(engine), files(tmp_path)
    benign = parse_contract(CONTRACT.format(query=json.dumps("SELECT 0")), source="benign.odcs.yaml")
    for query in CORPUS:
        path = tmp_path / "c.odcs.yaml"
        path.write_text(CONTRACT.format(query=json.dumps(query)))
        # 1. the loader refuses it (lint, contract test and the gate all load through it)
        with pytest.raises(ContractError) as info:
            load_contract(path)
        assert "sql rule 'hostile': the query" in str(info.value), (query, str(info.value))
        # 2. contract test: exit 2, one line, nothing written
        code = run_cli(cli_args(path, "wh"))
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (query, err)
        # 3. the gate with the rule forced past the loader: the run-time guard alone
        obj = benign.schema[0]
        prop = obj.properties[0]
        rule = dataclasses.replace(prop.quality[0], query=query)
        forced = dataclasses.replace(
            benign,
            schema=(dataclasses.replace(obj, properties=(dataclasses.replace(prop, quality=(rule,)),)),),
        )
        report = evaluate(forced, engine="sql", sql_engine=engine, table="t")
        result = next(r for r in report.results if r.name == "t.a.hostile")
        assert not result.passed and result in report.blocking, (query, result)
        assert str(result.actual).startswith(("not run", "failed to run")), (query, result)
        # 4. a gated partition write: stage, gate the staged rows, drop the stage; fail and quarantine refuse
        stage = stage_frame(engine, pd.DataFrame({"a": [1, 2]}), table="t", partition_key="k")
        staged = evaluate_sql(forced, engine_or_connection=engine, table=stage.name)
        assert gate.decide(staged, "fail") is Verdict.FAILED, query
        assert gate.decide(staged, "quarantine") is Verdict.FAILED, query
        drop_stage(engine, stage)
        assert snapshot(engine) == before, query
        assert files(tmp_path) - {str(path)} == listing, query
        _count(f"{dialect}: writing/side-effect sql rules")
    record(
        f"contracts-hostile-sql-{dialect}",
        scenario=f"writing, multi-statement and side-effect `sql` rules on {dialect} (loader, `contract test`, "
        "evaluate() and a staged partition gate with the rule forced past the loader)",
        runs=COUNTS[f"{dialect}: writing/side-effect sql rules"],
        result="all refused or failed, never passed; warehouse byte-identical (dump hash / catalog + canary); "
        "no file created; 0 tracebacks",
    )


@pytest.mark.postgres
def test_real_cli_refuses_a_commit_smuggling_rule_and_a_bomb(pg_url, tmp_path):
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE canary (x INT)")
        conn.exec_driver_sql("INSERT INTO canary VALUES (1)")
        conn.exec_driver_sql("CREATE TABLE t (a INT)")
    before = snapshot(engine)
    smuggle = tmp_path / "smuggle.odcs.yaml"
    smuggle.write_text(CONTRACT.format(query=json.dumps("SELECT 0; DELETE FROM canary; COMMIT")))
    bomb = tmp_path / "bomb.odcs.yaml"
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "AIRFLOW_CONN_WH": connection_json(pg_url)}
    outcomes = []
    for argv in (
        ["contract", "test", str(smuggle), "--conn-id", "wh", "--table", "t"],
        ["contract", "test", str(bomb), "--conn-id", "wh", "--table", "t"],
        ["contract", "lint", str(bomb)],
        ["contract", "test", str(smuggle), "--conn-id", "nope", "--table", "t"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "airflow", "dataops", *argv],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
        )
        outcomes.append(done.returncode)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.stderr.strip().count("\n") == 0 and done.stderr.startswith("error: "), done.stderr
    assert outcomes == [2, 2, 2, 2]  # the contract is loaded (and refused) before the connection is used
    assert snapshot(engine) == before
    engine.dispose()
    record(
        "contracts-hostile-cli",
        scenario="`airflow dataops contract test|lint` subprocesses on PostgreSQL: COMMIT smuggling, alias bomb",
        runs=len(outcomes),
        result="exit 2 with one line each, warehouse unchanged, 0 tracebacks",
    )


def test_contract_test_environment_errors_are_one_line_exit_3(tmp_path, monkeypatch, capsys):
    path = tmp_path / "c.odcs.yaml"
    path.write_text(CONTRACT.format(query=json.dumps("SELECT COUNT(*) FROM {table}")))
    db = tmp_path / "w.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a INT)")
    engine.dispose()
    monkeypatch.setenv("AIRFLOW_CONN_WH", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    monkeypatch.setenv("AIRFLOW_CONN_WEB", json.dumps({"conn_type": "http", "host": "example.com"}))
    monkeypatch.setenv(
        "AIRFLOW_CONN_GONE", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "no.db")})
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_DOWN",
        json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": 1, "login": "x", "schema": "x"}),
    )
    cases = {
        "unknown connection": cli_args(path, "nope"),
        "HTTP connection": cli_args(path, "web"),
        "SQLite file missing": cli_args(path, "gone"),
        "warehouse down": cli_args(path, "down"),
        "unknown --db-schema": cli_args(path, "wh", db_schema="nope"),
        "unknown --table": cli_args(path, "wh", table="nope"),
    }
    for name, args in cases.items():
        code = run_cli(args)
        err = capsys.readouterr().err
        assert code == 3 and err.startswith("error: ") and err.count("\n") == 1, (name, err)
    assert not (tmp_path / "no.db").exists()
    record(
        "contracts-cli-environment",
        scenario="`contract test` with an unknown, HTTP, missing-file or unreachable connection, unknown schema/table",
        runs=len(cases),
        result="exit 3, one line each, no file created, 0 tracebacks",
    )


SEVERITIES = {"error": 1, "critical": 1, "fatal": 1, "ERROR": 1, "warning": 0, "info": 0}
REFUSED_SEVERITIES = ["eror", "ERROR ", "crit", "", "blocker", "1", "null"]


def test_severity_values_never_weaken_a_gate(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a INT)")
        conn.exec_driver_sql("INSERT INTO t VALUES (NULL), (NULL)")
    base = CONTRACT.replace(
        "- type: sql\n            name: hostile\n            query: {query}\n", "- metric: nullValues\n"
    )
    for value, blocking in SEVERITIES.items():
        contract = parse_contract(base + f"            severity: {value}\n", source="s.odcs.yaml")
        report = evaluate(contract, engine="sql", sql_engine=engine, table="t")
        assert len(report.blocking) == blocking, value
    for value in REFUSED_SEVERITIES:
        with pytest.raises(ContractError, match="use one of: error, critical, fatal, warning, info"):
            parse_contract(base + f"            severity: {json.dumps(value)}\n", source="s.odcs.yaml")
    engine.dispose()
    record(
        "contracts-severity",
        scenario="severity values (error/critical/fatal/ERROR block, warning/info do not; typos and others)",
        runs=len(SEVERITIES) + len(REFUSED_SEVERITIES),
        result=f"{len(SEVERITIES)} accepted with the documented meaning, {len(REFUSED_SEVERITIES)} refused at load "
        "with the allowed values; none weakened a gate",
    )


YAML_CASES = {
    "alias bomb (9x9)": "\n".join(
        ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        + [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    ).encode(),
    "recursive alias": b"a: &a [1, *a]\n",
    "20k-deep nesting": b"a: " + b"[" * 20000 + b"]" * 20000 + b"\n",
    "duplicate keys": b"id: a\nid: b\n",
    "invalid UTF-8": b"id: caf\xe9\n",
    "UTF-16 with BOM": "id: x\n".encode("utf-16"),
    "NUL byte": b"id: \x00\n",
    "huge integer": b"version: " + b"9" * 5000 + b"\n",
    "lone surrogate escape": b'id: "\\ud800"\n',
    "undefined alias": b"id: *nope\n",
}


def test_hostile_yaml_is_refused_in_one_line(tmp_path):
    refused = 0
    for name, data in YAML_CASES.items():
        path = tmp_path / "y.odcs.yaml"
        path.write_bytes(data)
        try:
            load_contract(path)
        except ContractError as e:
            assert str(e).startswith(str(path)) and "\n" not in str(e), (name, str(e))
            refused += 1
    assert refused == len(YAML_CASES)
    record(
        "contracts-hostile-yaml",
        scenario="hostile YAML: alias bomb, recursive alias, deep nesting, duplicate keys, encodings, NUL, "
        "huge integer, surrogates, undefined alias",
        runs=len(YAML_CASES),
        result=f"{refused} refused at load with one line naming the file (and line), 0 tracebacks",
    )


def test_contract_test_session_cannot_write(warehouse, monkeypatch):
    from airflow_dataops.warehouse import engine as warehouse_engine

    _dialect, url, engine = warehouse
    monkeypatch.setenv("AIRFLOW_CONN_WH", connection_json(url))
    before = snapshot(engine)
    ro = warehouse_engine("wh", read_only=True)
    with ro.connect() as conn, pytest.raises(sa.exc.DBAPIError, match=r"read-only|readonly"):
        conn.exec_driver_sql("DELETE FROM canary")
        conn.commit()
    ro.dispose()
    assert snapshot(engine) == before
