"""Triage: everything on-call needs about a dataset (or a DAG's datasets), in one read of the store.

``triage(store, "orders")`` answers the 3 a.m. questions in one place, each from the module that
owns it, never recomputed here:

- where every SLO stands, with budget and burn rates: :func:`airflow_dataops.slo.evaluator.evaluate_datasets`
  (the one evaluation every view uses) and the open breach episodes;
- every partition that needs action, each with the exact next command:

  ============================  ==========================================================
  problem                       from
  ============================  ==========================================================
  ``failed``                    the ledger's state, with the rules its last gate failed
                                (expected and actual) from the stored contract results
  ``quarantined``               rows the gate moved to ``<table>__quarantine``
  ``missing``                   a key absent between two recorded keys of a date-keyed
                                dataset, at the SLO's cadence (what completeness counts)
  ``applying past its lease``   an attempt that died while holding the partition
  ``stale``                     built from an upstream partition that has since been
                                replaced (:mod:`airflow_dataops.partitions.staleness`)
  ============================  ==========================================================

``TriageReport.exit_code`` is the CLI's: 0 nothing to act on, 1 a finding (an open breach, a
breached SLO or a partition that needs action) — the project's meaning of 1 in every command.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_dataops.clock import as_utc, utcnow

__all__ = ["PartitionAction", "TriageReport", "missing_keys", "rerun_command", "triage"]

_UTC = timezone.utc
#: The reason placeholder in suggested commands: the on-call engineer says why.
REASON = "<why: ticket, cause>"
#: At most this many missing keys are listed one by one; the rest are counted.
MISSING_LISTED = 20


@dataclass(frozen=True, kw_only=True)
class PartitionAction:
    """One partition that needs action, what is wrong with it, and what to run next."""

    dataset: str
    partition: str
    problem: str  # failed | quarantined | missing | applying past its lease | stale
    detail: tuple[str, ...] = ()
    command: str | None = None
    advice: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "partition": self.partition,
            "problem": self.problem,
            "detail": list(self.detail),
            "command": self.command,
            "advice": self.advice,
        }


@dataclass(frozen=True, kw_only=True)
class TriageReport:
    """What :func:`triage` found: SLO evaluations with open breaches, and partitions to act on."""

    target: str
    evaluated_at: datetime
    datasets: tuple[dict[str, Any], ...]  # DatasetEvaluation.to_dict() with ``open_breach`` per SLO
    actions: tuple[PartitionAction, ...] = ()
    more_missing: dict[str, int] = field(default_factory=dict)  # dataset → missing keys not listed

    @property
    def open_breaches(self) -> list[dict[str, Any]]:
        return [s["open_breach"] for d in self.datasets for s in d["slos"] if s.get("open_breach")]

    @property
    def severity(self) -> str:
        """``page`` or ``ticket`` (the worst open breach), ``action`` (partitions or a breached SLO
        without an open episode yet), or ``ok``."""
        severities = {b["severity"] for b in self.open_breaches}
        for s in ("page", "ticket"):
            if s in severities:
                return s
        breached = any(s["status"] == "breached" for d in self.datasets for s in d["slos"])
        return "action" if self.actions or breached or self.more_missing else "ok"

    @property
    def exit_code(self) -> int:
        return 0 if self.severity == "ok" else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "evaluated_at": self.evaluated_at.isoformat(),
            "severity": self.severity,
            "datasets": list(self.datasets),
            "open_breaches": self.open_breaches,
            "actions": [a.to_dict() for a in self.actions],
            "missing_not_listed": dict(self.more_missing),
        }


def rerun_command(dag_id: str | None, keys: Sequence[str], *, force: bool = False) -> str | None:
    """``airflow dataops partitions rerun DAG -k K … --reason …``, quoted for a shell."""
    if not dag_id:
        return None
    parts = ["airflow", "dataops", "partitions", "rerun", dag_id]
    for key in keys:
        parts += ["-k", key]
    parts += ["--reason", REASON]
    if force:
        parts.append("--force")
    return " ".join(shlex.quote(p) for p in parts)


def missing_keys(keys: Sequence[str], cadence: timedelta, *, now: datetime | None = None) -> list[str] | None:
    """Keys absent from ``keys``, stepping by ``cadence`` from the oldest: between the oldest and the
    newest, and after the newest those the completeness SLO counts as missing at ``now``
    (:func:`airflow_dataops.slo.budget.missing_by`: a partition is expected when the newest one's
    interval has ended plus a cadence, and missing half a cadence after that: a daily partition
    from noon of the day after its interval ended).

    Only for keys that are all ISO dates (``YYYY-MM-DD``) or all datetimes, and a cadence of at least a
    minute (whole days for dates); ``None`` when the sequence cannot be known.
    """
    if not keys or cadence < timedelta(minutes=1):
        return None
    date_only = all(len(k) == 10 for k in keys)
    if date_only and cadence % timedelta(days=1):
        return None
    try:
        times = sorted({as_utc(datetime.fromisoformat(k)) for k in keys})
    except ValueError:
        return None
    last = times[-1]
    if now is not None:
        from airflow_dataops.slo.budget import missing_by

        # the newest partition's event is placed when its interval ends, as completeness places it
        ended = (last + cadence).timestamp()
        last += cadence * missing_by(ended, as_utc(now).timestamp(), cadence.total_seconds())
    present = set(times)
    out: list[str] = []
    at = times[0] + cadence
    while at <= last:
        if at not in present:
            out.append(at.strftime("%Y-%m-%d") if date_only else at.replace(tzinfo=None).isoformat())
        at += cadence
    return out


def _lines_for_rules(found: dict[str, Any]) -> tuple[str, ...]:
    lines = []
    for r in found.get("failed_rules", []):
        rows = f" ({r['failing_rows']} failing rows)" if r.get("failing_rows") is not None else ""
        lines.append(
            f"[{r.get('severity')}] {r.get('rule')}: expected {r.get('expected')}, got {r.get('actual')}{rows}"
        )
    return tuple(lines)


def triage(
    store: Any,
    datasets: Sequence[dict[str, Any]],
    *,
    target: str,
    now: datetime | None = None,
) -> TriageReport:
    """Triage these registered datasets (``dataops_datasets`` rows) at ``now``.

    :param datasets: rows from ``records.get_dataset``/``list_datasets`` (the CLI resolves a dataset
        name or a DAG id to them).
    :param target: what was asked for, as the report names it.
    """
    from airflow_dataops.partitions.staleness import downstream_fix_command, stale_partitions
    from airflow_dataops.slo.evaluator import evaluate_datasets
    from airflow_dataops.slo.sli import SLIKind
    from airflow_dataops.store.breaches import open_breaches
    from airflow_dataops.store.ledger import list_partitions
    from airflow_dataops.store.records import partition_findings
    from airflow_dataops.store.states import APPLYING, FAILED

    now = (now or utcnow()).astimezone(_UTC)
    names = [d["dataset"] for d in datasets]
    evaluations = evaluate_datasets(store, datasets=names, now=now)
    episodes = open_breaches(store, datasets=names)
    rows = []
    cadences: dict[str, timedelta] = {}
    for ev in evaluations:
        item = ev.to_dict()
        for slo in item["slos"]:
            episode = episodes.get((ev.dataset, slo["slo"]))
            slo["open_breach"] = episode.to_dict() if episode else None
        rows.append(item)
        for spec in ev.specs:
            if spec.kind is SLIKind.COMPLETENESS or ev.dataset not in cadences:
                cadences[ev.dataset] = spec.cadence

    actions: list[PartitionAction] = []
    more_missing: dict[str, int] = {}
    stale = {(sp.dataset, sp.partition_key): sp for sp in stale_partitions(store, names)}
    for ds in datasets:
        name = ds["dataset"]
        partitions = list_partitions(store, name)
        findings = partition_findings(store, name)
        for p in partitions:
            found = findings.get(p.partition_key, {})
            dag_id = p.dag_id or ds.get("dag_id")
            if p.state == FAILED:
                actions.append(
                    PartitionAction(
                        dataset=name,
                        partition=p.partition_key,
                        problem="failed",
                        detail=_lines_for_rules(found) or ("the publish failed; its task log says why",),
                        command=rerun_command(dag_id, [p.partition_key]),
                        advice="fix the cause first (the data upstream, or the contract), then rerun",
                    )
                )
            elif p.state == APPLYING and p.lease_expires_at is not None and p.lease_expires_at < now:
                actions.append(
                    PartitionAction(
                        dataset=name,
                        partition=p.partition_key,
                        problem="applying past its lease",
                        detail=(
                            f"attempt {p.attempt} of run {p.run_id} held it until "
                            f"{p.lease_expires_at.isoformat(timespec='seconds')}",
                        ),
                        command=rerun_command(dag_id, [p.partition_key], force=True),
                        advice="the attempt died mid-publish; the rerun replaces the partition",
                    )
                )
            elif p.rows_quarantined:
                actions.append(
                    PartitionAction(
                        dataset=name,
                        partition=p.partition_key,
                        problem="quarantined",
                        detail=(
                            f"{p.rows_quarantined} row(s) in {ds.get('target_table') or name}__quarantine, "
                            f"{p.rows_published} published",
                            *_lines_for_rules(found),
                        ),
                        command=rerun_command(dag_id, [p.partition_key]),
                        advice="fix the rows upstream, then rerun to publish them",
                    )
                )
            behind = stale.get((name, p.partition_key))
            if behind is not None:
                actions.append(
                    PartitionAction(
                        dataset=name,
                        partition=p.partition_key,
                        problem="stale",
                        detail=tuple(
                            f"built from {c.input_dataset} {c.input_partition_key} apply "
                            f"#{c.input_apply_id}; it now holds apply #{c.current_apply_id}"
                            for c in behind.changes
                        ),
                        command=downstream_fix_command(dag_id, p.partition_key, reason=REASON),
                        advice="rebuild it (and what was built from it) from the current upstream",
                    )
                )
        gaps = missing_keys(
            [p.partition_key for p in partitions], cadences.get(name, timedelta(days=1)), now=now
        )
        for key in (gaps or [])[:MISSING_LISTED]:
            actions.append(
                PartitionAction(
                    dataset=name,
                    partition=key,
                    problem="missing",
                    detail=("no ledger row: the partition never ran, or its run never reached the gate",),
                    command=rerun_command(ds.get("dag_id"), [key]),
                    advice="the rerun triggers the partition's first run",
                )
            )
        if gaps and len(gaps) > MISSING_LISTED:
            more_missing[name] = len(gaps) - MISSING_LISTED
    return TriageReport(
        target=target,
        evaluated_at=now,
        datasets=tuple(rows),
        actions=tuple(actions),
        more_missing=more_missing,
    )
