"""Validate OpenLineage events offline against the spec vendored in ``tests/spec/openlineage/``.

    errors = validate_event(Serde.to_dict(event))     # [] when valid
    errors = validate_file("/tmp/ol.jsonl")           # every event the file transport wrote

Each event is checked against ``OpenLineage.json`` (RunEvent, DatasetEvent or JobEvent), then
every facet in it (run, job, dataset, input and output facets) against the schema its
``_schemaURL`` names: the file of that name in ``tests/spec/openlineage/facets/`` (or
``OpenLineage.json`` itself), or for our own facets in ``airflow_dataops/lineage/schemas/``.
A ``_schemaURL`` we cannot resolve, or whose version differs from the local file, is an
error: nothing passes unchecked.  Every ``$ref`` resolves from local files (no network).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_DIR = REPO_ROOT / "tests" / "spec" / "openlineage"  # source and version: tests/spec/README.md
OUR_SCHEMA_DIR = REPO_ROOT / "airflow_dataops" / "lineage" / "schemas"
OUR_SCHEMA_BASE_URL = "https://github.com/airflow-dataops/airflow-dataops/blob/main/docs/lineage-facets/"

_CONTAINER_KIND = {  # where a facet sits -> the base facet def it must extend
    "run.facets": "RunFacet",
    "job.facets": "JobFacet",
    "facets": "DatasetFacet",
    "inputFacets": "InputDatasetFacet",
    "outputFacets": "OutputDatasetFacet",
}
_BASE_KINDS = set(_CONTAINER_KIND.values()) | {"BaseFacet"}


@cache
def _schemas() -> tuple[Registry, dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(registry of every local schema by ``$id``, spec docs by file name, our docs by file name)."""
    if not (SPEC_DIR / "OpenLineage.json").is_file():
        msg = (
            f"OpenLineage spec not found at {SPEC_DIR} (vendored in the repository: see tests/spec/README.md)"
        )
        raise FileNotFoundError(msg)
    spec = {
        p.name: json.loads(p.read_text())
        for p in [SPEC_DIR / "OpenLineage.json", *SPEC_DIR.glob("facets/*.json")]
    }
    ours = {p.name: json.loads(p.read_text()) for p in OUR_SCHEMA_DIR.glob("*.json")}
    resources = [(doc["$id"], Resource.from_contents(doc)) for doc in [*spec.values(), *ours.values()]]
    return Registry().with_resources(resources), spec, ours


@cache
def _validator(ref: str) -> Draft202012Validator:
    registry, _, _ = _schemas()
    return Draft202012Validator({"$ref": ref}, registry=registry, format_checker=FormatChecker())


def _errors(instance: Any, ref: str, where: str) -> list[str]:
    try:
        found = sorted(_validator(ref).iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"{where}{_path(e.absolute_path)}: {e.message}" for e in found]
    except Unresolvable as e:
        return [f"{where}: cannot resolve {e.ref!r} offline"]


