"""Our own OpenLineage run facets: SLO evaluations, partition-ledger decisions and gate verdicts.

Modelled on ``openlineage/client/generated/test_run.py``: attrs classes deriving from the
client's ``RunFacet``, camelCase fields that serialise as they are named, and a
``_get_schema()`` pointing at the JSON Schema we ship in ``airflow_dataops/lineage/schemas/``
and publish in ``docs/lineage-facets/``.  ``_producer`` defaults to the OpenLineage client's.

This module imports the OpenLineage client at module level: import it only from inside
lineage code paths (``get_openlineage_facets_on_*``, ``emit.py``), never at provider import.

Attach a facet under its ``FACET_KEY``::

    run_facets = {DataOpsGateRunFacet.FACET_KEY: DataOpsGateRunFacet(
        contractId="flights", contractVersion="1.2.0", mode="fail",
        verdict="passed", rulesTotal=12, rulesFailed=0)}
"""

from __future__ import annotations

import math
from importlib import resources
from typing import Any, ClassVar

import attr
from openlineage.client.generated.base import RunFacet

from airflow_dataops.config import GATE_MODES

__all__ = [
    "FACET_CLASSES",
    "SCHEMA_BASE_URL",
    "DataOpsGateRunFacet",
    "DataOpsPartitionLedgerRunFacet",
    "DataOpsSLOEvaluationRunFacet",
    "schema_path",
]

#: Where our facet schemas are published; a schema's ``$id`` is this plus its file name.
SCHEMA_BASE_URL = "https://github.com/airflow-dataops/airflow-dataops/blob/main/docs/lineage-facets/"

SLI_KINDS = ("freshness", "completeness", "correctness", "consistency", "cost")
BREACH_STATES = ("none", "open", "resolved")
ALERT_SEVERITIES = ("none", "ticket", "page")
LEDGER_DECISIONS = ("applied", "rerun", "refused", "failed", "stale", "rolled_back", "skipped")
VERSION_STATES = ("superseded", "rolled_back")
GATE_VERDICTS = ("passed", "warned", "quarantined", "failed")


def _schema_url(class_name: str, version: str | None = None) -> str:
    """``<base>[<version>/]<Class>.json#/$defs/<Class>``: a versioned facet names its version in the
    path, as OpenLineage's own facets do (``…/spec/facets/1-0-1/…``)."""
    return f"{SCHEMA_BASE_URL}{version + '/' if version else ''}{class_name}.json#/$defs/{class_name}"


def schema_path(class_name: str) -> Any:
    """The packaged JSON Schema of one of our facets (a ``Traversable``; ``.read_text()`` it)."""
    return resources.files("airflow_dataops.lineage").joinpath("schemas", f"{class_name}.json")


# ---- validators: messages name the class, the field, the value and what is allowed ----------


def _one_of(choices: tuple[str, ...]):
    def check(inst: Any, attribute: attr.Attribute, value: Any) -> None:
        if value not in choices:
            msg = f"{type(inst).__name__}.{attribute.name} must be one of {', '.join(choices)}; got {value!r}"
            raise ValueError(msg)

    return check


