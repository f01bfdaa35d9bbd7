"""The gate's verdict per mode, from real SQL-engine reports on SQLite."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import create_engine

from airflow_dataops.config import GATE_MODES, GateMode
from airflow_dataops.contracts import gate
from airflow_dataops.contracts.engines.sql import evaluate_sql
from airflow_dataops.contracts.report import Verdict

from ._helpers import make_contract

CONTRACT = make_contract(
    """
    - name: flights
      properties:
        - name: origin
          quality:
            - {name: nycAirport, metric: invalidValues, mustBe: 0, arguments: {validValues: [EWR, JFK, LGA]}, severity: error}
        - name: dep_delay
          quality:
            - {name: fewNulls, metric: nullValues, mustBeLessOrEqualTo: 20, unit: percent, severity: error}
        - name: tailnum
          quality:
            - {name: tailnumNulls, metric: nullValues, mustBe: 0, severity: warning}
    """
)


def _report(tmp_path, rows: list[tuple]):
    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    pd.DataFrame(rows, columns=["origin", "dep_delay", "tailnum"]).to_sql("flights", engine, index=False)
    return evaluate_sql(CONTRACT, engine_or_connection=engine, table="flights")


GOOD = [("JFK", 1.0, "N1")] * 10


@pytest.mark.parametrize(
    ("rows", "mode", "verdict", "quarantined"),
    [
        pytest.param(GOOD, "fail", Verdict.PASSED, (), id="all-pass"),
        pytest.param(
            [*GOOD[:9], ("XXX", 1.0, "N1")],
            "quarantine",
            Verdict.QUARANTINED,
            ("flights.origin.nycAirport",),
            id="zero-tolerance-rule-quarantines",
        ),
        pytest.param(
            [*GOOD[:9], ("XXX", 1.0, "N1")],
            "fail",
            Verdict.FAILED,
            ("flights.origin.nycAirport",),
            id="fail-mode-blocks",
        ),
        pytest.param(
            [*GOOD[:9], ("XXX", 1.0, "N1")],
            "warn",
            Verdict.WARNED,
            ("flights.origin.nycAirport",),
            id="warn-mode-passes",
        ),
        pytest.param(
            GOOD[:7] + [("JFK", None, "N1")] * 3,
            "quarantine",
            Verdict.FAILED,
            (),
            id="threshold-rule-blocks-not-quarantines",
        ),
        pytest.param(
            [*GOOD[:9], ("JFK", 1.0, None)], "fail", Verdict.WARNED, (), id="warning-severity-never-blocks"
        ),
    ],
)
def test_verdict_per_mode(tmp_path, rows, mode, verdict, quarantined) -> None:
    report = _report(tmp_path, rows)
    assert gate.decide(report, mode) is verdict
    assert gate.quarantinable(report) == quarantined


def test_explain_lists_each_failed_rule_with_its_figures(tmp_path) -> None:
    report = _report(tmp_path, GOOD[:7] + [("JFK", None, "N1")] * 3)
    text = gate.explain(report, Verdict.FAILED, mode="quarantine")
    assert text.splitlines()[0] == (
        "contract urn:test:t v1.0.0 on flights: failed (mode quarantine, "
        f"{len(report.results)} rules, 1 failed, 10 rows)"
    )
    assert "  [ERROR] flights.dep_delay.fewNulls: expected " in text
    assert "got 30.0, 3 failing rows" in text


@pytest.mark.parametrize("mode", list(GateMode), ids=lambda m: m.value)
def test_a_gate_mode_member_decides_as_its_string(tmp_path, mode) -> None:
    # one GateMode, str-valued: the member and the stored string give the same verdict and text
    report = _report(tmp_path, GOOD[:7] + [("JFK", None, "N1")] * 3)
    assert gate.decide(report, mode) is gate.decide(report, mode.value)
    verdict = gate.decide(report, mode)
    assert gate.explain(report, verdict, mode=mode) == gate.explain(report, verdict, mode=mode.value)
    assert [m.value for m in GateMode] == list(GATE_MODES) == ["fail", "quarantine", "warn"]


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="gate mode 'block' is not one of fail, quarantine, warn"):
        gate.check_mode("block")


DUPLICATES = make_contract(
    """
    - name: flights
      properties:
        - {name: id, logicalType: integer, unique: true}
        - name: delay
          logicalType: number
          logicalTypeOptions: {minimum: 0}
          quality:
            - {name: fewNulls, metric: nullValues, mustBeLessOrEqualTo: 10, unit: percent}
      quality:
        - {metric: rowCount, mustBeGreaterThan: 100}
    """
)


def test_quarantine_mode_says_what_it_did_with_duplicates_and_why_others_were_not_quarantined(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'd.db'}")
    pd.DataFrame({"id": [1, 1, 2, 3], "delay": [1.0, -2.0, None, None]}).to_sql(
        "flights", engine, index=False
    )
    report = evaluate_sql(DUPLICATES, engine_or_connection=engine, table="flights")
    assert set(gate.quarantinable(report)) == {"flights.id.unique", "flights.delay.minimum"}
    verdict = gate.decide(report, "quarantine")
    assert verdict is Verdict.FAILED  # the row count and the tolerated-null threshold are not quarantinable
    lines = gate.explain(report, verdict, mode="quarantine").splitlines()
    after = {line.split(":")[0].split("] ")[-1]: lines[i + 1].strip() for i, line in enumerate(lines[:-1])}
    assert after["flights.id.unique"] == (
        "quarantine moves every row of each duplicated key (none is kept as the winner)"
    )
    assert after["flights.delay.fewNulls"].startswith(
        "not quarantined: it tolerates some failing rows (a threshold)"
    )
    assert after["flights.rowCount"].startswith("not quarantined: no failing rows can be selected for it")
    fail = gate.explain(report, gate.decide(report, "fail"), mode="fail")
    assert "not quarantined" not in fail and "duplicated key" not in fail  # fail mode: unchanged
