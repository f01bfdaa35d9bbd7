"""airflow-dataops: contract gates, idempotent partition writes, dataset SLOs and lineage for Airflow 3.

The public names are imported lazily: Airflow imports provider packages in every
task process and CLI call, and most of them need none of this.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "StateStore": "airflow_dataops.store",
    "DataOpsSettings": "airflow_dataops.config",
    "load_contract": "airflow_dataops.contracts.loader",
    "PartitionLedger": "airflow_dataops.partitions.ledger",
    "DataOpsError": "airflow_dataops.exceptions",
    "ConfigError": "airflow_dataops.exceptions",
    "StoreError": "airflow_dataops.exceptions",
    "ContractError": "airflow_dataops.exceptions",
    "ContractViolation": "airflow_dataops.exceptions",
    "LedgerError": "airflow_dataops.exceptions",
    "PartitionAlreadyApplied": "airflow_dataops.exceptions",
}

__all__ = ["__version__", *sorted(_LAZY)]

if TYPE_CHECKING:
    from airflow_dataops.config import DataOpsSettings
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
    from airflow_dataops.partitions.ledger import PartitionLedger
    from airflow_dataops.store import StateStore


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'airflow_dataops' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
