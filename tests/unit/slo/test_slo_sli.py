"""SLI definitions: kinds, observations, and how one value is judged."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from airflow_dataops.slo.sli import (
    DEFAULT_SEVERITY_WEIGHTS,
    SLIKind,
    completeness_good,
    correctness_good,
    correctness_score,
    freshness_good,
    judge,
)

UTC = timezone.utc
AT = datetime(2026, 11, 21, 6, tzinfo=UTC)


def test_kind_values():
    assert [k.value for k in SLIKind] == ["freshness", "completeness", "correctness", "consistency", "cost"]


@pytest.mark.parametrize(
    ("kind", "value", "threshold", "expected"),
    [
        pytest.param(SLIKind.FRESHNESS, 3600.0, 3600.0, True, id="freshness-at-threshold"),
        pytest.param(SLIKind.FRESHNESS, 3601.0, 3600.0, False, id="freshness-late"),
        pytest.param(SLIKind.COST, 10.0, 20.0, True, id="cost-under"),
        pytest.param(SLIKind.COMPLETENESS, 0.99, 0.99, True, id="completeness-at-threshold"),
        pytest.param(SLIKind.COMPLETENESS, 0.98, 0.99, False, id="completeness-short"),
        pytest.param(SLIKind.CORRECTNESS, 1.0, 0.95, True, id="correctness-all-passed"),
        pytest.param(SLIKind.CONSISTENCY, 0.5, 1.0, False, id="consistency-half"),
        pytest.param(SLIKind.FRESHNESS, math.nan, 1.0, None, id="nan-is-unknown"),
    ],
)
def test_judge(kind, value, threshold, expected):
    assert judge(kind, value, threshold) is expected


def test_named_helpers():
    assert freshness_good(60, 60) is True
    assert freshness_good(61, 60) is False
    assert completeness_good(1.0, 0.99) is True
    assert completeness_good(0.9, 0.99) is False
    assert correctness_good(0.95, 0.95) is True


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        pytest.param([("error", True), ("warning", True)], 1.0, id="all-passed"),
        pytest.param([("error", False), ("warning", True)], 0.25 / 1.25, id="error-failed"),
        pytest.param([("error", True), ("warning", False)], 1.0 / 1.25, id="warning-failed"),
        pytest.param(
            [("error", False), ("warning", True)] + [("warning", True)] * 2,
            0.75 / 1.75,
            id="docstring-example",
        ),
        pytest.param([("ERROR", True), ("error", False)], 0.5, id="case-insensitive"),
    ],
)
def test_correctness_score_weights_severity(results, expected):
    assert correctness_score(results) == pytest.approx(expected)


def test_correctness_score_default_weights_are_documented_values():
    assert dict(DEFAULT_SEVERITY_WEIGHTS) == {"error": 1.0, "warning": 0.25}


def test_correctness_score_accepts_enum_severity_and_custom_weights():
    from airflow_dataops.contracts.report import Severity

    results = [(Severity.ERROR, True), (Severity.WARNING, False)]
    assert correctness_score(results, weights={"error": 1.0, "warning": 1.0}) == 0.5


def test_correctness_score_without_rules_is_unknown():
    assert math.isnan(correctness_score([]))


def test_correctness_score_unknown_severity():
    with pytest.raises(ValueError) as e:
        correctness_score([("info", True)])
    assert str(e.value) == "correctness_score: severity 'info' has no weight; known: error, warning"
