"""The two status vocabularies every view shares: one SLO's, and one dataset's.

Every JSON (``slo status -o json``, the UI's ``/api/…``, the evaluator's summary, breach
notifications) writes a status as the enum's ``value`` (``at_risk``, never ``at risk``);
tables and pages show ``LABEL``.  Nothing else may spell a status.
"""

from __future__ import annotations

import enum

__all__ = ["DATASET_ORDER", "LABEL", "DatasetStatus", "SLOStatus"]


class SLOStatus(str, enum.Enum):
    """Where one SLO stands against its objective."""

    HEALTHY = "healthy"  # budget left, no alert firing
    AT_RISK = "at_risk"  # less than ``at_risk_below`` of the budget left, or a ticket alert firing
    BREACHED = "breached"  # budget exhausted, or a page alert firing
    NO_DATA = "no_data"  # no event in the SLO window: nothing to judge


class DatasetStatus(str, enum.Enum):
    """Where a dataset stands: the worst of its SLOs, or why it has none to judge."""

    BREACHED = "breached"
    AT_RISK = "at_risk"
    NO_DATA = "no_data"
    INVALID = "invalid"  # its SLO definition cannot be used (the evaluation's ``error`` says why)
    HEALTHY = "healthy"
    NO_SLO = "no_slo"  # the dataset declares no SLO

    @classmethod
    def worst(cls, statuses: list[SLOStatus]) -> DatasetStatus:
        """The dataset status of SLOs with these statuses (``no_slo`` for none)."""
        if not statuses:
            return cls.NO_SLO
        return min((cls(s.value) for s in statuses), key=DATASET_ORDER.index)


#: Worst first: the overview's default order.  ``no_data`` ranks above ``healthy`` so a dataset
#: is only healthy when every SLO has data and is healthy.
DATASET_ORDER: tuple[DatasetStatus, ...] = tuple(DatasetStatus)

LABEL: dict[str, str] = {
    "breached": "Breached",
    "at_risk": "At risk",
    "no_data": "No data",
    "invalid": "Invalid SLO",
    "healthy": "Healthy",
    "no_slo": "No SLO",
}
