"""The quarantine of a table: ``<table>__quarantine``, where the failing rows of row-level rules go.

One home for its name, its columns, its creation and the ``INSERT … SELECT`` that fills it,
used by both ways rows get there:

* the writer's :func:`~airflow_dataops.partitions.writer.publish`: rows of a staged partition
  that break a rule never reach the target; the partition's earlier quarantined rows are
  replaced in the same transaction (:func:`clear_partition`, :func:`copy_failing`);
* the stand-alone gate in ``quarantine`` mode
  (:func:`~airflow_dataops.contracts.evaluate.quarantine_rows`): rows already in a table are
  moved out, in one transaction that must balance (:func:`move_failing_rows`).

A quarantined row keeps the target's columns and gains four: the partition key, the names of
the rules it broke (``a;b;``), the run id and the time.  This module knows rules only as a name
and a SQL predicate (:class:`RowRule`); compiling a contract's rules into predicates is
:func:`~airflow_dataops.contracts.engines.sql_predicates.row_predicates`'s work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    case,
    false,
    func,
    inspect,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.sql import column as sql_column
from sqlalchemy.sql import table as sql_table
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import TableClause

from airflow_dataops.partitions.tables import (
    MAX_IDENTIFIER,
    create_if_missing,
    ddl_type,
    partition_key_param,
    reflect_columns,
)

__all__ = [
    "QUARANTINE_SUFFIX",
    "Q_AT",
    "Q_KEY",
    "Q_RULES",
    "Q_RUN",
    "QuarantineResult",
    "RowRule",
    "any_failing",
    "clear_partition",
    "copy_failing",
    "ensure_quarantine_table",
    "existing_quarantine_table",
    "move_failing_rows",
    "quarantine_table_name",
    "rules_broken",
]

QUARANTINE_SUFFIX = "__quarantine"
Q_KEY, Q_RULES, Q_RUN, Q_AT = (
    "_dataops_partition_key",
    "_dataops_rules",
    "_dataops_run_id",
    "_dataops_quarantined_at",
)


@dataclass(frozen=True, kw_only=True)
class RowRule:
    """A row-level rule as the quarantine needs it: a name and the SQL predicate TRUE for failing rows."""

    name: str
    failing: ColumnElement[bool]


@dataclass(frozen=True, kw_only=True)
class QuarantineResult:
    """What a stand-alone quarantine moved: ``rows_published + rows_quarantined == rows_in``."""

    table: str
    quarantine_table: str
    rows_in: int
    rows_published: int
    rows_quarantined: int
    rules: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "quarantine_table": self.quarantine_table,
            "rows_in": self.rows_in,
            "rows_published": self.rows_published,
            "rows_quarantined": self.rows_quarantined,
            "rules": list(self.rules),
        }


def quarantine_table_name(table: str) -> str:
    """``<table>__quarantine``; refused (``ValueError``) when longer than PostgreSQL allows."""
    name = f"{table}{QUARANTINE_SUFFIX}"
    if len(name) > MAX_IDENTIFIER:
        raise ValueError(
            f"quarantine table name {name!r} is longer than {MAX_IDENTIFIER} characters; shorten the table name"
        )
    return name


def any_failing(rules: Iterable[RowRule]) -> ColumnElement[bool] | None:
    """TRUE for a row that breaks any of ``rules``; ``None`` when there are none."""
    preds = [rule.failing for rule in rules]
    if not preds:
        return None
    return or_(*preds)


def rules_broken(rules: Sequence[RowRule]) -> ColumnElement[str]:
    """The names of the rules a row breaks, each followed by ``;`` (``''`` for none)."""
    expr: ColumnElement[str] = literal("", String())
    for rule in rules:
        expr = expr + case((rule.failing, literal(rule.name + ";", String())), else_=literal("", String()))
    return expr


def ensure_quarantine_table(engine: Engine, target: Table, *, db_schema: str | None) -> Table:
    """``<table>__quarantine`` with ``target``'s columns and the four quarantine columns, created if missing."""
    name = quarantine_table_name(target.name)
    if not inspect(engine).has_table(name, schema=db_schema):
        q = Table(
            name,
            MetaData(),
            *[Column(c.name, ddl_type(engine, name, c.name, c.type)) for c in target.columns],
            Column(Q_KEY, String(250)),
            Column(Q_RULES, Text),
            Column(Q_RUN, String(250)),
            Column(Q_AT, DateTime(timezone=True)),
            schema=db_schema,
        )
        create_if_missing(engine, q, db_schema)
    return reflect_columns(engine, name, db_schema)


