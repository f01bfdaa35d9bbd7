"""``partitions verify``: the ledger against the target table, partition by partition.

For every partition the ledger holds as published, the target's row count and checksum
are recomputed (one partition at a time, streamed) and compared; partitions present in
the target but unknown to the ledger are reported too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from airflow_dataops import warehouse
from airflow_dataops.exceptions import DataOpsError
from airflow_dataops.partitions.ledger import rerun_command
from airflow_dataops.store import StateStore
from airflow_dataops.store.ledger import list_partitions
from airflow_dataops.store.states import PUBLISHED_STATES


@dataclass(frozen=True, kw_only=True)
class Finding:
    dataset: str
    partition_key: str
    status: str  # ok | stale | rows_differ | checksum_differs | missing_in_target | not_in_ledger
    ledger_rows: int | None
    target_rows: int | None
    detail: str = ""
    rerun_hint: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify_dataset(
    store: StateStore, dataset: dict[str, Any], *, since: str | None = None, engine: Any = None
) -> list[Finding]:
    """Each published partition's rows and checksum against the ledger, then staleness."""
    name, table, column = dataset["dataset"], dataset["target_table"], dataset["partition_column"]
    if not table or not column or not (engine or dataset.get("conn_id")):
        raise DataOpsError(f"dataset {name!r} has no target table, partition column or connection recorded")
    engine = engine or warehouse.engine(dataset["conn_id"], probe=True)
    findings = _verify_rows(store, dataset, since=since, engine=engine)
    return _with_staleness(store, name, findings)


def _with_staleness(store: StateStore, dataset: str, findings: list[Finding]) -> list[Finding]:
    """A partition that matches its ledger row but was built from a replaced upstream is ``stale``."""
    from dataclasses import replace

    from airflow_dataops.partitions.staleness import stale_partitions

    stale = {s.partition_key: s for s in stale_partitions(store, [dataset])}
    out = []
    for f in findings:
        s = stale.get(f.partition_key)
        if s is None:
            out.append(f)
        elif f.ok:
            out.append(
                replace(
                    f, status="stale", detail=f"built from a replaced input: {s.detail}", rerun_hint=s.command
                )
            )
        else:
            out.append(replace(f, detail=f"{f.detail}; also stale: {s.detail}"))
    return out


def _verify_rows(
    store: StateStore, dataset: dict[str, Any], *, since: str | None, engine: Any
) -> list[Finding]:
    from sqlalchemy import bindparam, inspect, select

    from airflow_dataops.partitions.tables import reflect_columns
    from airflow_dataops.partitions.writer import partition_checksum

    name, table, column = dataset["dataset"], dataset["target_table"], dataset["partition_column"]
    db_schema = dataset.get("db_schema") or None  # the schema the partitions were published to
    dag_id = dataset.get("dag_id")
    ledger = {
        p.partition_key: p for p in list_partitions(store, name, since=since) if p.state in PUBLISHED_STATES
    }
    shown = f"{db_schema}.{table}" if db_schema else table
    if not inspect(engine).has_table(table, schema=db_schema):
        return [
            Finding(
                dataset=name,
                partition_key=k,
                status="missing_in_target",
                ledger_rows=p.rows_published,
                target_rows=0,
                detail=f"table {shown!r} does not exist",
                rerun_hint=rerun_command(dag_id, k),
            )
            for k, p in ledger.items()
        ]
    target = reflect_columns(engine, table, db_schema)
    findings: list[Finding] = []
    with engine.connect() as conn:
        present_query = select(target.c[column]).distinct()
        if since:
            present_query = present_query.where(target.c[column] >= bindparam("since", since, unique=True))
        present = {str(v) for (v,) in conn.execute(present_query)}
        for key, p in sorted(ledger.items()):
            rows, checksum = partition_checksum(conn, target, column, key)
            if rows != p.rows_published:
                status, detail = (
                    ("missing_in_target" if rows == 0 else "rows_differ"),
                    f"ledger {p.rows_published}, target {rows} rows",
                )
            elif checksum != p.checksum:
                status, detail = "checksum_differs", "same row count, different content"
            else:
                status, detail = "ok", ""
            findings.append(
                Finding(
                    dataset=name,
                    partition_key=key,
                    status=status,
                    ledger_rows=p.rows_published,
                    target_rows=rows,
                    detail=detail,
                    rerun_hint=None if status == "ok" else rerun_command(dag_id, key),
                )
            )
        for key in sorted(present - set(ledger)):
            rows, _ = partition_checksum(conn, target, column, key)
            findings.append(
                Finding(
                    dataset=name,
                    partition_key=key,
                    status="not_in_ledger",
                    ledger_rows=None,
                    target_rows=rows,
                    detail="rows in the target that no ledgered apply wrote",
                )
            )
    return findings