def _non_empty_str(inst: Any, attribute: attr.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not value:
        msg = f"{type(inst).__name__}.{attribute.name} must be a non-empty string; got {value!r}"
        raise ValueError(msg)


def _optional_str(inst: Any, attribute: attr.Attribute, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        msg = f"{type(inst).__name__}.{attribute.name} must be a string or None; got {value!r}"
        raise ValueError(msg)


def _number(
    *, minimum: float | None = None, maximum: float | None = None, exclusive_min: bool = False, optional=False
):
    def check(inst: Any, attribute: attr.Attribute, value: Any) -> None:
        where = f"{type(inst).__name__}.{attribute.name}"
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            msg = f"{where} must be a finite number; got {value!r}"
            raise ValueError(msg)
        if minimum is not None and (value <= minimum if exclusive_min else value < minimum):
            msg = f"{where} must be {'>' if exclusive_min else '>='} {minimum}; got {value!r}"
            raise ValueError(msg)
        if maximum is not None and value > maximum:
            msg = f"{where} must be <= {maximum}; got {value!r}"
            raise ValueError(msg)

    return check


def _count(*, minimum: int = 0, optional: bool = True):
    def check(inst: Any, attribute: attr.Attribute, value: Any) -> None:
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            msg = f"{type(inst).__name__}.{attribute.name} must be an integer >= {minimum}; got {value!r}"
            raise ValueError(msg)

    return check


def _burn_rates(inst: Any, attribute: attr.Attribute, value: Any) -> None:
    where = f"{type(inst).__name__}.{attribute.name}"
    if not isinstance(value, dict):
        msg = f"{where} must be a dict of window -> rate; got {value!r}"
        raise ValueError(msg)
    for window, rate in value.items():
        if not isinstance(window, str) or not window:
            msg = f"{where} keys must be non-empty window names such as '1h'; got {window!r}"
            raise ValueError(msg)
        if (
            isinstance(rate, bool)
            or not isinstance(rate, (int, float))
            or not math.isfinite(rate)
            or rate < 0
        ):
            msg = f"{where}[{window!r}] must be a finite number >= 0; got {rate!r}"
            raise ValueError(msg)


def _version_ref(inst: Any, attribute: attr.Attribute, value: Any) -> None:
    """A partition version: ``{"applyId": int >= 1, "rowsPublished": int >= 0 | None, "checksum": str | None,
    "state": superseded | rolled_back (optional), "kept": bool (optional)}``."""
    if value is None:
        return
    where = f"{type(inst).__name__}.{attribute.name}"
    allowed = {"applyId", "rowsPublished", "checksum", "state", "kept"}
    if not isinstance(value, dict) or not set(value) <= allowed:
        msg = f"{where} must be a dict with keys among {', '.join(sorted(allowed))}; got {value!r}"
        raise ValueError(msg)
    apply_id = value.get("applyId")
    if isinstance(apply_id, bool) or not isinstance(apply_id, int) or apply_id < 1:
        msg = f"{where}['applyId'] must be an integer >= 1; got {apply_id!r}"
        raise ValueError(msg)
    rows = value.get("rowsPublished")
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 0):
        msg = f"{where}['rowsPublished'] must be an integer >= 0 or None; got {rows!r}"
        raise ValueError(msg)
    if value.get("state") is not None and value["state"] not in VERSION_STATES:
        msg = f"{where}['state'] must be one of {', '.join(VERSION_STATES)}; got {value['state']!r}"
        raise ValueError(msg)
    if "kept" in value and not isinstance(value["kept"], bool):
        msg = f"{where}['kept'] must be true or false; got {value['kept']!r}"
        raise ValueError(msg)


def _enum_value(value: Any) -> Any:
    """Accept our str Enums (``Verdict.PASSED``) as well as their values."""
    return getattr(value, "value", value)


# ---- facets ---------------------------------------------------------------------------------


@attr.define
class DataOpsSLOEvaluationRunFacet(RunFacet):
    """One evaluation of a dataset's SLO: indicator, budget left, burn rates, breach state.

    :param dataset: the dataset the objective belongs to.
    :param objective: target fraction of good events, in (0, 1], e.g. ``0.99``.
    :param windowDays: the SLO window in days, e.g. ``30``.
    :param sliKind: ``freshness``, ``completeness``, ``correctness``, ``consistency`` or ``cost``.
    :param breachState: ``none``, ``open`` or ``resolved``.
    :param sliValue: the indicator over the window (fraction of good events).
    :param budgetRemaining: fraction of the error budget left (negative once overspent).
    :param burnRates: burn rate per alerting window, e.g. ``{"1h": 14.9, "5m": 15.2}``.
    :param alertSeverity: ``none``, ``ticket`` or ``page``.
    """

    FACET_KEY: ClassVar[str] = "dataops_sloEvaluation"

    dataset: str = attr.field(validator=_non_empty_str)
    objective: float = attr.field(validator=_number(minimum=0, maximum=1, exclusive_min=True))
    windowDays: float = attr.field(validator=_number(minimum=0, exclusive_min=True))
    sliKind: str = attr.field(converter=_enum_value, validator=_one_of(SLI_KINDS))
    breachState: str = attr.field(default="none", converter=_enum_value, validator=_one_of(BREACH_STATES))
    sliValue: float | None = attr.field(default=None, validator=_number(optional=True))
    budgetRemaining: float | None = attr.field(default=None, validator=_number(maximum=1, optional=True))
    burnRates: dict[str, float] = attr.field(factory=dict, validator=_burn_rates)
    alertSeverity: str | None = attr.field(
        default=None,
        converter=_enum_value,
        validator=attr.validators.optional(_one_of(ALERT_SEVERITIES)),
    )

    @staticmethod
    def _get_schema() -> str:
        return _schema_url("DataOpsSLOEvaluationRunFacet")


@attr.define
class DataOpsPartitionLedgerRunFacet(RunFacet):
    """What the partition ledger decided for one partition in this run.

    :param dataset: the dataset the partition belongs to.
    :param partitionKey: the Airflow partition key.
    :param decision: as it happened: ``applied``, ``rerun``, ``refused`` (a double apply), ``failed``
        (the gate or the publish failed; nothing was published), ``stale`` (an applied partition
        replaced because an input it was built from changed), ``rolled_back`` (a kept version
        restored by ``partitions rollback``) or ``skipped``.
    :param runId: the Airflow DAG run id.
    :param attempt: the task try number (>= 1).
    :param reason: why (rerun reason, refusal reason).
    :param rowsIn: rows read into the stage.
    :param rowsPublished: rows published into the target partition.
    :param rowsQuarantined: rows moved to the quarantine table.
    :param checksum: checksum of the published partition.
    :param contractVersion: the contract version the partition was checked against.
    :param applyId: the ledger's apply id of this version (the partition's fencing token).
    :param requestedBy: who asked for a rerun or rollback.
    :param supersedes: the version this one replaced, e.g.
        ``{"applyId": 41, "rowsPublished": 230, "checksum": "230:…", "state": "superseded", "kept": True}``
        (``state`` ``rolled_back`` when a rollback replaced it; ``kept``: its rows can be restored).
    :param restored: for ``rolled_back``, the kept version restored, e.g. ``{"applyId": 37, …}``.
    """

    FACET_KEY: ClassVar[str] = "dataops_partitionLedger"
    SCHEMA_VERSION: ClassVar[str] = "1-1-0"  # 1-1-0: stale, rolled_back, applyId, supersedes, restored

    dataset: str = attr.field(validator=_non_empty_str)
    partitionKey: str = attr.field(validator=_non_empty_str)
    decision: str = attr.field(converter=_enum_value, validator=_one_of(LEDGER_DECISIONS))
    runId: str = attr.field(validator=_non_empty_str)
    attempt: int = attr.field(validator=_count(minimum=1, optional=False))
    reason: str | None = attr.field(default=None, validator=_optional_str)
    rowsIn: int | None = attr.field(default=None, validator=_count())
    rowsPublished: int | None = attr.field(default=None, validator=_count())
    rowsQuarantined: int | None = attr.field(default=None, validator=_count())
    checksum: str | None = attr.field(default=None, validator=_optional_str)
    contractVersion: str | None = attr.field(default=None, validator=_optional_str)
    applyId: int | None = attr.field(default=None, validator=_count(minimum=1))
    requestedBy: str | None = attr.field(default=None, validator=_optional_str)
    supersedes: dict[str, Any] | None = attr.field(default=None, validator=_version_ref)
    restored: dict[str, Any] | None = attr.field(default=None, validator=_version_ref)

    @staticmethod
    def _get_schema() -> str:
        return _schema_url("DataOpsPartitionLedgerRunFacet", DataOpsPartitionLedgerRunFacet.SCHEMA_VERSION)


@attr.define
class DataOpsGateRunFacet(RunFacet):
    """The verdict of a data-contract gate.

    :param contractId: the contract's id.
    :param contractVersion: the contract's version.
    :param mode: ``fail``, ``quarantine`` or ``warn``.
    :param verdict: ``passed``, ``warned``, ``quarantined`` or ``failed``.
    :param rulesTotal: rules evaluated.
    :param rulesFailed: rules that did not hold (<= ``rulesTotal``).
    :param dataset: the dataset checked.
    :param partitionKey: the partition checked, if any.
    """

    FACET_KEY: ClassVar[str] = "dataops_gate"

    contractId: str = attr.field(validator=_non_empty_str)
    contractVersion: str = attr.field(validator=_non_empty_str)
    mode: str = attr.field(converter=_enum_value, validator=_one_of(GATE_MODES))
    verdict: str = attr.field(converter=_enum_value, validator=_one_of(GATE_VERDICTS))
    rulesTotal: int = attr.field(validator=_count(optional=False))
    rulesFailed: int = attr.field(validator=_count(optional=False))
    dataset: str | None = attr.field(default=None, validator=_optional_str)
    partitionKey: str | None = attr.field(default=None, validator=_optional_str)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.rulesFailed > self.rulesTotal:
            msg = (
                f"DataOpsGateRunFacet.rulesFailed ({self.rulesFailed}) cannot exceed "
                f"rulesTotal ({self.rulesTotal})"
            )
            raise ValueError(msg)

    @staticmethod
    def _get_schema() -> str:
        return _schema_url("DataOpsGateRunFacet")


def version_ref(
    apply_id: int | None,
    *,
    rows: int | None = None,
    checksum: str | None = None,
    state: str | None = None,
    kept: bool | None = None,
) -> dict[str, Any] | None:
    """A partition version for ``supersedes`` / ``restored`` (``None`` without an apply id)."""
    if not apply_id:
        return None
    ref = {
        "applyId": int(apply_id),
        "rowsPublished": rows,
        "checksum": checksum,
        "state": state,
        "kept": kept,
    }
    return {k: v for k, v in ref.items() if v is not None}


#: Our facet classes by class name (which is also their schema file's stem).
FACET_CLASSES: dict[str, type[RunFacet]] = {
    cls.__name__: cls
    for cls in (DataOpsSLOEvaluationRunFacet, DataOpsPartitionLedgerRunFacet, DataOpsGateRunFacet)
}
