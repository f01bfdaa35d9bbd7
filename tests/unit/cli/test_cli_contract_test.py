"""``airflow dataops contract test``: the per-rule report and the exit code."""

from __future__ import annotations

import json
from argparse import Namespace

import gate_orders
import pytest
from gate_orders import write_contract

from airflow_dataops.cli.contract_test import contract_test

warehouse = gate_orders.warehouse  # the fixture, shared by the gate operator and `contract test` tests


def args(path, conn_id, **kw):
    base = dict(
        file=path,
        conn_id=conn_id,
        table="orders",
        partition=None,
        partition_column=None,
        engine="sql",
        output="table",
    )
    return Namespace(**{**base, **kw})


def test_blocking_failures_exit_1_with_a_table(warehouse, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        contract_test(
            args(write_contract(tmp_path), warehouse.conn_id, partition="d1", partition_column="day")
        )
    assert e.value.code == 1
    out = capsys.readouterr().out
    assert "urn:test:gate v2.0.0 on orders partition 'd1': 4 rows, engine sql" in out
    assert "orders.status.knownStatus" in out and "FAIL" in out
    assert "blocking: orders.status.knownStatus, orders.ssn.ssnFormat" in out or "2 blocking" in out
    assert "SECRET" not in out


def test_json_output_with_another_engine(warehouse, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        contract_test(
            args(
                write_contract(tmp_path),
                warehouse.conn_id,
                partition="d2",
                partition_column="day",
                output="json",
                engine="pandas",
            )
        )
    assert e.value.code == 1
    data = json.loads(capsys.readouterr().out)
    assert data["rows"] == 2 and data["engine"] == "pandas"
    assert data["failed"] == ["orders.status.knownStatus"]  # d2 has "bogus"


def test_only_warnings_exit_0(warehouse, tmp_path, capsys):
    schema = """\
- name: orders
  properties:
    - name: amount
      logicalType: number
      quality:
        - {name: noNulls, metric: nullValues, mustBe: 0, severity: warning}
"""
    contract_test(args(write_contract(tmp_path, schema), warehouse.conn_id))
    out = capsys.readouterr().out
    assert "orders.amount.noNulls" in out and "warn" in out and "0 blocking" in out


def test_bad_contract_exits_2(warehouse, tmp_path, capsys):
    path = tmp_path / "bad.odcs.yaml"
    path.write_text("apiVersion: v3.1.0\nkind: DataContract\n")
    with pytest.raises(SystemExit) as e:
        contract_test(args(str(path), warehouse.conn_id))
    assert e.value.code == 2
    assert "bad.odcs.yaml" in capsys.readouterr().err


def test_partition_without_column_exits_2(warehouse, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        contract_test(args(write_contract(tmp_path), warehouse.conn_id, partition="d1"))
    assert e.value.code == 2


def registered_command():
    """The `airflow dataops contract test` command as the provider registers it."""
    from airflow_dataops.cli.definition import get_dataops_cli_commands

    [dataops] = get_dataops_cli_commands()
    [contract] = [c for c in dataops.subcommands if c.name == "contract"]
    [command] = [c for c in contract.subcommands if c.name == "test"]
    return command


def test_the_registered_cli_command_parses_into_what_contract_test_reads(warehouse, tmp_path, capsys):
    import argparse

    command = registered_command()
    parser = argparse.ArgumentParser()
    for arg in command.args:
        arg.add_to_parser(parser)
    ns = parser.parse_args(
        [
            write_contract(tmp_path),
            "--conn-id",
            warehouse.conn_id,
            "--table",
            "orders",
            "--partition",
            "d1",
            "--partition-column",
            "day",
            "-o",
            "json",
        ]
    )
    with pytest.raises(SystemExit) as e:
        command.func(ns)
    assert e.value.code == 1
    assert json.loads(capsys.readouterr().out)["partition"] == "d1"
