"""The ``[dataops]`` settings, read once and validated with messages that say what to fix.

Every option can be set in ``airflow.cfg`` or as ``AIRFLOW__DATAOPS__<OPTION>``::

    [dataops]
    store_url = postgresql+psycopg2://dataops:secret@db:5432/dataops
    default_gate_mode = quarantine
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

from airflow_dataops.exceptions import ConfigError


class GateMode(str, enum.Enum):
    """What a gate does when an error-severity rule fails (the decision is ``contracts.gate.decide``).

    str-valued: operators, settings and the store keep taking and storing the plain strings.
    """

    FAIL = "fail"  # block: nothing is published
    QUARANTINE = "quarantine"  # move failing rows of row-level rules aside, publish the rest
    WARN = "warn"  # record, publish everything

    def __str__(self) -> str:
        return self.value


#: The gate modes' values, in messages and validators.
GATE_MODES: tuple[str, ...] = tuple(m.value for m in GateMode)
ON_ALREADY_APPLIED = ("skip", "fail")
_SECTION = "dataops"


@dataclass(frozen=True, kw_only=True)
class DataOpsSettings:
    """Validated ``[dataops]`` settings.

    :param store_url: SQLAlchemy URL of the state store; empty means the embedded SQLite default.
    :param store_conn_id: Airflow connection holding the store URL, used when ``store_url`` is empty.
    :param store_connect_timeout: seconds to wait for the store before failing.
    :param default_gate_mode: gate mode for operators that set none.
    :param on_already_applied: ``skip`` or ``fail`` when an applied partition is applied again.
    :param partition_versions_keep: superseded versions of each partition that ``partitions prune``
        keeps for ``partitions rollback`` (newest first); ``0`` keeps no versions at all.
    :param partition_versions_keep_days: versions kept at least this many days, however many there are.
    """

    store_url: str = ""
    store_conn_id: str = ""
    store_connect_timeout: int = 10
    default_gate_mode: str = GateMode.FAIL.value
    on_already_applied: str = "skip"
    partition_versions_keep: int = 3
    partition_versions_keep_days: int = 7

    def __post_init__(self) -> None:
        if self.default_gate_mode not in GATE_MODES:
            raise ConfigError(
                f"[dataops] default_gate_mode: {self.default_gate_mode!r} is not a gate mode; "
                f"use one of {', '.join(GATE_MODES)} (AIRFLOW__DATAOPS__DEFAULT_GATE_MODE)."
            )
        if self.on_already_applied not in ON_ALREADY_APPLIED:
            raise ConfigError(
                f"[dataops] on_already_applied: {self.on_already_applied!r} is not allowed; "
                f"use one of {', '.join(ON_ALREADY_APPLIED)} (AIRFLOW__DATAOPS__ON_ALREADY_APPLIED)."
            )
        for option, value in (
            ("partition_versions_keep", self.partition_versions_keep),
            ("partition_versions_keep_days", self.partition_versions_keep_days),
        ):
            if value < 0:
                raise ConfigError(
                    f"[dataops] {option}: must be 0 or more, got {value} (AIRFLOW__DATAOPS__{option.upper()})."
                )
        if self.store_connect_timeout <= 0:
            raise ConfigError(
                f"[dataops] store_connect_timeout: must be a positive number of seconds, "
                f"got {self.store_connect_timeout} (AIRFLOW__DATAOPS__STORE_CONNECT_TIMEOUT)."
            )

    @classmethod
    def from_airflow(cls) -> DataOpsSettings:
        """Read the ``[dataops]`` section of Airflow's configuration (file and environment)."""
        from airflow.configuration import conf

        def get(key: str, default: str) -> str:
            value = conf.get(_SECTION, key, fallback=default)
            return default if value is None else str(value).strip()

        raw_timeout = get("store_connect_timeout", "10")
        try:
            timeout = int(raw_timeout)
        except ValueError:
            raise ConfigError(
                f"[dataops] store_connect_timeout: {raw_timeout!r} is not a whole number of seconds "
                "(AIRFLOW__DATAOPS__STORE_CONNECT_TIMEOUT)."
            ) from None
        keep = {
            option: _whole_number(option, get(option, default))
            for option, default in (("partition_versions_keep", "3"), ("partition_versions_keep_days", "7"))
        }
        return cls(
            **keep,
            store_url=get("store_url", ""),
            store_conn_id=get("store_conn_id", ""),
            store_connect_timeout=timeout,
            default_gate_mode=get("default_gate_mode", "fail").lower(),
            on_already_applied=get("on_already_applied", "skip").lower(),
        )

    def resolve_store_url(self) -> str:
        """The store URL: ``store_url``, else the ``store_conn_id`` connection, else SQLite in AIRFLOW_HOME."""
        if self.store_url:
            return self.store_url
        if self.store_conn_id:
            return _url_from_connection(self.store_conn_id)
        return default_sqlite_url()


def _whole_number(option: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(
            f"[dataops] {option}: {raw!r} is not a whole number (AIRFLOW__DATAOPS__{option.upper()}); "
            "use e.g. 3, or 0 to keep none."
        ) from None


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow").expanduser()


def default_sqlite_url() -> str:
    return f"sqlite:///{airflow_home() / 'dataops.db'}"


def _url_from_connection(conn_id: str) -> str:
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as e:
        raise ConfigError(
            f"[dataops] store_conn_id: connection {conn_id!r} cannot be read ({type(e).__name__}: {e}); "
            "create it (airflow connections add) or set [dataops] store_url instead."
        ) from e
    if conn.conn_type == "sqlite":
        return f"sqlite:///{conn.host}"
    if conn.conn_type in ("postgres", "postgresql"):
        from sqlalchemy.engine import URL

        return URL.create(
            "postgresql+psycopg2",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
        ).render_as_string(hide_password=False)
    raise ConfigError(
        f"[dataops] store_conn_id: connection {conn_id!r} has type {conn.conn_type!r}; "
        "the state store supports sqlite and postgres connections."
    )
