"""The offline validator itself: it must catch broken events, and pass good ones."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest
from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
from openlineage.client.facet_v2 import data_quality_assertions_dataset as dqa
from openlineage.client.facet_v2 import nominal_time_run
from openlineage.client.serde import Serde

from airflow_dataops.lineage import builders
from airflow_dataops.lineage.facets import DataOpsGateRunFacet

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import lineage_validation
from lineage_validation import validate_event, validate_file


@pytest.fixture
def good():
    event = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime="2026-01-01T00:00:00+00:00",
        run=Run(
            runId="01941f29-7c00-7087-8d2a-0e4a1ff0d2a5",
            facets={
                "nominalTime": nominal_time_run.NominalTimeRunFacet(
                    nominalStartTime="2026-01-01T00:00:00+00:00"
                ),
                "dataops_gate": DataOpsGateRunFacet(
                    contractId="c",
                    contractVersion="1",
                    mode="fail",
                    verdict="passed",
                    rulesTotal=1,
                    rulesFailed=0,
                ),
            },
        ),
        job=Job(namespace="default", name="dataops.test"),
        inputs=[
            builders.input_dataset(
                "sqlite:///d.db",
                "flights",
                input_facets={
                    "dataQualityAssertions": dqa.DataQualityAssertionsDatasetFacet(
                        assertions=[dqa.Assertion(assertion="not_null", success=True, column="id")]
                    )
                },
            )
        ],
        outputs=[
            builders.output_dataset(
                "sqlite:///d.db",
                "out",
                output_facets={"subset": builders.partition_subset("day", "2013-01-01")},
            )
        ],
    )
    return Serde.to_dict(event)


def test_spec_dir_is_inside_the_repository():
    repo = Path(__file__).resolve().parents[3]
    assert repo / "tests" / "spec" / "openlineage" == lineage_validation.SPEC_DIR
    assert (lineage_validation.SPEC_DIR / "OpenLineage.json").is_file()
    assert (lineage_validation.SPEC_DIR / "LICENSE").is_file()


def test_vendored_facets_are_the_versions_the_client_emits():
    """Every facet class of openlineage-python names (in ``_get_schema``) a schema we hold, at that version."""
    import inspect

    from openlineage.client import facet_v2

    _, spec, _ = lineage_validation._schemas()
    local_ids = {doc["$id"] for doc in spec.values()}
    emitted = set()
    for module in vars(facet_v2).values():
        for cls in vars(module).values() if inspect.ismodule(module) else ():
            if inspect.isclass(cls) and callable(getattr(cls, "_get_schema", None)):
                url = cls._get_schema().partition("#")[0]
                if url.startswith("https://openlineage.io/spec/facets/"):
                    emitted.add(url)
    assert emitted, "no facet classes found in openlineage.client.facet_v2"
    # The one known gap (tests/spec/README.md): the client's deprecated DataQualityMetricsDatasetFacet
    # is 1-0-1, the vendored snapshot has 1-0-0. Nothing here emits it (lineage/builders.py uses the
    # *Input* facet); if something did, validate_event would report the version mismatch.
    assert sorted(emitted - local_ids) == [
        "https://openlineage.io/spec/facets/1-0-1/DataQualityMetricsDatasetFacet.json"
    ]


def test_good_event_passes(good):
    assert validate_event(good) == []


def breaks(event, change):
    event = copy.deepcopy(event)
    change(event)
    return validate_event(event)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            lambda e: e["job"].pop("name"), "event.job: 'name' is a required property", id="missing-job-name"
        ),
        pytest.param(
            lambda e: e["run"].pop("runId"), "event.run: 'runId' is a required property", id="missing-run-id"
        ),
        pytest.param(
            lambda e: e.update(eventType="DONE"), "event.eventType: 'DONE' is not one of", id="bad-event-type"
        ),
        pytest.param(
            lambda e: e["run"].update(runId="not-a-uuid"),
            "event.run.runId: 'not-a-uuid' is not a 'uuid'",
            id="run-id-format",
        ),
        pytest.param(
            lambda e: e["run"]["facets"]["nominalTime"].pop("nominalStartTime"),
            "run.facets.nominalTime: 'nominalStartTime' is a required property",
            id="standard-facet-required",
        ),
        pytest.param(
            lambda e: e["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"][0].update(
                success="yes"
            ),
            "inputs[flights].inputFacets.dataQualityAssertions.assertions[0].success: 'yes' is not of type 'boolean'",
            id="wrong-type-in-facet",
        ),
        pytest.param(
            lambda e: e["run"]["facets"]["dataops_gate"].update(rulesTotal="1"),
            "run.facets.dataops_gate.rulesTotal: '1' is not of type 'integer'",
            id="wrong-type-in-our-facet",
        ),
        pytest.param(
            lambda e: e["run"]["facets"]["nominalTime"].pop("_producer"),
            "run.facets.nominalTime: '_producer' is a required property",
            id="base-facet-required",
        ),
        pytest.param(
            lambda e: e["run"]["facets"].update(
                x={"_producer": "p", "_schemaURL": "https://example.com/spec/X.json#/$defs/X"}
            ),
            "run.facets.x: unknown facet schema 'https://example.com/spec/X.json#/$defs/X'",
            id="unknown-facet",
        ),
        pytest.param(
            lambda e: e["run"]["facets"].update(x={"_producer": "p"}),
            "run.facets.x: missing _schemaURL",
            id="no-schema-url",
        ),
        pytest.param(
            lambda e: e["run"]["facets"]["nominalTime"].update(
                _schemaURL="https://openlineage.io/spec/facets/9-9-9/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet"
            ),
            "names another version than the local schema",
            id="version-mismatch",
        ),
        pytest.param(
            lambda e: e["run"]["facets"].update(dq=e["inputs"][0]["inputFacets"]["dataQualityAssertions"]),
            "run.facets.dq: a facet of kind InputDatasetFacet cannot sit in run.facets (it takes a RunFacet)",
            id="facet-in-wrong-container",
        ),
        pytest.param(
            lambda e: e["outputs"][0]["outputFacets"].update(
                part=e["outputs"][0]["outputFacets"].pop("subset")
            ),
            "outputs[out].outputFacets: 'subset' is a required property",
            id="subset-under-wrong-key",
        ),
        pytest.param(
            lambda e: e["run"]["facets"]["dataops_gate"].update(
                _schemaURL=e["run"]["facets"]["dataops_gate"]["_schemaURL"].replace(
                    "#/$defs/DataOpsGateRunFacet", "#/$defs/Nope"
                )
            ),
            "run.facets.dataops_gate: cannot resolve",
            id="unresolvable-fragment",
        ),
    ],
)
def test_broken_event_is_caught(good, change, expected):
    errors = breaks(good, change)
    assert any(expected in e for e in errors), errors


def test_not_an_object():
    assert validate_event([]) == ["event: expected a JSON object, got list"]


def test_validate_file_json_lines(good, tmp_path):
    path = tmp_path / "ol.jsonl"
    bad = copy.deepcopy(good)
    del bad["job"]["namespace"]
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n{not json\n")
    errors = validate_file(path)
    assert errors[0] == "ol.jsonl:3: event.job: 'namespace' is a required property"
    assert errors[1].startswith("ol.jsonl:4: not JSON")
    assert len(errors) == 2


def test_validate_file_per_event_files(good, tmp_path):
    """The file transport's default (append=false) writes {log_file_path}-{timestamp}.json per event."""
    (tmp_path / "ol-20260101-000000.json").write_text(json.dumps(good) + "\n")
    (tmp_path / "ol-20260101-000001.json").write_text(json.dumps(good) + "\n")
    assert validate_file(tmp_path / "ol") == []


def test_validate_file_with_no_events_is_an_error(tmp_path):
    assert validate_file(tmp_path / "missing") == [f"{tmp_path / 'missing'}: no OpenLineage events found"]
