"""``contract diff`` classifies changes of the ``dataops.slo`` block from the consumers' side."""

from __future__ import annotations

import json

import pytest

from airflow_dataops.contracts.diff import diff_contracts
from airflow_dataops.contracts.loader import parse_contract

BASE = {
    "objective": 0.99,
    "window_days": 30,
    "cadence": "1d",
    "slis": {
        "freshness": {"threshold": 6, "unit": "h"},
        "correctness": {"threshold": 0.95, "unit": "ratio"},
    },
}


def contract(slo: dict, version: str = "1.0.0"):
    text = (
        "apiVersion: v3.1.0\nkind: DataContract\nid: urn:test:orders\n"
        f"version: {version}\nstatus: active\n"
        "schema:\n  - name: orders\n    properties:\n      - {name: id, logicalType: integer}\n"
        "customProperties:\n  - property: dataops\n    value:\n      slo: " + json.dumps(slo) + "\n"
    )
    return parse_contract(text, source="orders.odcs.yaml")


def with_sli(kind: str, **kw) -> dict:
    return {**BASE, "slis": {**BASE["slis"], kind: {**BASE["slis"][kind], **kw}}}


def slo_changes(new: dict, old: dict = BASE) -> list[tuple[str, str, str]]:
    diff = diff_contracts(contract(old), contract(new))
    return [(c.kind.value, c.path, c.message) for c in diff.changes if "dataops.slo" in c.path]


P = "customProperties.dataops.slo"


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        pytest.param(
            {**BASE, "objective": 0.95},
            [
                (
                    "breaking",
                    f"{P}.slis.freshness.objective",
                    "SLO 'freshness' objective loosened: 0.99 -> 0.95",
                ),
                (
                    "breaking",
                    f"{P}.slis.correctness.objective",
                    "SLO 'correctness' objective loosened: 0.99 -> 0.95",
                ),
            ],
            id="objective-loosened",
        ),
        pytest.param(
            with_sli("correctness", objective=0.999),
            [
                (
                    "compatible",
                    f"{P}.slis.correctness.objective",
                    "SLO 'correctness' objective tightened: 0.99 -> 0.999",
                )
            ],
            id="objective-tightened",
        ),
        pytest.param(
            with_sli("freshness", threshold=12),
            [
                (
                    "breaking",
                    f"{P}.slis.freshness.threshold",
                    "SLO 'freshness' threshold loosened: 21600 s -> 43200 s",
                )
            ],
            id="freshness-threshold-loosened",
        ),
        pytest.param(
            with_sli("correctness", threshold=99, unit="percent"),
            [
                (
                    "compatible",
                    f"{P}.slis.correctness.threshold",
                    "SLO 'correctness' threshold tightened: 0.95 ratio -> 0.99 ratio",
                )
            ],
            id="correctness-threshold-tightened-in-other-unit",
        ),
        pytest.param(
            {**BASE, "slis": {"freshness": BASE["slis"]["freshness"]}},
            [("breaking", f"{P}.slis.correctness", "SLO 'correctness' was removed")],
            id="sli-removed",
        ),
        pytest.param(
            {**BASE, "slis": {**BASE["slis"], "cost": {"threshold": 20, "unit": "m"}}},
            [("compatible", f"{P}.slis.cost", "SLO 'cost' was added")],
            id="sli-added",
        ),
        pytest.param(
            {**BASE, "window_days": 7},
            [
                (
                    "breaking",
                    f"{P}.slis.freshness.window_days",
                    "SLO 'freshness' window changed: 30 d -> 7 d",
                ),
                (
                    "breaking",
                    f"{P}.slis.correctness.window_days",
                    "SLO 'correctness' window changed: 30 d -> 7 d",
                ),
            ],
            id="window-changed",
        ),
        pytest.param(
            {**BASE, "at_risk_below": 0.1},
            [
                (
                    "informational",
                    f"{P}.slis.freshness.at_risk_below",
                    "SLO 'freshness' at_risk_below 0.25 -> 0.1",
                ),
                (
                    "informational",
                    f"{P}.slis.correctness.at_risk_below",
                    "SLO 'correctness' at_risk_below 0.25 -> 0.1",
                ),
            ],
            id="at-risk-informational",
        ),
        pytest.param(
            {**BASE, "missing_data": "ignore"},
            [("breaking", f"{P}.slis.freshness.missing_data", "SLO 'freshness' missing data: bad -> ignore")],
            id="missing-data-no-longer-bad",
        ),
        pytest.param(
            {**BASE, "cadence": "2d"},
            [
                (
                    "breaking",
                    f"{P}.slis.freshness.cadence",
                    "SLO 'freshness' cadence 1d -> 2d",
                ),
                (
                    "breaking",
                    f"{P}.slis.correctness.cadence",
                    "SLO 'correctness' cadence 1d -> 2d",
                ),
            ],
            id="cadence-longer",
        ),
        pytest.param(BASE, [], id="unchanged"),
    ],
)
def test_slo_changes_are_classified(new: dict, expected: list) -> None:
    assert sorted(slo_changes(new)) == sorted(expected)


def test_a_loosened_slo_fails_diff_unless_the_major_version_is_bumped() -> None:
    loosened = {**BASE, "objective": 0.9}
    assert diff_contracts(contract(BASE), contract(loosened, "1.1.0")).exit_code == 1
    assert diff_contracts(contract(BASE), contract(loosened, "2.0.0")).exit_code == 0


def test_an_unusable_new_slo_is_breaking() -> None:
    ((kind, path, message),) = slo_changes({**BASE, "objective": 7})
    assert (kind, path) == ("breaking", P)
    assert message.startswith("the new SLO definition cannot be used: dataset 'orders': slo.objective")
