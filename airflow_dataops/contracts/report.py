"""Outcome of checking data against a contract: one ``RuleResult`` per rule, one ``GateReport`` per check.

Declaration (the contract model) and outcome (this module) are kept apart, as in
common-sql's ``SQLCheckResult`` and Dagster's ``AssetCheckResult``.  Every engine
(SQL, pandas, Great Expectations) returns the same ``GateReport``.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Severity(str, enum.Enum):
    """ODCS ``severity``: an ``error`` blocks (or quarantines), a ``warning`` is recorded and passes."""

    ERROR = "error"
    WARNING = "warning"


class Verdict(str, enum.Enum):
    """What the gate decided for the data it checked."""

    PASSED = "passed"  # every rule passed
    WARNED = "warned"  # only warning-severity rules failed, or mode=warn
    QUARANTINED = "quarantined"  # failing rows moved aside, the rest published
    FAILED = "failed"  # nothing published


@dataclass(frozen=True, kw_only=True)
class RuleResult:
    """The result of one contract rule.

    :param name: stable rule name, e.g. ``flights.dep_delay.nullValues``.
    :param dimension: ODCS data-quality dimension (completeness, validity, uniqueness, conformity, ...).
    :param severity: ``Severity.ERROR`` or ``Severity.WARNING``.
    :param expected: the condition, human readable, e.g. ``mustBeLessOrEqualTo 5 percent``.
    :param actual: the measured value (a number, or a text for schema rules); ``None`` for
        sensitive columns, whose values never leave the engine.
    :param passed: whether the rule held.
    :param failing_rows: rows that broke a row-level rule; ``None`` for aggregate rules.
    :param column: the column the rule is about, if any.
    :param row_level: True when failing rows can be selected.
    :param quarantinable: True when the rule tolerates no failing row at all (``mustBe: 0``,
        ``required``), so moving each failing row aside makes the rest comply.  A threshold
        rule (``nullValues mustBeLessOrEqualTo 5 percent``) is row-level but not quarantinable:
        quarantining its rows would hide legitimate nulls to game the threshold, so when it fails
        it blocks like an aggregate rule.
    :param quarantine_note: what quarantine does with this rule's rows when that is not simply
        "the failing rows": for duplicate rules (``unique``, ``primaryKey``, ``duplicateValues``)
        every row of a duplicated key is moved and none is kept, so ``failing_rows`` (the rows in
        excess of one per key) is smaller than the rows moved.
    """

    name: str
    dimension: str
    severity: Severity
    expected: str
    actual: Any
    passed: bool
    failing_rows: int | None = None
    column: str | None = None
    row_level: bool = False
    quarantinable: bool = False
    quarantine_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["severity"] = self.severity.value
        return d


@dataclass(frozen=True, kw_only=True)
class GateReport:
    """Every rule's result for one dataset (and partition) under one contract version."""

    contract_id: str
    contract_version: str
    dataset: str
    partition: str | None
    engine: str
    row_count: int
    results: tuple[RuleResult, ...] = field(default_factory=tuple)
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    @property
    def blocking(self) -> tuple[RuleResult, ...]:
        """Failed rules of severity error: these block publication in ``fail`` mode."""
        return tuple(r for r in self.failed if r.severity is Severity.ERROR)

    @property
    def passed(self) -> bool:
        return not self.failed

    def summary(self) -> dict[str, Any]:
        """A small JSON-able summary, for XCom and logs."""
        return {
            "contract": self.contract_id,
            "version": self.contract_version,
            "dataset": self.dataset,
            "partition": self.partition,
            "engine": self.engine,
            "rows": self.row_count,
            "rules": len(self.results),
            "failed": [r.name for r in self.failed],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "results": [r.to_dict() for r in self.results],
            "warnings": list(self.warnings),
        }
