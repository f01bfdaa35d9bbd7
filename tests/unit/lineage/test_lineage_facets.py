"""Our run facets: construction checks, serialised shape, and the schemas we ship and publish."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from openlineage.client.generated import base as openlineage_base
from openlineage.client.serde import Serde

from airflow_dataops.contracts.report import Verdict
from airflow_dataops.lineage.facets import (
    FACET_CLASSES,
    SCHEMA_BASE_URL,
    DataOpsGateRunFacet,
    DataOpsPartitionLedgerRunFacet,
    DataOpsSLOEvaluationRunFacet,
    schema_path,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lineage_validation import validate_event

REPO = Path(__file__).resolve().parents[3]


def slo(**kw):
    base = dict(
        dataset="postgres://db:5432/analytics.public.flights",
        objective=0.99,
        windowDays=30,
        sliKind="freshness",
        sliValue=0.97,
        budgetRemaining=-0.5,
        burnRates={"1h": 14.9, "5m": 15.2},
        breachState="open",
        alertSeverity="page",
    )
    return DataOpsSLOEvaluationRunFacet(**{**base, **kw})


def ledger(**kw):
    base = dict(
        dataset="analytics.public.flights",
        partitionKey="2013-01-01",
        decision="applied",
        runId="scheduled__2013-01-01T00:00:00+00:00",
        attempt=1,
        rowsIn=1000,
        rowsPublished=990,
        rowsQuarantined=10,
        checksum="sha256:abc",
        contractVersion="1.2.0",
    )
    return DataOpsPartitionLedgerRunFacet(**{**base, **kw})


def gate(**kw):
    base = dict(
        contractId="flights",
        contractVersion="1.2.0",
        mode="quarantine",
        verdict="quarantined",
        rulesTotal=12,
        rulesFailed=1,
    )
    return DataOpsGateRunFacet(**{**base, **kw})


def run_event(run_facets):
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-01T00:00:00+00:00",
        "producer": "https://github.com/airflow-dataops/airflow-dataops",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {
            "runId": "01941f29-7c00-7087-8d2a-0e4a1ff0d2a5",
            "facets": {k: Serde.to_dict(v) for k, v in run_facets.items()},
        },
        "job": {"namespace": "default", "name": "dataops.test"},
    }


@pytest.mark.parametrize(
    "facet",
    [pytest.param(slo(), id="slo"), pytest.param(ledger(), id="ledger"), pytest.param(gate(), id="gate")],
)
def test_facet_validates_against_its_shipped_schema(facet):
    assert validate_event(run_event({facet.FACET_KEY: facet})) == []


def test_minimal_facets_validate():
    facets = {
        "dataops_sloEvaluation": DataOpsSLOEvaluationRunFacet(
            dataset="d", objective=1, windowDays=7, sliKind="cost"
        ),
        "dataops_partitionLedger": DataOpsPartitionLedgerRunFacet(
            dataset="d", partitionKey="k", decision="refused", runId="r", attempt=2, reason="already applied"
        ),
        "dataops_gate": DataOpsGateRunFacet(
            contractId="c",
            contractVersion="1",
            mode="fail",
            verdict=Verdict.PASSED,
            rulesTotal=0,
            rulesFailed=0,
        ),
    }
    assert validate_event(run_event(facets)) == []


def test_serialised_fields_and_producer():
    d = Serde.to_dict(gate())
    assert d["_schemaURL"] == f"{SCHEMA_BASE_URL}DataOpsGateRunFacet.json#/$defs/DataOpsGateRunFacet"
    # The client's module-level default, which the Airflow OpenLineage provider replaces with its own
    # producer URL when it is imported.
    assert d["_producer"] == openlineage_base.PRODUCER
    assert {k: d[k] for k in ("contractId", "mode", "verdict", "rulesTotal", "rulesFailed")} == {
        "contractId": "flights",
        "mode": "quarantine",
        "verdict": "quarantined",
        "rulesTotal": 12,
        "rulesFailed": 1,
    }


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda: slo(objective=1.5),
            "DataOpsSLOEvaluationRunFacet.objective must be <= 1; got 1.5",
            id="objective",
        ),
        pytest.param(
            lambda: slo(objective=0),
            "DataOpsSLOEvaluationRunFacet.objective must be > 0; got 0",
            id="objective-zero",
        ),
        pytest.param(
            lambda: slo(sliKind="speed"),
            "DataOpsSLOEvaluationRunFacet.sliKind must be one of freshness, completeness, correctness, consistency, cost; got 'speed'",
            id="sli-kind",
        ),
        pytest.param(
            lambda: slo(breachState="closed"),
            "breachState must be one of none, open, resolved; got 'closed'",
            id="breach",
        ),
        pytest.param(
            lambda: slo(burnRates={"1h": -1}),
            "burnRates['1h'] must be a finite number >= 0; got -1",
            id="burn-rate",
        ),
        pytest.param(
            lambda: slo(alertSeverity="sms"),
            "alertSeverity must be one of none, ticket, page; got 'sms'",
            id="alert",
        ),
        pytest.param(
            lambda: ledger(decision="done"),
            "decision must be one of applied, rerun, refused, failed, stale, rolled_back, skipped; got 'done'",
            id="decision",
        ),
        pytest.param(
            lambda: ledger(attempt=0),
            "DataOpsPartitionLedgerRunFacet.attempt must be an integer >= 1; got 0",
            id="attempt",
        ),
        pytest.param(lambda: ledger(rowsIn=-1), "rowsIn must be an integer >= 0; got -1", id="rows"),
        pytest.param(
            lambda: ledger(partitionKey=""), "partitionKey must be a non-empty string; got ''", id="partition"
        ),
        pytest.param(
            lambda: gate(mode="block"),
            "DataOpsGateRunFacet.mode must be one of fail, quarantine, warn; got 'block'",
            id="mode",
        ),
        pytest.param(
            lambda: gate(rulesFailed=13), "rulesFailed (13) cannot exceed rulesTotal (12)", id="failed>total"
        ),
    ],
)
def test_invalid_values_rejected_with_field_and_limit(build, message):
    with pytest.raises(ValueError) as info:
        build()
    assert message in str(info.value)


@pytest.mark.parametrize("name", sorted(FACET_CLASSES))
def test_schema_ships_in_package_and_docs(name):
    packaged = json.loads(schema_path(name).read_text())
    published = json.loads((REPO / "docs" / "lineage-facets" / f"{name}.json").read_text())
    assert packaged == published, "docs/lineage-facets/ must be a copy of airflow_dataops/lineage/schemas/"
    version = getattr(FACET_CLASSES[name], "SCHEMA_VERSION", None)
    relative = f"{version}/{name}.json" if version else f"{name}.json"
    assert packaged["$id"] == f"{SCHEMA_BASE_URL}{relative}"
    # the $id resolves: the versioned copy is published where it says
    assert json.loads((REPO / "docs" / "lineage-facets" / relative).read_text()) == packaged
    assert FACET_CLASSES[name]._get_schema() == f"{packaged['$id']}#/$defs/{name}"
    assert packaged["properties"][FACET_CLASSES[name].FACET_KEY] == {"$ref": f"#/$defs/{name}"}


def test_schemas_listed_as_package_data():
    import tomllib

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "lineage/schemas/*.json" in pyproject["tool"]["setuptools"]["package-data"]["airflow_dataops"]


def test_schema_rejects_what_construction_would_reject():
    """The published schema is the contract for other producers: it must catch bad values too."""
    event = run_event({"dataops_gate": gate()})
    facet = event["run"]["facets"]["dataops_gate"]
    facet["mode"] = "block"
    facet["rulesFailed"] = -1
    del facet["contractId"]
    errors = validate_event(event)
    assert "run.facets.dataops_gate: 'contractId' is a required property" in errors
    assert "run.facets.dataops_gate.mode: 'block' is not one of ['fail', 'quarantine', 'warn']" in errors
    assert "run.facets.dataops_gate.rulesFailed: -1 is less than the minimum of 0" in errors


def test_ledger_facet_shows_superseded_and_restored_versions():
    facet = ledger(
        decision="rolled_back",
        applyId=57,
        requestedBy="oncall",
        reason="upstream fix was wrong",
        supersedes={
            "applyId": 55,
            "rowsPublished": 170,
            "checksum": "170:ab",
            "state": "rolled_back",
            "kept": True,
        },
        restored={"applyId": 41, "rowsPublished": 200, "checksum": "200:cd"},
    )
    d = Serde.to_dict(facet)
    assert d["_schemaURL"].endswith(
        "/lineage-facets/1-1-0/DataOpsPartitionLedgerRunFacet.json#/$defs/DataOpsPartitionLedgerRunFacet"
    )
    assert d["supersedes"]["state"] == "rolled_back" and d["restored"]["applyId"] == 41
    assert validate_event(run_event({facet.FACET_KEY: facet})) == []
    stale = ledger(
        decision="stale", applyId=60, supersedes={"applyId": 57, "state": "superseded", "kept": False}
    )
    assert validate_event(run_event({stale.FACET_KEY: stale})) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param({"applyId": 0}, "supersedes['applyId'] must be an integer >= 1; got 0", id="apply-id"),
        pytest.param(
            {"applyId": 3, "state": "gone"},
            "supersedes['state'] must be one of superseded, rolled_back",
            id="state",
        ),
        pytest.param({"applyId": 3, "extra": 1}, "supersedes must be a dict with keys among", id="keys"),
        pytest.param({"applyId": 3, "kept": "yes"}, "supersedes['kept'] must be true or false", id="kept"),
    ],
)
def test_version_refs_are_checked(value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ledger(supersedes=value)


def test_schema_rejects_a_version_ref_without_apply_id():
    event = run_event({"dataops_partitionLedger": ledger()})
    event["run"]["facets"]["dataops_partitionLedger"]["supersedes"] = {"rowsPublished": 3}
    assert any("applyId" in e for e in validate_event(event))
