"""``airflow dataops slo status|burn``: where each dataset stands against its SLOs.

Thin over ``airflow_dataops.slo.evaluator`` (the same code the evaluator DAG runs); read-only:
the CLI never opens or resolves a breach episode, it shows the open ones.

* ``slo status [DATASET] [-o table|json]``: per dataset and SLO: status, objective, budget
  remaining, burn rates, open breach.  An invalid definition shows ``invalid SLO: …``; an SLO
  without SLIs ``no data``.
* ``slo burn DATASET [-o table|json]``: per SLO and alert rule: the burn rate over the long and
  the short window, the threshold, the severity and whether that pair fires now.
"""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["slo_burn", "slo_cli_group", "slo_status"]


def slo_cli_group() -> Any:
    """The ``slo`` ``GroupCommand`` (add it to the ``dataops`` group's subcommands)."""
    from airflow.cli.cli_config import ActionCommand, Arg, GroupCommand, lazy_load_command

    output = Arg(("-o", "--output"), choices=("table", "json"), default="table", help="Output format.")
    return GroupCommand(
        name="slo",
        help="SLO status, error budgets and burn rates of datasets",
        subcommands=(
            ActionCommand(
                name="status",
                help="Status, objective, budget remaining, burn rates and open breaches per dataset",
                description="Example: airflow dataops slo status flights -o json",
                func=lazy_load_command("airflow_dataops.cli.slo.slo_status"),
                args=(Arg(("dataset",), nargs="?", default=None, help="One dataset (default: all)."), output),
            ),
            ActionCommand(
                name="burn",
                help="Burn rate per alert window, and the alert each window pair would fire",
                description="Example: airflow dataops slo burn flights",
                func=lazy_load_command("airflow_dataops.cli.slo.slo_burn"),
                args=(Arg(("dataset",), help="The dataset."), output),
            ),
        ),
    )


def _store() -> Any:
    from airflow_dataops.store import StateStore

    return StateStore.from_settings()


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line.rstrip())
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def _exit(message: str) -> None:
    print(message, file=sys.stderr)
    raise SystemExit(1)


def slo_status(args: Any) -> None:
    """``airflow dataops slo status [DATASET] [-o table|json]``."""
    from airflow_dataops.slo.evaluator import evaluate_datasets, evaluation_to_dict
    from airflow_dataops.store.breaches import open_breaches

    store = _store()
    dataset = getattr(args, "dataset", None)
    names = [dataset] if dataset else None
    results = evaluate_datasets(store, datasets=names)
    breaches = open_breaches(store, datasets=names)
    if getattr(args, "output", "table") == "json":
        out = []
        for r in results:
            item = r.to_dict()
            for slo in item["slos"]:
                episode = breaches.get((r.dataset, slo["slo"]))
                slo["open_breach"] = episode.to_dict() if episode else None
            out.append(item)
        print(json.dumps(out, indent=2, default=str))
        return
    if not results:
        print("no datasets registered in the dataops store")
        return
    rows: list[list[str]] = []
    for r in results:
        if not r.evaluations:
            rows.append([r.dataset, "-", r.status, "-", "-", "-", "-"])
            continue
        for ev in r.evaluations:
            d = evaluation_to_dict(ev)
            rates = " ".join(f"{k}={v:.2f}" for k, v in d["burn_rates"].items() if v is not None) or "-"
            episode = breaches.get((r.dataset, d["slo"]))
            open_text = f"{episode.severity} since {episode.opened_at:%Y-%m-%d %H:%M}" if episode else "-"
            rows.append(
                [
                    r.dataset,
                    d["slo"],
                    d["status"],
                    f"{ev.objective:.4g}",
                    _fmt(ev.budget_remaining, "{:.1%}"),
                    rates,
                    open_text,
                ]
            )
    _print_table(["dataset", "slo", "status", "objective", "budget left", "burn rates", "open breach"], rows)


def slo_burn(args: Any) -> None:
    """``airflow dataops slo burn DATASET [-o table|json]``."""
    from airflow_dataops.slo.evaluator import burn_table, evaluate_datasets

    store = _store()
    (result,) = evaluate_datasets(store, datasets=[args.dataset])
    if result.error:
        _exit(f"{args.dataset}: {result.status}")
    out: list[dict[str, Any]] = [
        {"slo": ev.kind.value, "status": result.status, "objective": ev.objective, "rules": burn_table(ev)}
        for ev in result.evaluations
    ]
    if getattr(args, "output", "table") == "json":
        print(json.dumps({"dataset": args.dataset, "slos": out}, indent=2, default=str))
        return
    if not out:
        print(f"{args.dataset}: no SLO defined")
        return
    rows = [
        [
            o["slo"],
            f"{r['long']}/{r['short']}",
            _fmt(r["long_burn"]),
            _fmt(r["short_burn"]),
            f"{r['threshold']:.3g}",
            r["severity"],
            "FIRES" if r["fires"] else "no",
        ]
        for o in out
        for r in o["rules"]
    ]
    _print_table(["slo", "long/short", "long burn", "short burn", "threshold", "severity", "alert"], rows)
