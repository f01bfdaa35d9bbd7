"""Evaluate every dataset's SLOs every 10 minutes, whether or not any pipeline runs, and at once
when a rerun applies or ``airflow dataops partitions verify`` finds a dataset right (the
``dataops_slo_recheck`` asset's watcher fires; the triggerer must run).

A dataset whose last publish is older than its freshness threshold breaches on time (the
evaluator synthesises the current lag); each breach episode is announced once when it opens
and once when it resolves.  Swap or add notifiers (Slack, SMTP, ...) in ``notifiers=``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_dataops.notifications.slo import SLOBreachNotifier
from airflow_dataops.operators.slo import SLOEvaluationOperator
from airflow_dataops.triggers.recheck import evaluator_schedule

with DAG(
    dag_id="dataops_slo_evaluator",
    description="Evaluate dataset SLOs, open/resolve breach episodes, notify once each way",
    schedule=evaluator_schedule(timedelta(minutes=10)),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["dataops", "slo"],
    default_args={"retries": 1, "retry_delay": timedelta(minutes=1)},
) as dag:
    SLOEvaluationOperator(
        task_id="evaluate_slos",
        notifiers=[SLOBreachNotifier(target="log")],
        execution_timeout=timedelta(minutes=9),
    )
