"""Write docs/lineage.md from OpenLineage events really captured (a file transport's JSON lines).

    python scripts/gen_lineage_doc.py LINEAGE.jsonl [LINEAGE2.jsonl ...]

Picks one event per kind we emit (a partition publish, a ledger refusal, a standalone gate,
an SLO breach and its resolution) and embeds it verbatim, except the provider's large
``airflow`` run facet, which is replaced by a note.  tests/unit/lineage/test_lineage_doc.py
validates every embedded event against the OpenLineage spec, so the page cannot drift from it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "lineage.md"

INTRO = """# Lineage

airflow-dataops emits [OpenLineage](https://openlineage.io) events through Airflow's OpenLineage provider
(`apache-airflow-providers-openlineage`), so lineage tools (Marquez, DataHub, …) show contract results,
partition decisions and SLO breaches next to the DAG graph, on the same dataset names other producers use.

Lineage is off unless the provider has a transport (`[openlineage] transport`, e.g.
`AIRFLOW__OPENLINEAGE__TRANSPORT='{"type": "http", "url": "http://marquez:5000"}'`). It never fails a task:
a backend that is down costs one warning per event and at most the transport's `timeout`
(set `"retry": {"total": 0}` to skip retries); events we send ourselves (SLO breaches) are bounded by
`[dataops] lineage_emit_timeout_seconds`.

## What we emit

| emitted by | event | dataset facets | run facets |
|---|---|---|---|
| write-audit-publish (`@partitioned_task`, `PartitionedSQLOperator`, `DataFramePartitionOperator`) | the task's START / COMPLETE / FAIL, through the provider's listener | input = the target table with `dataQualityAssertions`, `dataQualityMetrics`, `subset` (the partition); output = the same table with `schema` (from the contract), `outputStatistics`, `subset` | `dataops_gate`, `dataops_partitionLedger` (applied / rerun / refused / failed / stale, with the version superseded) |
| `airflow dataops partitions rollback` | a standalone COMPLETE event, job `dataops_rollback.<dataset>` | output = the rolled-back table with `outputStatistics`, `subset` | `dataops_partitionLedger` (`rolled_back`, with the versions restored and replaced) |
| `ContractGateOperator` | the task's events | input = the checked table with `dataQualityAssertions`, `dataQualityMetrics`, `schema` | `dataops_gate` |
| `SLOEvaluationOperator` (the `dataops_slo_evaluator` DAG) | a standalone run per breach opened or resolved, job `dataops_slo.<dataset>` | input = the dataset | `dataops_sloEvaluation` |

Dataset names follow OpenLineage's naming conventions for the connection: PostgreSQL
`postgres://host:port` + `database.schema.table`; SQLite `sqlite://<absolute path>` + `table`.
Credentials never appear in names or facets (tests use a canary password).

Our own facets have JSON Schemas shipped in the package and published here:
[DataOpsGateRunFacet](lineage-facets/DataOpsGateRunFacet.json),
[DataOpsPartitionLedgerRunFacet](lineage-facets/DataOpsPartitionLedgerRunFacet.json),
[DataOpsSLOEvaluationRunFacet](lineage-facets/DataOpsSLOEvaluationRunFacet.json).
Values of columns classified as sensitive in the contract never appear in assertions or metrics.

## Real events

Each event below was captured from a real run of the test suite and is validated against the
OpenLineage spec by `tests/unit/lineage/test_lineage_doc.py`. The provider's `airflow` run facet
(the whole DAG and task description, several kilobytes) is left out for length.
"""


def _ledger(e: dict[str, Any]) -> dict[str, Any]:
    return e.get("run", {}).get("facets", {}).get("dataops_partitionLedger", {})


def _facets(e: dict[str, Any]) -> dict[str, Any]:
    return e.get("run", {}).get("facets", {})


KINDS: list[tuple[str, str, Callable[[dict[str, Any]], bool]]] = [
    (
        "A partition published",
        "A COMPLETE event of a write-audit-publish task: the gate's assertions on the input, the "
        "published partition on the output, the ledger's decision in the run.",
        lambda e: e["eventType"] == "COMPLETE" and _ledger(e).get("decision") == "applied",
    ),
    (
        "A double apply refused",
        "The ledger refused to apply an already applied partition again; the task was skipped.",
        lambda e: e["eventType"] == "COMPLETE" and _ledger(e).get("decision") == "refused",
    ),
    (
        "A partition rolled back",
        "Sent by `airflow dataops partitions rollback` (no task runs it): the version restored and the "
        "version it replaced (kept, so the rollback can be undone), under the partition's new apply id.",
        lambda e: e["eventType"] == "COMPLETE" and _ledger(e).get("decision") == "rolled_back",
    ),
    (
        "A standalone contract gate",
        "A `ContractGateOperator` checking a table.",
        lambda e: e["eventType"] in ("COMPLETE", "FAIL") and "dataops_gate" in _facets(e) and not _ledger(e),
    ),
    (
        "An SLO breach opened",
        "Emitted by the SLO evaluator when a dataset's SLO breaches, even if no task of it ran.",
        lambda e: _facets(e).get("dataops_sloEvaluation", {}).get("breachState") == "open",
    ),
    (
        "An SLO breach resolved",
        "Emitted once when the breach episode ends.",
        lambda e: _facets(e).get("dataops_sloEvaluation", {}).get("breachState") == "resolved",
    ),
]


def _trim(event: dict[str, Any]) -> dict[str, Any]:
    event = json.loads(json.dumps(event))
    event.get("run", {}).get("facets", {}).pop("airflow", None)
    for ds in event.get("inputs", []):
        assertions = ds.get("inputFacets", {}).get("dataQualityAssertions", {}).get("assertions")
        if assertions and len(assertions) > 6:
            ds["inputFacets"]["dataQualityAssertions"]["assertions"] = assertions[:6]
    return event


def main(paths: list[str]) -> int:
    events: list[dict[str, Any]] = []
    for path in paths:
        for line in Path(path).read_text().splitlines():
            if line.strip():
                events.append(json.loads(line))
    parts = [INTRO]
    missing = []
    for title, text, match in KINDS:
        found = next((e for e in reversed(events) if match(e)), None)
        if found is None:
            missing.append(title)
            continue
        note = (
            " (first 6 of its assertions shown)"
            if any(
                len(d.get("inputFacets", {}).get("dataQualityAssertions", {}).get("assertions", [])) > 6
                for d in found.get("inputs", [])
            )
            else ""
        )
        parts.append(f"### {title}\n\n{text}{note}\n\n```json\n{json.dumps(_trim(found), indent=2)}\n```\n")
    OUT.write_text("\n".join(parts))
    print(
        f"wrote {OUT} ({len(KINDS) - len(missing)} kinds)"
        + (f"; not found: {', '.join(missing)}" if missing else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
