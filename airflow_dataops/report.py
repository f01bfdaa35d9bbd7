"""Operational metrics a data SRE team lives by, per dataset and per owner, from the store.

Each figure is defined once here (and in docs/slo.md, "Operational metrics"), over a period
``[since, until)``:

========  =======================  ============================================================
measure   name                     definition
========  =======================  ============================================================
M1        pipeline success rate    publish attempts (ledger history rows of action ``apply`` or
                                   ``rerun``) started in the period that published (``applied``,
                                   ``quarantined``, or later ``superseded`` by a rerun), over those
                                   that published or ``failed``; attempts still ``applying`` are
                                   counted apart as unfinished; a refused double-apply is no attempt
M10       time to recovery         breach episodes opened in the period; MTTR is the mean (and the
                                   worst) of ``resolved_at - opened_at`` over those resolved before
                                   the period's end
M11       lineage coverage         not measured: the store does not yet keep what each partition
                                   read, so "events with inputs and outputs" cannot be counted
                                   (reported as ``null`` with that reason, never as a number)
M13       alert noise              episodes resolved in the period with no publish attempt and no
                                   rerun request for their dataset between opening and resolving
                                   (they went away on their own), over all resolved in the period
M14       on-call load             episodes opened in the period per owner, per week (period days / 7)
M15       SLA violations           freshness SLI observations judged bad (the contract's latency or
                                   freshness SLA missed), per calendar month (UTC) of observation
========  =======================  ============================================================
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from statistics import mean
from typing import Any

from airflow_dataops.clock import utcnow
from airflow_dataops.store.states import FAILED, PUBLISHED_STATES, SUPERSEDED

__all__ = ["Metrics", "OpsReport", "duration_text", "operational_report", "percent_text"]

_UTC = timezone.utc
#: Attempts that published, whether or not a later apply has since replaced them.
_PUBLISHED = (*PUBLISHED_STATES, SUPERSEDED)
LINEAGE_NOT_MEASURED = (
    "not measured: the ledger does not record the inputs a partition was built from yet, "
    "so lineage events with both inputs and outputs cannot be counted"
)


def percent_text(ratio: float | None, missing: str = "-") -> str:
    """A ratio as people read it in the report (``97.5%``); ``missing`` when there is none."""
    return missing if ratio is None else f"{ratio:.1%}"


def duration_text(seconds: float | None, missing: str = "-") -> str:
    """A recovery time as the report shows it: hours from one hour up, else minutes."""
    if seconds is None:
        return missing
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


@dataclass(kw_only=True)
class Metrics:
    """The figures of one dataset, or of one owner's datasets together."""

    runs_succeeded: int = 0
    runs_failed: int = 0
    runs_unfinished: int = 0
    breaches_opened: int = 0
    breaches_resolved: int = 0
    recovery_seconds: list[float] = field(default_factory=list)
    breaches_resolved_in_period: int = 0
    noisy_breaches: int = 0
    sla_violations: Counter[str] = field(default_factory=Counter)  # "YYYY-MM" → count

    def add(self, other: Metrics) -> None:
        self.runs_succeeded += other.runs_succeeded
        self.runs_failed += other.runs_failed
        self.runs_unfinished += other.runs_unfinished
        self.breaches_opened += other.breaches_opened
        self.breaches_resolved += other.breaches_resolved
        self.recovery_seconds += other.recovery_seconds
        self.breaches_resolved_in_period += other.breaches_resolved_in_period
        self.noisy_breaches += other.noisy_breaches
        self.sla_violations.update(other.sla_violations)

    def to_dict(self, weeks: float) -> dict[str, Any]:
        finished = self.runs_succeeded + self.runs_failed
        resolved = self.breaches_resolved_in_period
        return {
            "runs": {
                "succeeded": self.runs_succeeded,
                "failed": self.runs_failed,
                "unfinished": self.runs_unfinished,
                "success_rate": self.runs_succeeded / finished if finished else None,
            },
            "breaches": {
                "opened": self.breaches_opened,
                "resolved": self.breaches_resolved,
                "mttr_seconds": mean(self.recovery_seconds) if self.recovery_seconds else None,
                "worst_recovery_seconds": max(self.recovery_seconds) if self.recovery_seconds else None,
                "per_week": self.breaches_opened / weeks if weeks else None,
            },
            "alert_noise": {
                "resolved_without_action": self.noisy_breaches,
                "resolved": resolved,
                "ratio": self.noisy_breaches / resolved if resolved else None,
            },
            "sla_violations_per_month": dict(sorted(self.sla_violations.items())),
        }


@dataclass(frozen=True, kw_only=True)
class OpsReport:
    since: datetime
    until: datetime
    datasets: dict[str, Metrics]
    owners: dict[str, str | None]

    @property
    def weeks(self) -> float:
        return (self.until - self.since) / timedelta(weeks=1)

    def by_owner(self) -> dict[str, Metrics]:
        out: dict[str, Metrics] = defaultdict(Metrics)
        for name, m in self.datasets.items():
            out[self.owners.get(name) or "(no owner)"].add(m)
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "lineage_coverage": {"value": None, "reason": LINEAGE_NOT_MEASURED},
            "datasets": {
                name: {"owner": self.owners.get(name), **m.to_dict(self.weeks)}
                for name, m in sorted(self.datasets.items())
            },
            "owners": {owner: m.to_dict(self.weeks) for owner, m in self.by_owner().items()},
        }


def operational_report(
    store: Any, *, since: datetime | None = None, until: datetime | None = None
) -> OpsReport:
    """The metrics of every registered dataset over ``[since, until)`` (default: the last 30 days)."""
    from airflow_dataops.store.ops import read_ops_rows

    until = (until or utcnow()).astimezone(_UTC)
    since = (since or until - timedelta(days=30)).astimezone(_UTC)
    rows = read_ops_rows(store, since, until)
    per: dict[str, Metrics] = {name: Metrics() for name in rows.owners}

    for a in rows.attempts:
        m = per.setdefault(a.dataset, Metrics())
        if a.state in _PUBLISHED:
            m.runs_succeeded += 1
        elif a.state == FAILED:
            m.runs_failed += 1
        else:
            m.runs_unfinished += 1

    activity: dict[str, list[datetime]] = defaultdict(list)
    for dataset, at in rows.activity:
        activity[dataset].append(at)
    for e in rows.breaches:
        m = per.setdefault(e["dataset"], Metrics())
        opened, resolved = e["opened_at"], e["resolved_at"]
        if since <= opened < until:
            m.breaches_opened += 1
            if resolved is not None and resolved < until:
                m.breaches_resolved += 1
                m.recovery_seconds.append((resolved - opened).total_seconds())
        if resolved is not None and since <= resolved < until:
            m.breaches_resolved_in_period += 1
            if not any(opened <= at <= resolved for at in activity[e["dataset"]]):
                m.noisy_breaches += 1

    for dataset, at in rows.sla_violations:
        per.setdefault(dataset, Metrics()).sla_violations[at.astimezone(_UTC).strftime("%Y-%m")] += 1
    return OpsReport(since=since, until=until, datasets=per, owners=rows.owners)
