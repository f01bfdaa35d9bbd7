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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

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


#: Exit codes of ``slo status`` and ``slo burn`` (the project's scheme; see docs/slo.md).
EXIT_OK, EXIT_BREACHED, EXIT_INVALID, EXIT_ENVIRONMENT = 0, 1, 2, 3
_EXITS = (
    "Exit codes: 0 every SLO shown is healthy, at risk or without data; 1 an SLO is breached "
    "(status) or an alert fires (burn); 2 invalid input: an invalid SLO definition (the other "
    "datasets are still shown) or a malformed [dataops] setting; 3 the environment: the store "
    "cannot be reached or read, or the named dataset is not registered in it."
)


def _fail(message: str, code: int) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


@contextmanager
def _store_faults() -> Iterator[None]:
    """Turn a store or configuration fault into a one-line error and its exit code."""
    from sqlalchemy.exc import SQLAlchemyError

    from airflow_dataops.exceptions import ConfigError, StoreError

    try:
        yield
    except ConfigError as e:
        _fail(_one_line(e), EXIT_INVALID)
    except StoreError as e:
        _fail(_one_line(e), EXIT_ENVIRONMENT)
    except SQLAlchemyError as e:
        orig = getattr(e, "orig", None) or e
        _fail(
            f"the dataops store cannot be read ({type(orig).__name__}: {_one_line(orig)}); "
            "check [dataops] store_url and run `airflow dataops db migrate`",
            EXIT_ENVIRONMENT,
        )
    except OSError as e:
        _fail(f"the dataops store cannot be reached: {type(e).__name__}: {_one_line(e)}", EXIT_ENVIRONMENT)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 400 else text[:397] + "..."


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
        _fail(
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

    with _store_faults():
        pairs = _status(_store(), getattr(args, "dataset", None))
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
        _print_table(
            ["dataset", "slo", "status", "objective", "budget left", "burn rates", "open breach"], rows
        )
    for r in results:
        if r.error:
            print(f"error: {r.error}", file=sys.stderr)
    code = _exit_code(results)
    if code:
        raise SystemExit(code)


def slo_burn(args: Any) -> None:
    """``airflow dataops slo burn DATASET [-o table|json]``."""
    from airflow_dataops.slo.evaluator import burn_table, evaluate_datasets

    with _store_faults():
        store = _store()
        _known(store, args.dataset)
        (result,) = evaluate_datasets(store, datasets=[args.dataset])
    if result.error:
        _fail(result.error, EXIT_INVALID)
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
        _print_table(["slo", "long/short", "long burn", "short burn", "threshold", "severity", "alert"], rows)
    code = _exit_code([result], firing=True)
    if code:
        raise SystemExit(code)