def _path(parts: Iterable[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def validate_event(event: dict[str, Any]) -> list[str]:
    """Every problem found in one event (a dict, e.g. ``Serde.to_dict(event)``); ``[]`` if valid."""
    if not isinstance(event, dict):
        return [f"event: expected a JSON object, got {type(event).__name__}"]
    _, spec, _ = _schemas()
    ol_id = spec["OpenLineage.json"]["$id"]
    kind = (
        "RunEvent"
        if "run" in event or "eventType" in event
        else "DatasetEvent"
        if "dataset" in event
        else "JobEvent"
    )
    errors = _errors(event, f"{ol_id}#/$defs/{kind}", "event")
    errors += _errors(event, ol_id, "event (OpenLineage.json)") if not errors else []
    for where, key, facet in _facets(event):
        errors += _facet_errors(where, key, facet)
    return errors


def _facets(event: dict[str, Any]) -> Iterable[tuple[str, str, Any]]:
    """(location, facet key, facet) for every facet in the event."""

    def items(container: Any) -> Iterable[tuple[str, Any]]:
        return container.items() if isinstance(container, dict) else ()

    for key, facet in items((event.get("run") or {}).get("facets")):
        yield "run.facets", key, facet
    for key, facet in items((event.get("job") or {}).get("facets")):
        yield "job.facets", key, facet
    datasets = [("inputs", d) for d in event.get("inputs") or []] + [
        ("outputs", d) for d in event.get("outputs") or []
    ]
    if isinstance(event.get("dataset"), dict):
        datasets.append(("dataset", event["dataset"]))
    for i, (side, dataset) in enumerate(datasets):
        if not isinstance(dataset, dict):
            continue
        label = f"{side}[{dataset.get('name', i)}]" if side != "dataset" else "dataset"
        for container in ("facets", "inputFacets", "outputFacets"):
            for key, facet in items(dataset.get(container)):
                yield f"{label}.{container}", key, facet


def _facet_errors(where: str, key: str, facet: Any) -> list[str]:
    here = f"{where}.{key}"
    if not isinstance(facet, dict):
        return [f"{here}: a facet must be a JSON object, got {type(facet).__name__}"]
    url = facet.get("_schemaURL")
    if not isinstance(url, str) or not url:
        return [f"{here}: missing _schemaURL, so the facet cannot be checked"]
    base, _, fragment = url.partition("#")
    file_name = base.rstrip("/").rsplit("/", 1)[-1]
    _, spec, ours = _schemas()
    doc = ours.get(file_name) if base.startswith(OUR_SCHEMA_BASE_URL) else spec.get(file_name)
    if doc is None:
        return [f"{here}: unknown facet schema {url!r}: no local file {file_name!r} to check it against"]
    if doc["$id"] != base:
        return [f"{here}: _schemaURL {url!r} names another version than the local schema {doc['$id']!r}"]
    if fragment:
        errors = _errors(facet, f"{doc['$id']}#{fragment}", here)
        errors += _kind_errors(where, here, doc, fragment)
    else:
        errors = _errors({key: facet}, doc["$id"], where)
    if file_name != "OpenLineage.json":  # the file's top level names the facet's key (e.g. "subset")
        wrapped = _errors({key: facet}, doc["$id"], where)
        errors += [e for e in wrapped if e not in errors and not e.startswith(f"{where}.{key}")]
    return errors


def _kind_errors(where: str, here: str, doc: dict[str, Any], fragment: str) -> list[str]:
    """A facet must extend the base facet of the container it sits in (no input facet in run.facets)."""
    container = where if where in ("run.facets", "job.facets") else where.rsplit(".", 1)[-1]
    expected = _CONTAINER_KIND.get(container)
    name = fragment.rsplit("/", 1)[-1]
    if name in _BASE_KINDS:
        actual = name
    else:
        node = doc.get("$defs", {}).get(name, {})
        refs = [part.get("$ref", "") for part in node.get("allOf", []) if isinstance(part, dict)]
        kinds = [r.rsplit("/", 1)[-1] for r in refs if "OpenLineage.json#/$defs/" in r]
        actual = kinds[0] if kinds else None
    if expected is None or actual is None or actual in (expected, "BaseFacet"):
        return []
    return [f"{here}: a facet of kind {actual} cannot sit in {container} (it takes a {expected})"]


def validate_file(path: str | Path) -> list[str]:
    """Validate every event the OpenLineage file transport wrote.

    ``path`` is a file of JSON lines (``"append": true``), or the transport's
    ``log_file_path`` prefix when it wrote one ``{prefix}-{timestamp}.json`` file per event
    (the default, ``"append": false``).  No events at all is an error.
    """
    path = Path(path)
    files = [path] if path.is_file() else sorted(path.parent.glob(f"{path.name}-*.json"))
    errors: list[str] = []
    count = 0
    for file in files:
        for lineno, line in enumerate(file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            count += 1
            where = f"{file.name}:{lineno}"
            try:
                event = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{where}: not JSON: {e}")
                continue
            errors += [f"{where}: {error}" for error in validate_event(event)]
    if count == 0:
        errors.append(f"{path}: no OpenLineage events found")
    return errors
