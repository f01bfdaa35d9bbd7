"""``@task.partitioned``: the TaskFlow form of :class:`DataFramePartitionOperator`.

Registered in ``get_provider_info()["task-decorators"]`` the way common-sql registers
``@task.sql``, so once airflow-dataops is installed a DAG writes::

    from airflow.sdk import task

    @task.partitioned(conn_id="warehouse", table="flights", partition_column="flight_date",
                      contract="contracts/flights.odcs.yaml", mode="quarantine")
    def load_flights(partition_key: str, region: str):
        return flights_for_day(partition_key, region)  # a pandas DataFrame

    load_flights(region="eu")  # an XComArg, as with any @task

The decorator's keyword arguments are the operator's; the call's keyword arguments (which
may be XComArgs or templates) reach the function with the partition key, and the task's
XCom is the write's summary (dataset, partition, state, rows, gate, SLIs), not the frame.
``@partitioned_task`` (:mod:`airflow_dataops.operators.partitioned`) is the same operator
as a plain factory, for DAGs that do not use TaskFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from airflow.sdk.bases.decorator import DecoratedOperator, TaskDecorator, task_decorator_factory

from airflow_dataops.operators.partitioned import DataFramePartitionOperator

__all__ = ["partitioned_task_decorator"]


class _PartitionedDecoratedOperator(DecoratedOperator, DataFramePartitionOperator):  # type: ignore[misc]  # op_kwargs: Mapping vs dict, one value at run time
    """``DataFramePartitionOperator`` whose callable and arguments come from a TaskFlow call."""

    template_fields: Sequence[str] = tuple(
        dict.fromkeys((*DecoratedOperator.template_fields, *DataFramePartitionOperator.template_fields))
    )
    custom_operator_name: str = "@task.partitioned"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        multiple_outputs: bool = False,
        **kwargs: Any,
    ) -> None:
        if op_args:
            raise TypeError(
                f"@task.partitioned {getattr(python_callable, '__name__', python_callable)!r}: got "
                f"{len(op_args)} positional argument(s); pass arguments by name, e.g. load(region='eu') "
                "(the partition key is passed as partition_key)"
            )
        op_kwargs = dict(op_kwargs or {})
        super().__init__(
            python_callable=python_callable,
            op_args=(),
            op_kwargs=op_kwargs,
            kwargs_to_upstream={"python_callable": python_callable, "op_kwargs": op_kwargs},
            **kwargs,
        )
        # The XCom is the write's summary dict; never unroll it into one XCom per key.
        self.multiple_outputs = False


def partitioned_task_decorator(
    python_callable: Callable[..., Any] | None = None, **kwargs: Any
) -> TaskDecorator:
    """``@task.partitioned(**operator_kwargs)``: write-audit-publish the DataFrame the function returns.

    :param python_callable: the function (when used without parentheses).
    :param kwargs: the parameters of :class:`DataFramePartitionOperator` (``conn_id``, ``table``,
        ``partition_column``, ``contract``, ``mode``, ...) and of ``BaseOperator``.
    """
    return task_decorator_factory(
        python_callable=python_callable,
        decorated_operator_class=_PartitionedDecoratedOperator,
        **kwargs,
    )