def existing_quarantine_table(engine: Engine, table: str, *, db_schema: str | None) -> TableClause | None:
    """``table``'s quarantine (its partition key column only) if one exists, e.g. left by an earlier contract.

    A table whose quarantine's name would be too long has none (:func:`quarantine_table_name`
    refuses to make one): its partitions publish as long as no rule quarantines rows.
    """
    name = f"{table}{QUARANTINE_SUFFIX}"
    if len(name) > MAX_IDENTIFIER or not inspect(engine).has_table(name, schema=db_schema):
        return None
    return sql_table(name, sql_column(Q_KEY), schema=db_schema)


def clear_partition(conn: Connection, quarantine: TableClause, partition_key: str) -> None:
    """Delete one partition's quarantined rows (a replaced partition's rejects go with it)."""
    conn.execute(quarantine.delete().where(quarantine.c[Q_KEY] == partition_key_param(partition_key)))


def copy_failing(
    conn: Connection,
    *,
    source: TableClause,
    columns: Sequence[str],
    quarantine: Table,
    rules: Sequence[RowRule],
    where: Sequence[ColumnElement[bool]],
    partition_key: str | None,
    run_id: str | None,
    now: datetime | None,
) -> None:
    """``INSERT INTO quarantine SELECT`` the ``columns`` of ``source``'s rows matching ``where``,
    tagged with the partition key, the names of the ``rules`` each breaks, the run id and the time."""
    selected = select(
        *[source.c[n] for n in columns],
        literal(partition_key, String()),
        rules_broken(rules),
        literal(run_id, String()),
        literal(now or datetime.now().astimezone(), DateTime(timezone=True)),
    ).where(*where)
    conn.execute(quarantine.insert().from_select([*columns, Q_KEY, Q_RULES, Q_RUN, Q_AT], selected))


def move_failing_rows(
    engine: Engine,
    *,
    target: Table,
    rules: Sequence[RowRule],
    partition_column: str | None = None,
    partition_value: str | None = None,
    run_id: str | None = None,
    db_schema: str | None = None,
    now: datetime | None = None,
    prepare: Callable[[Connection], None] | None = None,
) -> QuarantineResult:
    """Move the rows of ``target`` (one partition if given) that break ``rules`` to its quarantine.

    ONE transaction: copy the failing rows to the quarantine table and delete them from
    ``target``; it commits only if the rows left plus the rows moved equal the rows before,
    else rolls back.

    :param prepare: called with the transaction's connection first (e.g. to give SQLite the
        ``REGEXP`` the rules' predicates use).
    :raises RuntimeError: the move would not balance; nothing was changed.
    """
    quarantine = ensure_quarantine_table(engine, target, db_schema=db_schema)
    part = target.c[partition_column] == partition_value if partition_column else true()
    failing = any_failing(rules)
    if failing is None:
        failing = false()
    columns = [c.name for c in target.columns]
    count = select(func.count()).select_from(target)
    with engine.begin() as conn:
        if prepare is not None:
            prepare(conn)
        if conn.dialect.name == "postgresql":  # no writer may slip rows in between count and move
            conn.execute(
                text(
                    f"LOCK TABLE {conn.dialect.identifier_preparer.format_table(target)} IN SHARE ROW EXCLUSIVE MODE"
                )
            )
        rows_in = conn.execute(count.where(part)).scalar_one()
        to_move = conn.execute(count.where(part, failing)).scalar_one()
        copy_failing(
            conn,
            source=target,
            columns=columns,
            quarantine=quarantine,
            rules=rules,
            where=(part, failing),
            partition_key=partition_value,
            run_id=run_id,
            now=now,
        )
        deleted = conn.execute(target.delete().where(part, failing)).rowcount
        rows_left = conn.execute(count.where(part)).scalar_one()
        if deleted != to_move or rows_left + to_move != rows_in:
            raise RuntimeError(
                f"quarantine of {target.name!r} would not balance (rows before {rows_in}, moved {to_move}, "
                f"deleted {deleted}, left {rows_left}); rolled back, the table is unchanged"
            )
    return QuarantineResult(
        table=target.name,
        quarantine_table=quarantine.name,
        rows_in=rows_in,
        rows_published=rows_left,
        rows_quarantined=to_move,
        rules=tuple(rule.name for rule in rules),
    )
