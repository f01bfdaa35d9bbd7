"""SLO specs: validation at construction and reading them from an ODCS contract or sidecar."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_dataops.exceptions import ConfigError
from airflow_dataops.slo.from_contract import sidecar_path, slo_specs_from_contract
from airflow_dataops.slo.sli import SLIKind
from airflow_dataops.slo.spec import (
    BudgetingMethod,
    MissingDataPolicy,
    SLODefinitionError,
    SLOSpec,
    parse_duration,
    parse_unit,
)


def spec(**kw):
    base = {
        "dataset": "flights",
        "kind": SLIKind.FRESHNESS,
        "objective": 0.99,
        "window_days": 30,
        "threshold": 6,
        "unit": "h",
    }
    return SLOSpec(**{**base, **kw})


def contract(slo=None, sla=None, custom_extra=()):
    c = {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": "flights",
        "version": "1.0.0",
        "status": "active",
    }
    if sla is not None:
        c["slaProperties"] = sla
    custom = list(custom_extra)
    if slo is not None:
        custom.append({"property": "dataops", "value": {"slo": slo}})
    if custom:
        c["customProperties"] = custom
    return c


# ---------------------------------------------------------------- SLOSpec


def test_spec_defaults():
    s = spec()
    assert s.kind is SLIKind.FRESHNESS
    assert s.budgeting is BudgetingMethod.OCCURRENCES
    assert s.missing_data is MissingDataPolicy.BAD
    assert s.cadence == timedelta(days=1)
    assert s.slice_length is None
    assert s.error_budget == pytest.approx(0.01)
    assert s.window == timedelta(days=30)
    assert s.canonical_threshold == (21600.0, "s")
    assert s.lower_is_better


@pytest.mark.parametrize(
    ("kind", "policy"),
    [
        pytest.param("freshness", MissingDataPolicy.BAD, id="freshness-bad"),
        pytest.param("completeness", MissingDataPolicy.BAD, id="completeness-bad"),
        pytest.param("correctness", MissingDataPolicy.IGNORE, id="correctness-ignore"),
    ],
)
def test_default_missing_data_policy(kind, policy):
    unit = "h" if kind == "freshness" else "ratio"
    assert spec(kind=kind, unit=unit, threshold=0.9).missing_data is policy


def test_timeslices_default_slice_is_five_minutes():
    s = spec(budgeting="timeslices", cadence="1h")
    assert s.budgeting is BudgetingMethod.TIMESLICES
    assert s.slice_length == timedelta(minutes=5)
    assert s.cadence == timedelta(hours=1)


def test_is_good_converts_units():
    s = spec(threshold=6, unit="h")
    assert s.is_good(6 * 3600, "s") is True
    assert s.is_good(361, "minutes") is False
    c = spec(kind="completeness", threshold=99, unit="percent")
    assert c.canonical_threshold == (pytest.approx(0.99), "ratio")
    assert c.is_good(0.995, "ratio") is True


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        pytest.param(
            {"objective": 1.5},
            "dataset 'flights': slo.objective must be strictly between 0 and 1, got 1.5",
            id="objective-above-1",
        ),
        pytest.param(
            {"objective": 1},
            "dataset 'flights': slo.objective must be strictly between 0 and 1, got 1",
            id="objective-1",
        ),
        pytest.param(
            {"objective": 0.0},
            "dataset 'flights': slo.objective must be strictly between 0 and 1, got 0.0",
            id="objective-0",
        ),
        pytest.param(
            {"objective": "99%"},
            "dataset 'flights': slo.objective must be a finite number, got '99%'",
            id="objective-text",
        ),
        pytest.param(
            {"window_days": 0},
            "dataset 'flights': slo.window_days must be greater than 0, got 0",
            id="window-zero",
        ),
        pytest.param(
            {"window_days": -7},
            "dataset 'flights': slo.window_days must be greater than 0, got -7",
            id="window-negative",
        ),
        pytest.param(
            {"kind": "latency"},
            "dataset 'flights': slo.slis: unknown SLI kind 'latency'; expected one of "
            "freshness, completeness, correctness, consistency, cost",
            id="unknown-kind",
        ),
        pytest.param(
            {"unit": None},
            "dataset 'flights': slo.slis.freshness.unit is required for threshold 6.0; use one of "
            "s, m, h, d (or seconds, minutes, hours, days), percent, ratio, rows",
            id="threshold-no-unit",
        ),
        pytest.param(
            {"unit": "fortnights"},
            "dataset 'flights': slo.slis.freshness.unit has unknown unit 'fortnights'; expected one of "
            "s, m, h, d (or seconds, minutes, hours, days), percent, ratio, rows",
            id="unknown-unit",
        ),
        pytest.param(
            {"unit": "percent"},
            "dataset 'flights': slo.slis.freshness.unit 'percent' does not fit a freshness SLI; "
            "use a unit in: s",
            id="unit-wrong-dimension",
        ),
        pytest.param(
            {"budgeting": "requests"},
            "dataset 'flights': slo.budgeting must be one of occurrences, timeslices, got 'requests'",
            id="unknown-budgeting",
        ),
        pytest.param(
            {"missing_data": "skip"},
            "dataset 'flights': slo.missing_data must be one of bad, good, ignore, got 'skip'",
            id="unknown-missing-policy",
        ),
        pytest.param(
            {"slice_length": timedelta(minutes=5)},
            "dataset 'flights': slo.slice is only meaningful with budgeting timeslices, "
            "got datetime.timedelta(seconds=300)",
            id="slice-without-timeslices",
        ),
        pytest.param(
            {"cadence": "daily"},
            "dataset 'flights': slo.cadence must be a duration such as '1d', '1h' or '5m', got 'daily'",
            id="cadence-text",
        ),
        pytest.param(
            {"cadence": timedelta(0)},
            "dataset 'flights': slo.cadence must be a positive duration, got datetime.timedelta(0)",
            id="cadence-zero",
        ),
        pytest.param(
            {"at_risk_below": 2},
            "dataset 'flights': slo.at_risk_below must be between 0 and 1, got 2",
            id="at-risk-above-1",
        ),
        pytest.param(
            {"threshold": float("nan")},
            "dataset 'flights': slo.slis.freshness.threshold must be a finite number, got nan",
            id="threshold-nan",
        ),
        pytest.param(
            {"dataset": ""}, "SLOSpec.dataset must be a non-empty string, got ''", id="empty-dataset"
        ),
    ],
)
def test_spec_rejects(kw, message):
    with pytest.raises(SLODefinitionError) as e:
        spec(**kw)
    assert str(e.value) == message


def test_definition_error_is_a_config_error():
    assert issubclass(SLODefinitionError, ConfigError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1d", timedelta(days=1), id="1d"),
        pytest.param("1h", timedelta(hours=1), id="1h"),
        pytest.param("5m", timedelta(minutes=5), id="5m"),
        pytest.param("30s", timedelta(seconds=30), id="30s"),
        pytest.param("90 minutes", timedelta(minutes=90), id="90-minutes"),
        pytest.param("2 days", timedelta(days=2), id="2-days"),
        pytest.param("1 day", timedelta(days=1), id="1-day"),
        pytest.param({"value": 1, "unit": "d"}, timedelta(days=1), id="odcs-mapping"),
        pytest.param(timedelta(hours=3), timedelta(hours=3), id="timedelta"),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text, dataset="flights", field="slo.cadence") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            3600,
            "dataset 'flights': slo.cadence must be a duration such as '1d', '1h' or '5m', got 3600",
            id="bare-number",
        ),
        pytest.param(
            {"value": 4},
            "dataset 'flights': slo.cadence has no unit (value 4); add one of s, m, h, d",
            id="mapping-no-unit",
        ),
        pytest.param(
            "5 rows",
            "dataset 'flights': slo.cadence must be a duration, got unit 'rows'; use one of s, m, h, d",
            id="not-a-duration-unit",
        ),
    ],
)
def test_parse_duration_rejects(value, message):
    with pytest.raises(SLODefinitionError) as e:
        parse_duration(value, dataset="flights", field="slo.cadence")
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        pytest.param("s", ("s", 1.0), id="s"),
        pytest.param("minutes", ("s", 60.0), id="minutes"),
        pytest.param("H", ("s", 3600.0), id="H"),
        pytest.param("day", ("s", 86400.0), id="day"),
        pytest.param("percent", ("ratio", 0.01), id="percent"),
        pytest.param("ratio", ("ratio", 1.0), id="ratio"),
        pytest.param("rows", ("rows", 1.0), id="rows"),
    ],
)
def test_parse_unit(unit, expected):
    assert parse_unit(unit, dataset="flights", field="x") == expected


# ---------------------------------------------------------------- from a contract

LATENCY = [
    {"property": "latency", "value": 4, "unit": "h", "element": "flights.time_hour"},
    {"property": "frequency", "value": 1, "unit": "d"},
]


def test_specs_from_custom_properties():
    slo = {
        "objective": 0.99,
        "window_days": 30,
        "budgeting": "occurrences",
        "slis": {
            "freshness": {},
            "completeness": {"threshold": 0.99, "unit": "ratio"},
            "correctness": {"threshold": 95, "unit": "percent", "objective": 0.95, "window_days": 7},
        },
    }
    specs = slo_specs_from_contract(contract(slo, LATENCY), "flights")
    assert [s.kind for s in specs] == [SLIKind.FRESHNESS, SLIKind.COMPLETENESS, SLIKind.CORRECTNESS]
    fresh, complete, correct = specs
    assert (fresh.threshold, fresh.unit, fresh.objective, fresh.window_days) == (4.0, "h", 0.99, 30.0)
    assert fresh.cadence == timedelta(days=1)  # from slaProperties frequency
    assert (complete.threshold, complete.unit, complete.missing_data) == (
        0.99,
        "ratio",
        MissingDataPolicy.BAD,
    )
    assert (correct.objective, correct.window_days, correct.canonical_threshold) == (
        0.95,
        7.0,
        (0.95, "ratio"),
    )


def test_freshness_spec_without_slis_block_comes_from_latency():
    specs = slo_specs_from_contract(contract({"objective": 0.999, "cadence": "1h"}, LATENCY), "flights")
    assert len(specs) == 1
    assert specs[0].kind is SLIKind.FRESHNESS
    assert specs[0].canonical_threshold == (14400.0, "s")
    assert specs[0].cadence == timedelta(hours=1)  # slo.cadence wins over slaProperties frequency


def test_odcs_freshness_property_is_accepted_and_latency_preferred():
    sla = [
        {"property": "freshness", "value": 2, "unit": "d"},
        {"property": "latency", "value": 3, "unit": "hours"},
    ]
    (s,) = slo_specs_from_contract(contract({"objective": 0.99}, sla), "flights")
    assert (s.threshold, s.unit) == (3.0, "hours")
    (s,) = slo_specs_from_contract(contract({"objective": 0.99}, sla[:1]), "flights")
    assert (s.threshold, s.unit) == (2.0, "d")


def test_sla_scoped_to_another_element_is_skipped():
    sla = [
        {"property": "latency", "value": 9, "unit": "h", "element": "airports"},
        {"property": "latency", "value": 4, "unit": "h", "element": "flights"},
    ]
    (s,) = slo_specs_from_contract(contract({"objective": 0.99}, sla), "flights")
    assert s.threshold == 4.0


def test_no_slo_block_means_no_specs():
    assert (
        slo_specs_from_contract(contract(None, LATENCY, [{"property": "owner", "value": "ops"}]), "flights")
        == []
    )


def test_model_with_model_dump_is_accepted():
    class Model:
        def model_dump(self, **kw):
            assert kw == {"by_alias": True, "exclude_none": True}
            return contract({"objective": 0.9}, LATENCY)

    assert slo_specs_from_contract(Model(), "flights")[0].objective == 0.9


def test_dataops_value_as_yaml_text():
    c = contract(None, LATENCY, [{"property": "dataops", "value": "slo:\n  objective: 0.95\n"}])
    assert slo_specs_from_contract(c, "flights")[0].objective == 0.95


def test_sidecar_file(tmp_path):
    path = tmp_path / "flights.odcs.yaml"
    path.write_text("apiVersion: v3.1.0\n")
    assert sidecar_path(path) == tmp_path / "flights.odcs.slo.yaml"
    sidecar_path(path).write_text(
        "slo:\n  objective: 0.995\n  window_days: 28\n  budgeting: timeslices\n  slice: 10m\n  cadence: 1h\n"
        "  slis:\n    completeness: {threshold: 100, unit: rows}\n"
    )
    (s,) = slo_specs_from_contract({"apiVersion": "v3.1.0"}, "flights", contract_path=path)
    assert (s.kind, s.objective, s.window_days, s.budgeting) == (
        SLIKind.COMPLETENESS,
        0.995,
        28.0,
        BudgetingMethod.TIMESLICES,
    )
    assert (s.slice_length, s.cadence, s.canonical_threshold) == (
        timedelta(minutes=10),
        timedelta(hours=1),
        (100.0, "rows"),
    )


def test_sidecar_mapping_given_directly():
    (s,) = slo_specs_from_contract(
        {}, "flights", sidecar={"objective": 0.9, "slis": {"cost": {"threshold": 30, "unit": "m"}}}
    )
    assert (s.kind, s.canonical_threshold) == (SLIKind.COST, (1800.0, "s"))


@pytest.mark.parametrize(
    ("c", "message"),
    [
        pytest.param(
            contract({"objective": 1.5}, LATENCY),
            "dataset 'flights': slo.objective must be strictly between 0 and 1, got 1.5",
            id="objective",
        ),
        pytest.param(
            contract({"objective": 0.99, "slis": {"freshness": {"objective": 99}}}, LATENCY),
            "dataset 'flights': slo.slis.freshness.objective must be strictly between 0 and 1, got 99",
            id="per-sli-objective",
        ),
        pytest.param(
            contract({"objective": 0.99, "window_days": 0}, LATENCY),
            "dataset 'flights': slo.window_days must be greater than 0, got 0",
            id="window-zero",
        ),
        pytest.param(
            contract({"window_days": 30}, LATENCY),
            "dataset 'flights': slo.objective is required, e.g. 0.99",
            id="objective-missing",
        ),
        pytest.param(
            contract({"objective": 0.99, "slis": {"timeliness": {}}}, LATENCY),
            "dataset 'flights': slo.slis: unknown SLI kind 'timeliness'; expected one of "
            "freshness, completeness, correctness, consistency, cost",
            id="unknown-sli",
        ),
        pytest.param(
            contract({"objective": 0.99}, [{"property": "latency", "value": 4}]),
            "dataset 'flights': slaProperties[0].unit is required for threshold 4.0; use one of "
            "s, m, h, d (or seconds, minutes, hours, days), percent, ratio, rows",
            id="sla-no-unit",
        ),
        pytest.param(
            contract({"objective": 0.99}, [{"property": "latency", "value": 4, "unit": "weeks"}]),
            "dataset 'flights': slaProperties[0].unit has unknown unit 'weeks'; expected one of "
            "s, m, h, d (or seconds, minutes, hours, days), percent, ratio, rows",
            id="sla-unknown-unit",
        ),
        pytest.param(
            contract({"objective": 0.99, "slis": {"completeness": {"threshold": 0.99}}}),
            "dataset 'flights': slo.slis.completeness.unit is required for threshold 0.99; use one of "
            "s, m, h, d (or seconds, minutes, hours, days), percent, ratio, rows",
            id="sli-no-unit",
        ),
        pytest.param(
            contract({"objective": 0.99, "slis": {"completeness": {}}}),
            "dataset 'flights': slo.slis.completeness.threshold is required (or, for freshness, "
            "a latency in slaProperties)",
            id="sli-no-threshold",
        ),
        pytest.param(
            contract({"objective": 0.99}),
            "dataset 'flights': slo.slis is empty and slaProperties has no latency or freshness "
            "for this dataset",
            id="nothing-to-measure",
        ),
        pytest.param(
            contract({"objective": 0.99, "objectiv": 0.9}, LATENCY),
            "dataset 'flights': slo has unknown key(s) objectiv; allowed: at_risk_below, budgeting, "
            "cadence, missing_data, objective, slice, slis, window_days",
            id="typo-key",
        ),
        pytest.param(
            contract({"objective": 0.99, "slis": ["freshness"]}, LATENCY),
            "dataset 'flights': slo.slis must be a mapping of SLI kind to settings, got ['freshness']",
            id="slis-list",
        ),
        pytest.param(
            contract(
                None,
                [{"property": "frequency", "value": 1, "unit": "percent"}],
                [
                    {
                        "property": "dataops",
                        "value": {
                            "slo": {
                                "objective": 0.9,
                                "slis": {"completeness": {"threshold": 1, "unit": "ratio"}},
                            }
                        },
                    }
                ],
            ),
            "dataset 'flights': slaProperties[0] must be a duration, got unit 'percent'; use one of s, m, h, d",
            id="frequency-not-duration",
        ),
        pytest.param(
            contract(None, LATENCY, [{"property": "dataops", "value": {"objective": 0.9}}]),
            "dataset 'flights': customProperties[0].value (dataops) must be a mapping with an 'slo' mapping",
            id="dataops-without-slo",
        ),
        pytest.param(
            contract({"objective": 0.99, "budgeting": "timeslices", "slice": "0m"}, LATENCY),
            "dataset 'flights': slo.slice must be a positive duration, got '0m'",
            id="slice-zero",
        ),
    ],
)
def test_contract_rejects(c, message):
    with pytest.raises(SLODefinitionError) as e:
        slo_specs_from_contract(c, "flights")
    assert str(e.value) == message


def test_contract_and_sidecar_both_define_slo():
    with pytest.raises(SLODefinitionError) as e:
        slo_specs_from_contract(contract({"objective": 0.99}, LATENCY), "flights", sidecar={"objective": 0.9})
    assert str(e.value) == (
        "dataset 'flights': slo is defined both in customProperties (dataops) and in a sidecar; keep one"
    )


def test_unreadable_sidecar(tmp_path):
    bad = tmp_path / "x.slo.yaml"
    bad.write_text("just text\n")
    with pytest.raises(SLODefinitionError) as e:
        slo_specs_from_contract({}, "flights", sidecar=bad)
    assert (
        str(e.value) == f"dataset 'flights': SLO sidecar {str(bad)!r} must hold a mapping with an 'slo' key"
    )


def test_contract_of_wrong_type():
    with pytest.raises(SLODefinitionError) as e:
        slo_specs_from_contract(["not", "a", "contract"], "flights")
    assert str(e.value) == (
        "dataset 'flights': a contract must be a mapping (parsed YAML) or a model with model_dump(), got list"
    )


def test_frequency_lint_and_the_slo_cadence_agree(tmp_path):
    """`contract lint` says frequency sets the SLO cadence, and the SLO spec uses it (docs/slo.md)."""
    from datetime import timedelta

    from airflow_dataops.contracts.loader import load_contract
    from airflow_dataops.slo.loader import specs_for_dataset

    path = tmp_path / "orders.odcs.yaml"
    path.write_text(
        "apiVersion: v3.1.0\nkind: DataContract\nid: urn:x:orders\nversion: 1.0.0\nstatus: active\n"
        "schema:\n  - name: orders\n    properties:\n      - {name: id, logicalType: integer}\n"
        "slaProperties:\n  - {property: frequency, value: 6, unit: h}\n"
        "customProperties:\n  - property: dataops\n    value:\n      slo:\n        objective: 0.9\n"
        "        slis: {correctness: {threshold: 1, unit: ratio}}\n"
    )
    contract = load_contract(path)
    assert (
        "slaProperties[0]: SLA property 'frequency' is not checked by the gate; it sets the SLO cadence "
        "(dataops.slo.cadence overrides it)"
    ) in contract.warnings
    (spec,) = specs_for_dataset({"dataset": "orders", "contract_path": str(path)})
    assert spec.cadence == timedelta(hours=6)
