"""The stage step: one partition's rows into a staging table of their own, named after the claim.

Two sources: a SQL ``SELECT`` run in the warehouse (:func:`stage_query`, what
``PartitionedSQLOperator`` stages) and a pandas DataFrame (:func:`stage_dataframe`, what
``DataFramePartitionOperator`` and ``@task.partitioned`` stage).  Both return the staged
``Table``; :class:`airflow_dataops.wap.protocol.PartitionWrite` gates and publishes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine, Table

__all__ = ["partition_frame", "stage_dataframe", "stage_query"]


def stage_query(
    engine: Engine,
    sql: str,
    *,
    table: str,
    partition_key: str,
    claim_id: int | None = None,
    db_schema: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> Table:
    """``CREATE TABLE <stage> AS <sql>`` in the warehouse, ``:partition_key`` (and ``parameters``)
    bound, never formatted into the statement."""
    from sqlalchemy import text

    from airflow_dataops.partitions.tables import reflect_columns
    from airflow_dataops.partitions.writer import stage_table_name

    name = stage_table_name(table, partition_key, claim_id)
    preparer = engine.dialect.identifier_preparer
    qualified = (
        preparer.quote(name)
        if not db_schema
        else f"{preparer.quote_schema(db_schema)}.{preparer.quote(name)}"
    )
    body = sql.strip().rstrip(";")
    params = {"partition_key": partition_key, **(parameters or {})}
    stmt = text(f"CREATE TABLE {qualified} AS {body}")
    used = {k: v for k, v in params.items() if f":{k}" in body}
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {qualified}"))
        conn.execute(stmt, used)
    return reflect_columns(engine, name, db_schema)


def partition_frame(frame: Any, *, partition_column: str, partition_key: str, owner: str) -> pd.DataFrame:
    """``frame`` as the rows of partition ``partition_key``: the partition column filled with the key
    if the frame lacks it; a frame that holds another key, or is no DataFrame, is refused.

    :param owner: who produced the frame (a task id), named first in the error.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{owner}: the callable must return a pandas DataFrame for partition {partition_key!r}, "
            f"got {type(frame).__name__}"
        )
    if partition_column not in frame.columns:
        return frame.assign(**{partition_column: partition_key})
    wrong = frame[partition_column].astype(str) != partition_key
    if wrong.any():
        sample = frame.loc[wrong, partition_column].astype(str).unique()[:3].tolist()
        raise ValueError(
            f"{owner}: {int(wrong.sum())} rows have {partition_column} other than the partition "
            f"key {partition_key!r} (e.g. {sample}); a partition write may only hold its own key"
        )
    return frame


def stage_dataframe(
    engine: Engine,
    frame: Any,
    *,
    table: str,
    partition_column: str,
    partition_key: str,
    owner: str,
    claim_id: int | None = None,
    db_schema: str | None = None,
) -> Table:
    """Stage ``frame`` (checked by :func:`partition_frame`) as the rows of ``partition_key``."""
    from airflow_dataops.partitions.writer import stage_frame

    rows = partition_frame(frame, partition_column=partition_column, partition_key=partition_key, owner=owner)
    return stage_frame(
        engine, rows, table=table, partition_key=partition_key, db_schema=db_schema, claim_id=claim_id
    )
