"""What a write-audit-publish writes and who writes it: :class:`PartitionTarget` (the table, its
partition column, the contract, the dataset's registry entry) and :class:`Attempt` (the run and
attempt the ledger's claim names).  Plain values: ``wap.protocol.PartitionWrite`` takes them, the
operators build them from their arguments and the task instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_dataops.contracts.model import Contract

__all__ = ["Attempt", "PartitionTarget", "run_names"]


@dataclass(frozen=True, kw_only=True)
class PartitionTarget:
    """Where one partitioned dataset is written, under which contract, and who publishes it.

    :param dataset: the name in the ledger and SLOs; default the contract's schema object, else the table.
    :param contract_path: where ``contract`` was read from, recorded with the dataset.
    :param inputs: declared upstream datasets (``partitions.inputs.normalize_declared``).
    :param owner: the dataset's owner, and ``dag_id`` / ``task_id`` the DAG and task recorded as
        publishing it (the registry ``partitions rerun`` and the UI read).
    """

    table: str
    partition_column: str
    contract: Contract | None = None
    contract_path: str | None = None
    schema_object: str | None = None
    dataset: str | None = None
    db_schema: str | None = None
    conn_id: str | None = None
    inputs: tuple[tuple[str, str | None], ...] = ()
    owner: str | None = None
    dag_id: str | None = None
    task_id: str | None = None

    def __post_init__(self) -> None:
        if not self.dataset:
            name = self.contract.schema_object(self.schema_object).name if self.contract else self.table
            object.__setattr__(self, "dataset", name)

    @property
    def name(self) -> str:
        """The dataset's name (resolved at construction)."""
        return self.dataset or self.table


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """Which run and attempt writes: what the ledger's claim and the recorded results name."""

    dag_id: str | None
    task_id: str | None
    run_id: str
    attempt: int = 1
    dag_version: str | None = None


def run_names(ti: Any) -> dict[str, Any]:
    """``dag_id``, ``task_id`` and ``run_id`` of an :class:`Attempt` or an Airflow task instance: how a
    recorded gate result or SLI names the run that produced it."""
    return {"dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id}
