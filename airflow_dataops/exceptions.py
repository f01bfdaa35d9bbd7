"""Exceptions raised by airflow-dataops.

The tree::

    DataOpsError                      anything this package raises on purpose
    ├── ConfigError                   a malformed ``[dataops]`` setting
    ├── StoreError                    the state store cannot be reached or migrated
    ├── WarehouseError                a warehouse connection is unknown, not SQL or unreachable,
    │                                 or a schema or table named on the command line does not exist
    ├── ContractError                 a contract that cannot be read or evaluated
    │   └── ContractViolation         data that breaks its contract (gate in ``fail`` mode)
    └── LedgerError                   the partition ledger refuses or cannot record
        └── PartitionAlreadyApplied   an apply that would double-apply a partition

Every message says what was received, where, and what to do about it.  All of
the errors a retry cannot help (config, contract, violation, double apply) are
``AirflowFailException`` so an Airflow task fails at once instead of burning its
retries; ``StoreError`` stays retryable (a store that is down may come back).
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class DataOpsError(AirflowException):
    """Base class of every error airflow-dataops raises on purpose."""


class ConfigError(DataOpsError, AirflowFailException):
    """A ``[dataops]`` setting (or its environment variable) is malformed."""


class StoreError(DataOpsError):
    """The state store (ledger, SLI history, contract results) cannot be used."""


class WarehouseError(DataOpsError):
    """The warehouse a command or task names cannot be used: unknown or non-SQL connection,
    unreachable server, or a schema or table that does not exist (``airflow dataops`` exit 3)."""


class ContractError(DataOpsError, AirflowFailException):
    """A data contract cannot be loaded or evaluated.

    :param message: what is wrong and how to fix it.
    :param file: the contract file, when known.
    :param path: the YAML path inside the file (``schema[0].properties[2].logicalType``).
    :param line: the 1-based line in the file, when known.
    """

    def __init__(
        self, message: str, *, file: str | None = None, path: str | None = None, line: int | None = None
    ):
        self.message = message
        self.file = file
        self.path = path
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.file or "<contract>"
        if self.line is not None:
            where += f":{self.line}"
        if self.path:
            where += f" at {self.path}"
        return f"{where}: {self.message}"


class ContractViolation(DataOpsError, AirflowFailException):
    """Data failed its contract and the gate is in ``fail`` mode."""


class LedgerError(DataOpsError):
    """The partition ledger refused an operation or could not record it."""


class PartitionAlreadyApplied(LedgerError, AirflowFailException):
    """Applying this partition again would double-apply data."""
