"""What every ``airflow dataops …`` command shares: exit codes, the one-line error, the store, tables.

Every error is one line on stderr (``error: …``) and every exit code means one thing in every
command (``docs/cli.md`` "Exit codes"):

0  success: nothing to report (contract valid, no blocking rule failed, ledger and target agree)
1  a finding: a blocking rule failed, a partition differs from the ledger, a breaking contract
   change, an SLO breached or an alert firing, a rerun the ledger refuses
2  invalid input: a contract or SLO definition that cannot be loaded, arguments that do not fit
   together, a malformed ``[dataops]`` setting
3  the environment: the state store or a warehouse connection is unknown or unreachable, a named
   dataset, schema or table does not exist
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import IntEnum
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from airflow_dataops.store import StateStore


class ExitCode(IntEnum):
    """The exit codes of every ``airflow dataops`` command."""

    OK = 0
    FINDING = 1
    INVALID = 2
    ENVIRONMENT = 3


EXIT_OK, EXIT_FINDING, EXIT_INVALID, EXIT_ENVIRONMENT = (
    ExitCode.OK,
    ExitCode.FINDING,
    ExitCode.INVALID,
    ExitCode.ENVIRONMENT,
)


def exit_code_of(error: BaseException | None, *, otherwise: int = EXIT_ENVIRONMENT) -> int:
    """The exit code an error ends a command with.

    A malformed ``[dataops]`` setting (``ConfigError``) is invalid input (2); the store or a
    warehouse (``StoreError``, ``WarehouseError``) the environment (3); anything else
    ``otherwise`` (the environment unless the command says, e.g. a refused rerun is a finding).
    """
    from airflow_dataops.exceptions import ConfigError, StoreError, WarehouseError

    if isinstance(error, ConfigError):
        return EXIT_INVALID
    if isinstance(error, (StoreError, WarehouseError)):
        return EXIT_ENVIRONMENT
    return otherwise


def requested_by() -> str:
    """Who runs this command, for the ledger's ``requested_by`` (reruns, rollbacks, re-checks)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in a container: still record something
        return "unknown"


def one_line(error: BaseException | str, limit: int = 400) -> str:
    """An error's text on one line, at most ``limit`` characters."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fail(message: str, code: int | None = None) -> NoReturn:
    """Print ``error: <message>`` (one line) on stderr and exit with ``code``.

    Without ``code``, the exception being handled decides (:func:`exit_code_of`).
    """
    if code is None:
        code = exit_code_of(sys.exc_info()[1])
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    raise SystemExit(int(code))


@contextmanager
def store_faults() -> Iterator[None]:
    """Turn a store or configuration fault into a one-line error and its exit code.

    A driver's or the OS's text (which can quote a whole statement) is cut to 400 characters.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from airflow_dataops.exceptions import ConfigError, StoreError

    try:
        yield
    except ConfigError as e:  # our own messages end with the fix: shown whole
        fail(str(e), EXIT_INVALID)
    except StoreError as e:
        fail(str(e), EXIT_ENVIRONMENT)
    except SQLAlchemyError as e:
        orig = getattr(e, "orig", None) or e
        fail(
            f"the dataops store cannot be read ({type(orig).__name__}: {one_line(orig)}); "
            "check [dataops] store_url and run `airflow dataops db migrate`",
            EXIT_ENVIRONMENT,
        )
    except OSError as e:
        fail(f"the dataops store cannot be reached: {type(e).__name__}: {one_line(e)}", EXIT_ENVIRONMENT)


def read_store() -> StateStore:
    """The store, for a read-only command: never created, migrated or write-locked here.

    A store that is missing, unreachable or at another schema version ends the command with
    one line (exit 3; a malformed setting exit 2).
    """
    from airflow_dataops.store import StateStore

    with store_faults():
        store = StateStore.from_settings()
        store.ensure_readable()
    return store


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table: a header, a rule, one line a row (``None`` shown empty), no trailing blanks."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in out)


__all__ = [
    "EXIT_ENVIRONMENT",
    "EXIT_FINDING",
    "EXIT_INVALID",
    "EXIT_OK",
    "ExitCode",
    "exit_code_of",
    "fail",
    "one_line",
    "read_store",
    "store_faults",
    "table",
]
