"""``airflow dataops slo status|burn``: where each dataset stands against its SLOs.

Thin over ``airflow_dataops.slo.evaluator`` (the same code the evaluator DAG and the UI run);
read-only: the CLI never opens or resolves a breach episode, it shows the open ones.  Store
faults and bad configuration end in a one-line ``error: …`` and an exit code (``_EXITS``).

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

from airflow_dataops.cli._common import (
    EXIT_ENVIRONMENT,
    EXIT_FINDING,
    EXIT_INVALID,
    EXIT_OK,
    fail,
    read_store,
    store_faults,
    table,
)

__all__ = ["slo_burn", "slo_cli_group", "slo_status", "status_json"]


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
                description="Example: airflow dataops slo status flights -o json\n\n" + _EXITS,
                func=lazy_load_command("airflow_dataops.cli.slo.slo_status"),
                args=(Arg(("dataset",), nargs="?", default=None, help="One dataset (default: all)."), output),
            ),
            ActionCommand(
                name="burn",
                help="Burn rate per alert window, and the alert each window pair would fire",
                description="Example: airflow dataops slo burn flights\n\n" + _EXITS,
                func=lazy_load_command("airflow_dataops.cli.slo.slo_burn"),
                args=(Arg(("dataset",), help="The dataset."), output),
            ),
        ),
    )


#: Exit codes of ``slo status`` and ``slo burn`` (the project's scheme, :mod:`airflow_dataops.cli._common`):
#: a breached SLO or a firing alert is the scheme's "finding".
EXIT_BREACHED = EXIT_FINDING
_EXITS = (
    "Exit codes: 0 every SLO shown is healthy, at risk or without data; 1 an SLO is breached "
    "(status) or an alert fires (burn); 2 invalid input: an invalid SLO definition (the other "
    "datasets are still shown) or a malformed [dataops] setting; 3 the environment: the store "
    "cannot be reached or read, or the named dataset is not registered in it."
)


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def _exit_code(results: list[Any], *, firing: bool = False) -> int:
    from airflow_dataops.slo.status import DatasetStatus

    if any(r.error for r in results):
        return EXIT_INVALID
    if firing:
        return EXIT_BREACHED if any(e.firing for r in results for e in r.evaluations) else EXIT_OK
    return EXIT_BREACHED if any(r.status is DatasetStatus.BREACHED for r in results) else EXIT_OK


def status_json(store: Any, dataset: str | None = None, *, now: Any = None) -> list[dict[str, Any]]:
    """What ``slo status -o json`` prints: one evaluation per dataset, with its open breaches."""
    return [item for item, _ in _status(store, dataset, now=now)]


def _known(store: Any, dataset: str) -> None:
    """Exit 3 (as every command does for a named dataset that does not exist) unless registered."""
    from airflow_dataops.store.records import get_dataset

    if get_dataset(store, dataset) is None:
        fail(
            f"dataset {dataset!r} is not registered in the dataops store (no dataops_datasets row); "
            "it is registered on its first publish. `airflow dataops slo status` lists the registered ones",
            EXIT_ENVIRONMENT,
        )


def _status(store: Any, dataset: str | None, *, now: Any = None) -> list[tuple[dict[str, Any], Any]]:
    from airflow_dataops.slo.evaluator import evaluate_datasets
    from airflow_dataops.store.breaches import open_breaches

    if dataset:
        _known(store, dataset)
    names = [dataset] if dataset else None
    results = evaluate_datasets(store, datasets=names, now=now)
    breaches = open_breaches(store, datasets=names)
    out = []
    for r in results:
        item = r.to_dict()
        for slo in item["slos"]:
            episode = breaches.get((r.dataset, slo["slo"]))
            slo["open_breach"] = episode.to_dict() if episode else None
        out.append((item, r))
    return out


def slo_status(args: Any) -> None:
    """``airflow dataops slo status [DATASET] [-o table|json]``."""
    from airflow_dataops.slo.status import LABEL

    with store_faults():
        pairs = _status(read_store(), getattr(args, "dataset", None))
    results = [r for _, r in pairs]
    if getattr(args, "output", "table") == "json":
        print(json.dumps([item for item, _ in pairs], indent=2, default=str))
    elif not pairs:
        print("no datasets registered in the dataops store")
    else:
        rows: list[list[str]] = []
        for item, r in pairs:
            if not item["slos"]:
                text = LABEL[item["status"]] + (f": {r.error}" if r.error else "")
                rows.append([r.dataset, "-", text, "-", "-", "-", "-"])
                continue
            for d in item["slos"]:
                rates = " ".join(f"{k}={v:.2f}" for k, v in d["burn_rates"].items() if v is not None) or "-"
                episode = d["open_breach"]
                open_text = (
                    f"{episode['severity']} since {str(episode['opened_at'])[:16].replace('T', ' ')}"
                    if episode
                    else "-"
                )
                rows.append(
                    [
                        r.dataset,
                        d["slo"],
                        LABEL[d["status"]],
                        f"{d['objective']:.4g}",
                        _fmt(d["budget_remaining"], "{:.1%}"),
                        rates,
                        open_text,
                    ]
                )
        print(
            table(["dataset", "slo", "status", "objective", "budget left", "burn rates", "open breach"], rows)
        )
    for r in results:
        if r.error:
            print(f"error: {r.error}", file=sys.stderr)
    code = _exit_code(results)
    if code:
        raise SystemExit(code)


def slo_burn(args: Any) -> None:
    """``airflow dataops slo burn DATASET [-o table|json]``."""
    from airflow_dataops.slo.evaluation import burn_table
    from airflow_dataops.slo.evaluator import evaluate_datasets

    with store_faults():
        store = read_store()
        _known(store, args.dataset)
        (result,) = evaluate_datasets(store, datasets=[args.dataset])
    if result.error:
        fail(result.error, EXIT_INVALID)
    out: list[dict[str, Any]] = [
        {"slo": ev.kind.value, "status": ev.status.value, "objective": ev.objective, "rules": burn_table(ev)}
        for ev in result.evaluations
    ]
    if getattr(args, "output", "table") == "json":
        print(
            json.dumps(
                {"dataset": args.dataset, "status": result.status.value, "slos": out}, indent=2, default=str
            )
        )
    elif not out:
        print(f"{args.dataset}: no SLO defined")
    else:
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
        print(table(["slo", "long/short", "long burn", "short burn", "threshold", "severity", "alert"], rows))
    code = _exit_code([result], firing=True)
    if code:
        raise SystemExit(code)
