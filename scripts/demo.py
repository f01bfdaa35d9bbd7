"""`make demo`: run the nycflights DAG for three daily partitions on the embedded default, then summarise.

The partitions are the two days before today (UTC) and, last, a late backfill of the day a week
ago (see :func:`partitions` for why these three).  Everything lives under ``.demo/`` in the
repository: Airflow's home (metadata DB), the warehouse (SQLite), the dataops store (SQLite) and
the OpenLineage file.  Running it again re-runs the same three partitions: the ledger refuses to
apply them twice, and the warehouse keeps the same row counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOME = Path(os.environ.get("DATAOPS_DEMO_HOME") or ROOT / ".demo").resolve()  # tests point it elsewhere
WAREHOUSE = HOME / "warehouse.db"
LINEAGE = HOME / "lineage.jsonl"
DAG_ID = "nycflights_daily"


def environment() -> dict[str, str]:
    env = {
        "AIRFLOW_HOME": str(HOME / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("DEMO_LOG_LEVEL", "WARNING"),
        "AIRFLOW__DATAOPS__STORE_URL": f"sqlite:///{HOME / 'dataops.db'}",
        "AIRFLOW_CONN_DATAOPS_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(WAREHOUSE)}),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(LINEAGE), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "dataops-demo",
    }
    return env


#: Days before today of the partitions the demo runs, in run order: the day before yesterday, yesterday,
#: then a late backfill of the day a week ago.
DAYS_BACK = (2, 1, 7)


def partitions(today: datetime | None = None) -> list[str]:
    """The demo's partitions (``DAYS_BACK`` before today, UTC), in run order.

    Chosen so that every verdict is the same whatever the hour: the contract's 2-day ``latency``
    SLA and the 48 h freshness threshold compare *now* with the newest ``time_hour`` of the data,
    and a day's newest ``time_hour`` is its last departures, about 04:00 UTC the next day.  A day
    1 or 2 days back is therefore always within 2 days (a lag of at most 45 h), a day a week back never is
    (the gate warns: the late backfill), while a day 3 days back crosses 2 days at about 04:00 UTC
    (the old demo ran days 3, 2, 1 back, so its oldest partition warned or passed by the hour).
    The backfill leaves the dataset's freshness good: it is the lag of its newest data (yesterday).
    """
    today = today or datetime.now(timezone.utc)
    return [(today - timedelta(days=n)).strftime("%Y-%m-%d") for n in DAYS_BACK]


def here(text: object) -> str:
    """``text`` with the checkout's absolute path left out: paths relative to the repository root."""
    return str(text).replace(f"{ROOT}/", "")


def write_env_file(env: dict[str, str]) -> Path:
    """``.demo/env.sh``: source it to point ``airflow`` (and ``airflow dataops``) at the demo."""
    import shlex

    path = HOME / "env.sh"
    lines = [
        f"export {k}={shlex.quote(v)}"
        for k, v in sorted(env.items())
        if k != "AIRFLOW__LOGGING__LOGGING_LEVEL"
    ]
    lines.append(f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH")
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    (HOME / "airflow").mkdir(parents=True, exist_ok=True)
    os.environ.update(environment())
    write_env_file(environment())
    started_at = datetime.now(timezone.utc)
    started = time.monotonic()
    print(f"dataops demo: AIRFLOW_HOME={here(os.environ['AIRFLOW_HOME'])}", flush=True)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
    migrated = subprocess.run(
        [sys.executable, "-m", "airflow", "dataops", "db", "migrate"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    print(here(migrated.stdout), end="", flush=True)

    from airflow.dag_processing.dagbag import DagBag  # after the environment is set

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    if bag.import_errors:
        for path, err in bag.import_errors.items():
            print(f"DAG import error in {path}:\n{err}", file=sys.stderr)
        return 1
    dag = bag.get_dag(DAG_ID)
    keys = partitions()
    for key in keys:
        print(f"running {DAG_ID} for partition {key} ...", flush=True)
        run = dag.test(logical_date=datetime.strptime(key, "%Y-%m-%d").replace(tzinfo=timezone.utc))
        print(f"  run {run.run_id}: {run.state}", flush=True)
    summary(keys, started_at)
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s")
    return 0


def summary(keys: list[str], started_at: datetime) -> None:
    import sqlite3

    from airflow_dataops.store import StateStore
    from airflow_dataops.store.ledger import history, list_partitions
    from airflow_dataops.store.records import latest_contract_results, sli_history

    store = StateStore.from_settings()
    dataset = "flights"
    states = {p.partition_key: p for p in list_partitions(store, dataset)}
    results = {r["partition_key"]: r for r in reversed(latest_contract_results(store, dataset, limit=100))}
    slis = {}
    for s in sli_history(store, dataset, kind="freshness"):
        slis[s.partition_key] = s
    with sqlite3.connect(WAREHOUSE) as conn:
        counts = dict(
            conn.execute("SELECT flight_date, COUNT(*) FROM flights GROUP BY flight_date").fetchall()
        )
    print(
        f"\n{'partition':12} {'this run':25} {'state':11}  {'rows in warehouse':>17}  {'quarantined':>11}  "
        f"{'gate':12}  freshness lag"
    )
    for key in keys:
        p = states.get(key)
        now_entries = [e for e in history(store, dataset, key) if e.started_at >= started_at]
        did = now_entries[-1].action if now_entries else "-"
        did = {"refused": "skipped: already applied", "apply": "applied", "rerun": "rerun (replaced)"}.get(
            did, did
        )
        r = results.get(key)
        s = slis.get(key)
        lag = f"{s.value / 3600:6.1f} h ({'good' if s.good else 'BAD'})" if s and s.value is not None else "-"
        gate = f"{r['verdict']} {r['rules_total'] - r['rules_failed']}/{r['rules_total']}" if r else "-"
        print(
            f"{key:12} {did:25} {p.state if p else 'missing':11}  {counts.get(key, 0):>17}  "
            f"{(p.rows_quarantined or 0) if p else 0:>11}  {gate:12}  {lag}"
        )
    n = sum(1 for _ in LINEAGE.open()) if LINEAGE.exists() else 0
    print(f"\nledger and SLIs: {here(store.url)}")
    print(f"warehouse:       {here(WAREHOUSE)}")
    print(f"lineage:         {here(LINEAGE)} ({n} OpenLineage events)")
    env_file = HOME / "env.sh"
    print(
        f"try:             source {env_file.relative_to(ROOT)} && airflow dataops partitions status {DAG_ID}"
    )
    print(
        f"                 source {env_file.relative_to(ROOT)} && airflow dataops partitions verify {DAG_ID}"
    )


if __name__ == "__main__":
    sys.exit(main())
