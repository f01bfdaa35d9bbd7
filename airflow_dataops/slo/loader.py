"""Where an SLO's definition comes from: one ``dataops_datasets`` row → its ``SLOSpec`` list.

For each registered dataset: its contract file (``contract_path``, read with ``load_contract``,
sidecar ``*.slo.yaml`` included; a relative path is also looked up under Airflow's dags folder)
or, when the file is gone, the ``slo`` block stored at registration.  A malformed definition
makes THAT dataset ``invalid`` (with a message naming dataset and field); the others are still
evaluated.  Specs are cached per (dataset, contract file mtime and size, stored block).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from airflow_dataops.slo.from_contract import contract_mapping, slo_specs_from_contract
from airflow_dataops.slo.spec import SLODefinitionError, SLOSpec

__all__ = [
    "UnknownDatasetError",
    "load_specs",
    "resolve_contract_path",
    "specs_for_dataset",
    "specs_or_error",
]


def resolve_contract_path(path: str) -> Path | None:
    """``path`` if it is a file, else the same relative path under Airflow's dags folder, else ``None``."""
    candidate = Path(path)
    if candidate.is_file():
        return candidate
    if not candidate.is_absolute():
        try:
            from airflow.configuration import conf

            under_dags = Path(conf.get("core", "dags_folder")) / candidate
        except Exception:  # no Airflow config: only the path as given
            return None
        if under_dags.is_file():
            return under_dags
    return None


class UnknownDatasetError(SLODefinitionError):
    """A dataset asked for by name is not registered in the store."""


def specs_for_dataset(row: Mapping[str, Any]) -> list[SLOSpec]:
    """The SLO specs of one ``dataops_datasets`` row (see the module doc).

    :raises SLODefinitionError: the definition is malformed (or the contract unreadable).
    """
    result = specs_or_error(row)
    if isinstance(result, Exception):
        raise result
    return list(result)


def specs_or_error(row: Mapping[str, Any]) -> tuple[SLOSpec, ...] | SLODefinitionError:
    """The specs of a row, or the error that makes them unusable; cached while nothing changed."""
    dataset = row["dataset"]
    path = row.get("contract_path")
    resolved = resolve_contract_path(path) if path else None
    stamp: tuple[str, int, int] | None = None
    block = row.get("slo")
    if resolved is not None:
        try:
            st = os.stat(resolved)
            stamp = (str(resolved), st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
    try:
        key = json.dumps(block, sort_keys=True, default=repr) if stamp is None else ""
    except (TypeError, ValueError):
        key = repr(block)
    return _cached_specs(dataset, stamp, key, _Frozen(block if stamp is None else None))


class _Frozen:
    """Carries the stored block into the cache without making it part of the key."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Frozen)


@lru_cache(maxsize=4096)
def _cached_specs(
    dataset: str, stamp: tuple[str, int, int] | None, block_key: str, block: _Frozen
) -> tuple[SLOSpec, ...] | SLODefinitionError:
    try:
        return tuple(_build_specs(dataset, stamp[0] if stamp else None, block.value))
    except SLODefinitionError as e:
        return e
    except Exception as e:  # a broken definition must not stop the other datasets
        return SLODefinitionError(f"dataset {dataset!r}: {type(e).__name__}: {e}")


def _build_specs(dataset: str, resolved: str | None, block: Any) -> list[SLOSpec]:
    if resolved is not None:
        from airflow_dataops.contracts.loader import load_contract
        from airflow_dataops.exceptions import ContractError

        try:
            contract = load_contract(resolved)
        except ContractError as e:
            raise SLODefinitionError(f"dataset {dataset!r}: contract {resolved!r} cannot be read: {e}") from e
        return slo_specs_from_contract(contract_mapping(contract), dataset, contract_path=resolved)
    if not block:
        return []
    if not isinstance(block, Mapping):
        raise SLODefinitionError(
            f"dataset {dataset!r}: the stored slo block must be a mapping, got {block!r}"
        )
    return slo_specs_from_contract(
        {"customProperties": [{"property": "dataops", "value": {"slo": block}}]}, dataset
    )


def load_specs(
    store: Any, datasets: Collection[str] | None = None
) -> dict[str, tuple[SLOSpec, ...] | SLODefinitionError]:
    """Specs of every registered dataset (or of ``datasets``): the specs, or the error that stops them.

    A dataset named in ``datasets`` but never registered maps to an ``UnknownDatasetError``.
    """
    from airflow_dataops.store.records import list_datasets

    rows = {r["dataset"]: r for r in list_datasets(store)}
    names = sorted(rows) if datasets is None else list(dict.fromkeys(datasets))
    out: dict[str, tuple[SLOSpec, ...] | SLODefinitionError] = {}
    for name in names:
        row = rows.get(name)
        if row is None:
            out[name] = UnknownDatasetError(
                f"dataset {name!r} is not registered in the dataops store (no dataops_datasets row); "
                "it is registered on its first publish"
            )
            continue
        out[name] = specs_or_error(row)
    return out
