"""airflow-dataops: contract gates, idempotent partition writes, dataset SLOs and lineage for Airflow 3.

Everything a DAG uses is importable from here::

    from airflow_dataops import ContractGateOperator, SLOHealthySensor, partitioned_task

The public names are imported lazily (module ``__getattr__``): Airflow imports provider packages
in every task process and CLI call, and most of them need none of this.  ``docs/reference.md``
is generated from this surface (``scripts/gen_reference_docs.py``) and a test pins it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: What a DAG file uses: operators, the decorator, sensors, trigger, notifier, callbacks.
DAG_FACING: dict[str, str] = {
    "partitioned_task": "airflow_dataops.operators.partitioned",
    "PartitionWriteOperator": "airflow_dataops.operators.partitioned",
    "PartitionedSQLOperator": "airflow_dataops.operators.partitioned",
    "DataFramePartitionOperator": "airflow_dataops.operators.partitioned",
    "ContractGateOperator": "airflow_dataops.operators.gate",
    "GateMode": "airflow_dataops.config",
    "SLOEvaluationOperator": "airflow_dataops.operators.slo",
    "SLOBreachNotifier": "airflow_dataops.notifications.slo",
    "DatasetFreshnessSensor": "airflow_dataops.sensors.dataset",
    "SLOHealthySensor": "airflow_dataops.sensors.dataset",
    "DatasetHealthTrigger": "airflow_dataops.triggers.dataset",
    "SLORecheckTrigger": "airflow_dataops.triggers.recheck",
    "evaluator_schedule": "airflow_dataops.triggers.recheck",
    "SLICallback": "airflow_dataops.callbacks",
    "sli_callbacks": "airflow_dataops.callbacks",
}

#: The library under them: settings, the store, the ledger, contracts, the exception tree.
LIBRARY: dict[str, str] = {
    "DataOpsSettings": "airflow_dataops.config",
    "StateStore": "airflow_dataops.store",
    "PartitionLedger": "airflow_dataops.partitions.ledger",
    "load_contract": "airflow_dataops.contracts.loader",
    "DataOpsError": "airflow_dataops.exceptions",
    "ConfigError": "airflow_dataops.exceptions",
    "StoreError": "airflow_dataops.exceptions",
    "ContractError": "airflow_dataops.exceptions",
    "ContractViolation": "airflow_dataops.exceptions",
    "LedgerError": "airflow_dataops.exceptions",
    "PartitionAlreadyApplied": "airflow_dataops.exceptions",
}

_LAZY: dict[str, str] = {**DAG_FACING, **LIBRARY}

__all__ = ["__version__", *sorted(_LAZY)]

if TYPE_CHECKING:
    from airflow_dataops.callbacks import SLICallback, sli_callbacks
    from airflow_dataops.config import DataOpsSettings, GateMode
    from airflow_dataops.contracts.loader import load_contract
    from airflow_dataops.exceptions import (
        ConfigError,
        ContractError,
        ContractViolation,
        DataOpsError,
        LedgerError,
        PartitionAlreadyApplied,
        StoreError,
    )
    from airflow_dataops.notifications.slo import SLOBreachNotifier
    from airflow_dataops.operators.gate import ContractGateOperator
    from airflow_dataops.operators.partitioned import (
        DataFramePartitionOperator,
        PartitionedSQLOperator,
        PartitionWriteOperator,
        partitioned_task,
    )
    from airflow_dataops.operators.slo import SLOEvaluationOperator
    from airflow_dataops.partitions.ledger import PartitionLedger
    from airflow_dataops.sensors.dataset import DatasetFreshnessSensor, SLOHealthySensor
    from airflow_dataops.store import StateStore
    from airflow_dataops.triggers.dataset import DatasetHealthTrigger
    from airflow_dataops.triggers.recheck import SLORecheckTrigger, evaluator_schedule


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'airflow_dataops' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
