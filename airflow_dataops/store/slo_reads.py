"""What an SLO evaluation reads from the store: SLI rows as columns, the newest SLI, partition states.

* :func:`read_sli_columns` reads the SLI rows the evaluator needs as plain columns
  (Unix seconds computed by the database, ``value``, ``good``, ``unit``, ``partition_key``)
  for ALL datasets at once, sorted, on the DB-API cursor: no SQLAlchemy row, no ``datetime``
  per row.  PostgreSQL: one statement.  SQLite: one index seek per ``(dataset, kind)``, the
  rows without their dataset and kind strings, in one read transaction (one snapshot).
  :func:`read_sli_columns_for` reads a few datasets through the index.
* :func:`latest_sli` finds the newest row of a dataset and kind however old it is (the
  evaluator needs it to see a dataset that went silent).
* :func:`read_partition_states` reads the ledger's current rows of the datasets whose
  completeness SLO counts partitions.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import cast, desc, extract, func, select
from sqlalchemy.types import Float

from airflow_dataops.clock import as_utc
from airflow_dataops.store import tables as t
from airflow_dataops.store.engine import StateStore

__all__ = [
    "SLIColumns",
    "latest_sli",
    "read_partition_states",
    "read_sli_columns",
    "read_sli_columns_for",
]

_UNIX_EPOCH_JULIAN = 2440587.5


@dataclass(slots=True)
class SLIColumns:
    """The SLI rows of one dataset and kind, ascending by time, as parallel lists."""

    times: list[float] = field(default_factory=list)  # Unix seconds
    values: list[float | None] = field(default_factory=list)
    goods: list[bool | None] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    partitions: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.times)


def _epoch(store: StateStore, column: Any) -> Any:
    """``column`` as Unix seconds (float), computed by the database."""
    if store.dialect == "sqlite":
        # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC here).
        return (func.julianday(column) - _UNIX_EPOCH_JULIAN) * 86400.0
    return cast(extract("epoch", column), Float)


_SLI_COLUMNS_SQL = (
    "SELECT dataset, kind, {epoch}, value, good, unit, partition_key FROM dataops_sli "
    "WHERE observed_at > {since} AND observed_at <= {until}{kinds} "
    "ORDER BY dataset, kind, observed_at, id"
)
# SQLite: one indexed range read per (dataset, kind) group, in one read transaction (one
# snapshot).  SQLite cannot seek the (dataset, kind, observed_at) index on a range of its third
# column across all groups without statistics, so a single statement scans every row of the
# table through the index (and sorts); a seek per group reads only the window's rows, already in
# (observed_at, id) order (id is the rowid, the index's last column), and needs neither a count
# query nor the dataset/kind strings per row.  The unit comes as a small-int code.
_SQLITE_GROUP_SQL = (
    "SELECT {epoch}, value, good, "
    "CASE unit WHEN 's' THEN 0 WHEN 'ratio' THEN 1 WHEN 'rows' THEN 2 ELSE 3 END, partition_key "
    "FROM dataops_sli WHERE dataset = ? AND kind = ? AND observed_at > ? AND observed_at <= ? "
    "ORDER BY observed_at, id"
)
# Every dataset with SLI rows by a loose index scan: one seek per dataset, not a scan of the rows.
_SQLITE_DATASETS_SQL = (
    "WITH RECURSIVE names(name) AS (SELECT min(dataset) FROM dataops_sli UNION ALL "
    "SELECT (SELECT min(dataset) FROM dataops_sli WHERE dataset > names.name) FROM names "
    "WHERE names.name IS NOT NULL) SELECT name FROM names WHERE name IS NOT NULL"
)
_SQLITE_KINDS_SQL = "SELECT DISTINCT kind FROM dataops_sli WHERE dataset = ? ORDER BY kind"
_UNIT_CODES = ("s", "ratio", "rows", "?")  # "?": judged by the recorded ``good``
_CHUNK = 100_000


def _sqlite_stamp(value: datetime) -> str:
    # The text SQLAlchemy's SQLite DATETIME stores (UTC wall time): compared as text.
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _run_end(ds: Sequence[Any], kd: Sequence[Any], i: int, n: int) -> int:
    """End of the run of equal ``(dataset, kind)`` starting at ``i`` (runs are contiguous)."""
    name, kind = ds[i], kd[i]
    lo, hi = i + 1, n  # the predicate "same key" is true on [i, end) and false after
    step = 1
    while lo < hi:  # gallop, then bisect: O(log run) per run, no Python loop per row
        probe = min(lo + step - 1, hi - 1)
        if ds[probe] == name and kd[probe] == kind:
            lo = probe + 1
            step *= 2
        else:
            hi = probe
            break
    while lo < hi:
        mid = (lo + hi) // 2
        if ds[mid] == name and kd[mid] == kind:
            lo = mid + 1
        else:
            hi = mid
    return lo


def read_sli_columns(
    store: StateStore,
    *,
    since: datetime,
    until: datetime,
    datasets: Collection[str] | None = None,
    kinds: Collection[str] | None = None,
) -> dict[tuple[str, str], SLIColumns]:
    """SLI rows observed in ``(since, until]``, grouped by ``(dataset, kind)``, in one query.

    The fast path of the evaluator: plain SQL on the DB-API cursor (no SQLAlchemy row
    objects), Unix seconds computed by the database, rows split into per-dataset column
    lists by slicing, never by a Python loop over rows.

    :param datasets: only these datasets (default: all; filtered after reading).
    :param kinds: only these kinds (default: all).
    :returns: ``{(dataset, kind): SLIColumns}`` sorted by time (ties by insertion order).
        ``good`` comes back as the driver gives it (``0``/``1`` on SQLite).
    """
    wanted = None if datasets is None else set(datasets)
    if wanted is not None and not wanted:
        return {}
    sqlite = store.dialect == "sqlite"
    kind_list = sorted(set(kinds)) if kinds is not None else None
    if sqlite:
        epoch = f"(julianday(observed_at) - {_UNIX_EPOCH_JULIAN}) * 86400.0"
        params: Any = [_sqlite_stamp(since), _sqlite_stamp(until)]
        marks = ("?", "?")
        kind_sql = ""
    else:
        epoch = "CAST(EXTRACT(EPOCH FROM observed_at) AS DOUBLE PRECISION)"
        params = {"since": since, "until": until}
        marks = ("%(since)s", "%(until)s")
        kind_sql = ""
        if kind_list:
            kind_sql = " AND kind IN (" + ", ".join(f"%(k{i})s" for i in range(len(kind_list))) + ")"
            params.update({f"k{i}": k for i, k in enumerate(kind_list)})
    if kind_list is not None and not kind_list:
        return {}
    out: dict[tuple[str, str], SLIColumns] = {}
    with store.begin(write=False) as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if sqlite:
                return _read_sqlite(cursor, params, epoch, wanted, kind_list)
            sql = _SLI_COLUMNS_SQL.format(epoch=epoch, since=marks[0], until=marks[1], kinds=kind_sql)
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(_CHUNK):
                ds, kd, ts, vs, gs, us, ps = zip(*rows)
                n = len(ds)
                i = 0
                while i < n:
                    j = _run_end(ds, kd, i, n)
                    key = (ds[i], kd[i])
                    if wanted is None or key[0] in wanted:
                        cols = out.get(key)
                        if cols is None:
                            out[key] = SLIColumns(
                                list(ts[i:j]), list(vs[i:j]), list(gs[i:j]), list(us[i:j]), list(ps[i:j])
                            )
                        else:  # the run continues from the previous chunk
                            cols.times.extend(ts[i:j])
                            cols.values.extend(vs[i:j])
                            cols.goods.extend(gs[i:j])
                            cols.units.extend(us[i:j])
                            cols.partitions.extend(ps[i:j])
                    i = j
        except conn.dialect.dbapi.Error as e:  # type: ignore[union-attr]  # the raw cursor: PEP 249 errors
            raise store._unreachable(e) from e
        finally:
            cursor.close()
    return out


def _read_sqlite(
    cursor: Any,
    params: Sequence[Any],
    epoch: str,
    wanted: set[str] | None,
    kinds: Sequence[str] | None,
) -> dict[tuple[str, str], SLIColumns]:
    names = sorted(wanted) if wanted is not None else [r[0] for r in cursor.execute(_SQLITE_DATASETS_SQL)]
    sql = _SQLITE_GROUP_SQL.format(epoch=epoch)
    since, until = params
    unit = _UNIT_CODES.__getitem__
    out: dict[tuple[str, str], SLIColumns] = {}
    for dataset in names:
        of_dataset = (
            kinds if kinds is not None else [r[0] for r in cursor.execute(_SQLITE_KINDS_SQL, (dataset,))]
        )
        for kind in of_dataset:
            rows = cursor.execute(sql, (dataset, kind, since, until)).fetchall()
            if not rows:
                continue
            ts, vs, gs, us, ps = zip(*rows)
            out[(dataset, kind)] = SLIColumns(list(ts), list(vs), list(gs), list(map(unit, us)), list(ps))
    return out


def latest_sli(
    store: StateStore, dataset: str, kind: str, *, until: datetime | None = None, with_value: bool = False
) -> tuple[float, float | None, bool | None, str, Mapping[str, Any] | None] | None:
    """The newest SLI row of ``dataset`` and ``kind`` observed at or before ``until``.

    :param with_value: skip rows whose ``value`` is NULL.
    :returns: ``(unix seconds, value, good, unit, details)`` or ``None`` when there is none.
    """
    c = t.sli_observations.c
    query = select(_epoch(store, c.observed_at), c.value, c.good, c.unit, c.details).where(
        c.dataset == dataset, c.kind == kind
    )
    if until is not None:
        query = query.where(c.observed_at <= until)
    if with_value:
        query = query.where(c.value.is_not(None))
    query = query.order_by(desc(c.observed_at), desc(c.id)).limit(1)
    with store.begin(write=False) as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    epoch, value, good, unit, details = row
    return float(epoch), value, None if good is None else bool(good), unit, details


def read_partition_states(
    store: StateStore, datasets: Collection[str]
) -> dict[str, list[tuple[str, str, datetime]]]:
    """The ledger's current ``(partition_key, state, updated_at)`` per dataset, in one query."""
    names = sorted(set(datasets))
    if not names:
        return {}
    c = t.partitions.c
    query = select(c.dataset, c.partition_key, c.state, c.updated_at).where(c.dataset.in_(names))
    out: dict[str, list[tuple[str, str, datetime]]] = {}
    with store.begin(write=False) as conn:
        for dataset, key, state, updated in conn.execute(query):
            out.setdefault(dataset, []).append((key, state, as_utc(updated)))  # type: ignore[arg-type]
    return out


