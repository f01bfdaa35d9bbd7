"""The Airflow plugin of airflow-dataops (entry point ``airflow.plugins`` and the provider's ``plugins``).

Kept import-light: Airflow loads plugins in every process.  The UI (a FastAPI app and
external views) hangs off this class; see ``airflow_dataops.plugins.app``.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


class DataOpsPlugin(AirflowPlugin):
    name = "dataops"
