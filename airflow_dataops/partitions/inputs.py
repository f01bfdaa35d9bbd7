"""Which upstream dataset partitions an apply reads: from asset events, declarations or its SQL.

Three sources, in this order of trust (a dataset named by an earlier source is not guessed again
by a later one):

``event``     the run's triggering asset events: each carries the upstream partition key (already
              mapped by Airflow's partition mapper) and the DAG and task that emitted it; the
              dataset is the one our ledger knows that task publishes.
``declared``  ``inputs=`` on the operator: a dataset name (same partition key as this apply), or a
              ``(dataset, key)`` pair, or a mapping ``{dataset: key or [keys]}``.
``sql``       the tables a ``PartitionedSQLOperator``'s query reads (Airflow's OpenLineage SQL
              parser), matched to the datasets the store knows by target table (and schema);
              the partition read is the one with this apply's key (the query binds ``:partition_key``).

Only inputs the ledger has published are recorded (an input it never saw cannot go stale).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_dataops.exceptions import DataOpsError
from airflow_dataops.store.inputs import InputRecord, InputRef

log = logging.getLogger(__name__)

#: SQLAlchemy dialect name -> the OpenLineage SQL parser's dialect.
_PARSER_DIALECTS = {"postgresql": "postgres", "sqlite": "sqlite", "mysql": "mysql", "mssql": "mssql"}


def normalize_declared(inputs: Any, *, owner: str) -> tuple[tuple[str, str | None], ...]:
    """Validate ``inputs=`` once, at DAG parse time: ``(dataset, key or None)`` pairs.

    :raises ValueError: naming what was received and what is allowed.
    """
    if inputs is None:
        return ()
    allowed = (
        'a dataset name ("orders"), a (dataset, partition_key) pair, or a mapping '
        '{dataset: partition_key or [keys]}; a key may be a template such as "{{ partition_key }}"'
    )
    items: list[tuple[str, str | None]] = []
    if isinstance(inputs, Mapping):
        for ds, keys in inputs.items():
            for key in [keys] if keys is None or isinstance(keys, str) else list(keys):
                items.append((ds, key))
    elif isinstance(inputs, (list, tuple)):
        for item in inputs:
            if isinstance(item, str):
                items.append((item, None))
            elif isinstance(item, (list, tuple)) and len(item) == 2:
                items.append((item[0], item[1]))
            else:
                raise ValueError(f"{owner}: inputs item {item!r} is not {allowed}")
    else:
        raise ValueError(f"{owner}: inputs={inputs!r} ({type(inputs).__name__}); give a list of {allowed}")
    for ds, key in items:
        if not isinstance(ds, str) or not ds.strip():
            raise ValueError(f"{owner}: inputs dataset {ds!r} must be a non-empty string; give {allowed}")
        if key is not None and (not isinstance(key, str) or not key.strip()):
            raise ValueError(f"{owner}: inputs key {key!r} for {ds!r} must be a non-empty string or omitted")
    return tuple(items)


def from_declared(declared: Iterable[Sequence[Any]], partition_key: str) -> list[InputRef]:
    return [
        InputRef(dataset=str(ds), partition_key=str(key) if key else partition_key, source="declared")
        for ds, key in declared
    ]


def from_events(events: Any, datasets: Sequence[Mapping[str, Any]]) -> list[InputRef]:
    """Inputs from a run's ``triggering_asset_events`` (asset -> events with ``partition_key``).

    An event names the DAG and task that emitted it; the dataset is the one the store records
    for that task.  Events without a partition key, or from a task that publishes no dataset
    through the ledger, say nothing about a partition and are left out.
    """
    if not events:
        return []
    by_task: dict[tuple[str | None, str | None], list[str]] = {}
    for d in datasets:
        by_task.setdefault((d.get("dag_id"), d.get("task_id")), []).append(d["dataset"])
    refs: list[InputRef] = []
    try:
        groups = list(events.values())
    except (AttributeError, TypeError):
        return []
    for group in groups:
        for event in group or ():
            key = getattr(event, "partition_key", None)
            extra = getattr(event, "extra", None) or {}
            named = extra.get("dataops_dataset") if isinstance(extra, Mapping) else None
            found = (
                [named]
                if isinstance(named, str) and named
                else by_task.get(
                    (getattr(event, "source_dag_id", None), getattr(event, "source_task_id", None)), []
                )
            )
            if not key:
                continue
            refs += [InputRef(dataset=ds, partition_key=str(key), source="event") for ds in found]
    return refs


def sql_tables(sql: str, dialect: str | None) -> list[tuple[str | None, str]]:
    """``(schema, table)`` for each table the query reads, by Airflow's OpenLineage SQL parser.

    :raises DataOpsError: the parser is not installed, or cannot read the query.
    """
    try:
        from airflow.providers.openlineage.sqlparser import SQLParser
    except ImportError as e:  # pragma: no cover - the provider is a dependency
        raise DataOpsError(f"Airflow's OpenLineage SQL parser is not available: {e}") from e
    meta = SQLParser(dialect=_PARSER_DIALECTS.get(dialect or "", "generic")).parse(sql)
    if meta is None:
        raise DataOpsError("the OpenLineage SQL parser could not read the query")
    return [(tm.schema, tm.name) for tm in meta.in_tables]


def from_sql(
    tables: Iterable[tuple[str | None, str]],
    datasets: Sequence[Mapping[str, Any]],
    *,
    partition_key: str,
    conn_id: str | None,
    db_schema: str | None,
    skip: Iterable[str] = (),
) -> list[InputRef]:
    """Datasets behind the query's tables: target table (and schema) match; same connection preferred."""
    refs: list[InputRef] = []
    skipped = set(skip)
    for schema, table in tables:
        wanted = _schema(schema) if schema else _schema(db_schema)
        matches = [
            d
            for d in datasets
            if (d.get("target_table") or "").lower() == table.lower()
            and _schema(d.get("db_schema")) == wanted
        ]
        if len(matches) > 1:
            matches = [d for d in matches if d.get("conn_id") == conn_id] or matches
        if len(matches) > 1:
            log.warning(
                "dataops: table %s is the target of %d datasets (%s); not recorded as an input",
                table,
                len(matches),
                ", ".join(d["dataset"] for d in matches),
            )
            continue
        for d in matches:
            if d["dataset"] not in skipped:
                refs.append(InputRef(dataset=d["dataset"], partition_key=partition_key, source="sql"))
    return refs