def read_sli_columns_for(
    store: StateStore,
    *,
    datasets: Collection[str],
    since: datetime,
    until: datetime,
    kinds: Collection[str] | None = None,
) -> dict[tuple[str, str], SLIColumns]:
    """The SLI rows of a FEW datasets in ``(since, until]`` as columns, through the
    ``(dataset, kind, observed_at)`` index (``read_sli_columns`` reads every dataset's rows)."""
    names = sorted(set(datasets))
    if not names:
        return {}
    c = t.sli_observations.c
    query = select(
        c.dataset, c.kind, _epoch(store, c.observed_at), c.value, c.good, c.unit, c.partition_key
    ).where(c.dataset.in_(names), c.observed_at > since, c.observed_at <= until)
    if kinds is not None:
        query = query.where(c.kind.in_(sorted(set(kinds))))
    out: dict[tuple[str, str], SLIColumns] = {}
    with store.begin(write=False) as conn:
        for dataset, kind, epoch, value, good, unit, part in conn.execute(
            query.order_by(c.dataset, c.kind, c.observed_at, c.id)
        ):
            cols = out.get((dataset, kind))
            if cols is None:
                cols = out[(dataset, kind)] = SLIColumns()
            cols.times.append(float(epoch))
            cols.values.append(value)
            cols.goods.append(None if good is None else bool(good))
            cols.units.append(unit)
            cols.partitions.append(part)
    return out
