"""Standard facets built from our domain values: right fields, spec-valid, no sensitive values."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
from openlineage.client.serde import Serde

from airflow_dataops.contracts.report import RuleResult, Severity
from airflow_dataops.lineage import builders

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lineage_validation import validate_event

SECRET_VALUE = "alice@example.com"

RESULTS = (
    RuleResult(
        name="flights.dep_delay.nullValues",
        dimension="completeness",
        severity=Severity.ERROR,
        expected="mustBeLessOrEqualTo 5 percent",
        actual=2.5,
        passed=True,
        column="dep_delay",
        failing_rows=12,
        row_level=True,
    ),
    RuleResult(
        name="flights.rowCount",
        dimension="completeness",
        severity=Severity.WARNING,
        expected="mustBeGreaterThan 0",
        actual=0,
        passed=False,
    ),
    RuleResult(
        name="flights.email.invalidValues",
        dimension="validity",
        severity=Severity.ERROR,
        expected=f"mustNotBeIn ['{SECRET_VALUE}']",
        actual=SECRET_VALUE,
        passed=False,
        column="email",
    ),
)


def event_with(run_facets=None, inputs=(), outputs=()):
    event = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime="2026-01-01T00:00:00+00:00",
        run=Run(runId="01941f29-7c00-7087-8d2a-0e4a1ff0d2a5", facets=run_facets or {}),
        job=Job(namespace="default", name="dataops.test"),
        inputs=list(inputs),
        outputs=list(outputs),
    )
    return Serde.to_dict(event)


def test_full_event_from_builders_is_spec_valid():
    inp = builders.input_dataset(
        "postgres://db:5432",
        "analytics.public.flights",
        facets={
            "schema": builders.schema_facet([("id", "BIGINT", "flight id"), ("email", "TEXT", None), ("x",)])
        },
        input_facets={
            "dataQualityAssertions": builders.assertions_facet(RESULTS, sensitive_columns={"email"}),
            "dataQualityMetrics": builders.metrics_facet(
                1000,
                {
                    "dep_delay": {"null_count": 3, "min": -5, "max": 300, "quantiles": {"0.5": 4}},
                    "email": {"nullCount": 0, "distinctCount": 990, "min": 1, "max": 2},
                },
                sensitive_columns={"email"},
            ),
            builders.SUBSET_FACET_KEY: builders.partition_subset("day", "2013-01-01", direction="input"),
        },
    )
    out = builders.output_dataset(
        "postgres://db:5432",
        "analytics.public.flights_clean",
        output_facets={
            "outputStatistics": builders.output_statistics(990, 123456),
            builders.SUBSET_FACET_KEY: builders.partition_subset("day", "2013-01-01"),
        },
    )
    event = event_with({"test": builders.test_run_facet(RESULTS, sensitive_columns={"email"})}, [inp], [out])
    assert validate_event(event) == []
    assert SECRET_VALUE not in str(event)


def test_schema_facet_fields():
    d = Serde.to_dict(builders.schema_facet([("id", "BIGINT", "flight id"), ("note", None, None)]))
    assert d["fields"] == [
        {"name": "id", "type": "BIGINT", "description": "flight id", "ordinal_position": 1},
        {"name": "note", "ordinal_position": 2},
    ]
    with pytest.raises(ValueError, match="schema field 1 has no name"):
        builders.schema_facet([("", "INT", None)])


def test_assertions_fields_strings_and_severity_words():
    d = Serde.to_dict(
        builders.assertions_facet(RESULTS[:2], content_by_rule={"flights.rowCount": "SELECT COUNT(*) FROM f"})
    )
    first, second = d["assertions"]
    assert first == {
        "assertion": "nullValues",
        "name": "flights.dep_delay.nullValues",
        "success": True,
        "column": "dep_delay",
        "severity": "error",
        "expected": "mustBeLessOrEqualTo 5 percent",
        "actual": "2.5",
        "params": {"dimension": "completeness", "failingRows": 12},
    }
    assert second["severity"] == "warn"
    assert second["actual"] == "0"
    assert (second["content"], second["contentType"]) == ("SELECT COUNT(*) FROM f", "sql")
    assert "column" not in second


def test_sensitive_columns_are_blanked_everywhere():
    assertion = Serde.to_dict(builders.assertions_facet(RESULTS, sensitive_columns={"email"}))["assertions"][
        2
    ]
    assert "actual" not in assertion and "expected" not in assertion
    assert assertion["success"] is False and assertion["column"] == "email"
    test = Serde.to_dict(builders.test_run_facet(RESULTS, sensitive_columns={"email"}))["tests"][2]
    assert "actual" not in test and "expected" not in test
    metrics = Serde.to_dict(
        builders.metrics_facet(
            10, {"email": {"nullCount": 1, "min": 1, "max": 9, "sum": 5}}, sensitive_columns={"email"}
        )
    )
    assert metrics["columnMetrics"]["email"] == {"nullCount": 1}


def test_test_run_facet_statuses():
    tests = Serde.to_dict(builders.test_run_facet(RESULTS))["tests"]
    assert [(t["name"], t["status"], t["severity"], t["type"]) for t in tests] == [
        ("flights.dep_delay.nullValues", "pass", "error", "nullValues"),
        ("flights.rowCount", "fail", "warn", "rowCount"),
        ("flights.email.invalidValues", "fail", "error", "invalidValues"),
    ]


def test_metrics_unknown_metric_lists_known_ones():
    with pytest.raises(
        ValueError, match="unknown metric 'median' for column 'x'; known: nullCount, distinctCount"
    ):
        builders.metrics_facet(1, {"x": {"median": 3}})


def test_partition_subset_shape():
    d = Serde.to_dict(builders.partition_subset("day", "2013-01-01"))
    assert d["outputCondition"] == {
        "type": "partition",
        "partitions": [{"dimensions": {"day": "2013-01-01"}, "identifier": "2013-01-01"}],
    }
    assert d["_schemaURL"].endswith("BaseSubsetDatasetFacet.json#/$defs/OutputSubsetOutputDatasetFacet")
    with pytest.raises(ValueError, match="direction must be 'input' or 'output'; got 'both'"):
        builders.partition_subset("day", "k", direction="both")
    with pytest.raises(ValueError, match="partition_key must be non-empty"):
        builders.partition_subset("day", "")


def test_output_statistics():
    assert {
        k: v for k, v in Serde.to_dict(builders.output_statistics(5, 100)).items() if not k.startswith("_")
    } == {"rowCount": 5, "size": 100}
