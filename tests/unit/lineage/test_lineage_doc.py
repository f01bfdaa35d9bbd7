"""docs/lineage.md embeds real captured events: each must still validate against the OpenLineage spec."""

from __future__ import annotations

import json
import re

from conftest import ROOT
from lineage_validation import validate_event

DOC = ROOT / "docs" / "lineage.md"


def _events() -> list[tuple[str, dict]]:
    text = DOC.read_text()
    out = []
    for match in re.finditer(r"^### (.+?)\n(?:.|\n)*?```json\n(.*?)\n```", text, re.M | re.S):
        out.append((match.group(1), json.loads(match.group(2))))
    return out


def test_every_embedded_event_is_valid_openlineage() -> None:
    events = _events()
    assert [title for title, _ in events] == [
        "A partition published",
        "A double apply refused",
        "A partition rolled back",
        "A standalone contract gate",
        "An SLO breach opened",
        "An SLO breach resolved",
    ]
    for title, event in events:
        assert validate_event(event) == [], title


def test_the_published_event_shows_assertions_on_the_dataset_it_wrote() -> None:
    event = dict(_events())["A partition published"]
    [inp], [out] = event["inputs"], event["outputs"]
    assert (inp["namespace"], inp["name"]) == (out["namespace"], out["name"])
    assert inp["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert event["run"]["facets"]["dataops_partitionLedger"]["decision"] == "applied"


def test_the_rollback_event_names_both_versions() -> None:
    ledger = dict(_events())["A partition rolled back"]["run"]["facets"]["dataops_partitionLedger"]
    assert ledger["decision"] == "rolled_back"
    assert ledger["restored"]["checksum"] == ledger["checksum"]
    assert ledger["supersedes"]["state"] == "rolled_back" and ledger["supersedes"]["kept"] is True