def _schema(name: str | None) -> str:
    """A schema for comparison: the default one spelled out (SQLite's main, PostgreSQL's public) is none."""
    name = (name or "").lower()
    return "" if name in ("main", "public") else name


def merge(*groups: Iterable[InputRef], exclude: str | None = None) -> list[InputRef]:
    """One list: a dataset named by an earlier group is not taken from a later one; never ``exclude``."""
    out: list[InputRef] = []
    named: set[str] = set()
    for group in groups:
        refs = [r for r in group if r.dataset != exclude]
        fresh = [r for r in refs if r.dataset not in named]
        out += fresh
        named |= {r.dataset for r in fresh}
    unique: dict[tuple[str, str], InputRef] = {}
    for r in out:
        unique.setdefault((r.dataset, r.partition_key), r)
    return list(unique.values())


def inputs_for_apply(
    store: Any,
    *,
    dataset: str,
    partition_key: str,
    declared: Iterable[Sequence[Any]],
    events: Any,
    tables: Iterable[tuple[str | None, str]],
    conn_id: str | None,
    db_schema: str | None,
    log: Any = log,
) -> list[InputRecord]:
    """Everything an apply of ``dataset``'s ``partition_key`` reads, with each input's apply id now.

    Call it before the task reads its data: an upstream replaced afterwards then shows as stale.
    """
    from airflow_dataops.store.inputs import resolve_inputs
    from airflow_dataops.store.records import list_datasets

    known = list_datasets(store)
    refs = merge(
        from_declared(declared, partition_key),
        from_events(events, known),
        from_sql(tables, known, partition_key=partition_key, conn_id=conn_id, db_schema=db_schema),
        exclude=dataset,
    )
    records, unknown = resolve_inputs(store, refs)
    for ref in unknown:
        log.info(
            "dataops: input %s %r (%s) has no published partition in the ledger; not recorded",
            ref.dataset,
            ref.partition_key,
            ref.source,
        )
    if records:
        log.info(
            "dataops: partition %r of %s reads %s",
            partition_key,
            dataset,
            ", ".join(
                f"{r.input_dataset} {r.input_partition_key!r} (apply #{r.input_apply_id}, {r.source})"
                for r in records
            ),
        )
    return records
