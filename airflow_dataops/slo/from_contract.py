"""Reading SLOs from a data contract: ``slo_specs_from_contract`` and the ``*.slo.yaml`` sidecar.

Where the values come from (``slo_specs_from_contract``)::

    slaProperties:                     # ODCS: the thresholds
      - {property: latency, value: 6, unit: h, element: flights}     # freshness threshold
      - {property: frequency, value: 1, unit: d}                      # cadence
    customProperties:                  # ODCS: a list of {property, value}
      - property: dataops
        value:
          slo:                         # the objective, window and SLIs
            objective: 0.99            # strictly between 0 and 1
            window_days: 30
            budgeting: occurrences     # or timeslices (with slice: 5m)
            cadence: 1d                # expected interval between partitions
            slis:
              freshness: {}                                  # threshold from slaProperties
              completeness: {threshold: 0.99, unit: ratio}
              correctness: {threshold: 95, unit: percent, objective: 0.95}

The same ``slo:`` block may live in a sidecar file ``<contract>.slo.yaml`` next
to the contract instead (``flights.odcs.yaml`` → ``flights.odcs.slo.yaml``); a
contract that has both is refused rather than silently preferring one.

Every error is an ``SLODefinitionError`` naming the dataset, the field, the value and what
is allowed (the field parsers of ``slo.spec``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_dataops.slo.sli import SLIKind
from airflow_dataops.slo.spec import (
    MAX_WINDOW_DAYS,
    UNIT_HELP,
    BudgetingMethod,
    MissingDataPolicy,
    SLODefinitionError,
    SLOSpec,
    enum_value,
    field_error,
    finite_number,
    objective_value,
    parse_duration,
    parse_unit,
    positive_number,
)

__all__ = ["contract_mapping", "load_slo_sidecar", "sidecar_path", "slo_specs_from_contract"]

_SLO_KEYS = frozenset(
    {"objective", "window_days", "budgeting", "slice", "cadence", "missing_data", "at_risk_below", "slis"}
)
_SLI_KEYS = frozenset(
    {"objective", "window_days", "budgeting", "slice", "missing_data", "threshold", "unit", "at_risk_below"}
)
_FRESHNESS_SLA = ("latency", "freshness")  # ODCS prefers latency; freshness is the older name


def sidecar_path(contract_path: str | Path) -> Path:
    """The sidecar of a contract file: ``flights.odcs.yaml`` → ``flights.odcs.slo.yaml``."""
    path = Path(contract_path)
    stem = path.name[: -len(path.suffix)] if path.suffix in (".yaml", ".yml") else path.name
    return path.with_name(f"{stem}.slo.yaml")


def load_slo_sidecar(path: str | Path, *, dataset: str) -> Mapping[str, Any]:
    """Read a sidecar YAML file and return its ``slo:`` block.

    :raises SLODefinitionError: the file cannot be read or parsed, or has no ``slo`` mapping.
    """
    import yaml  # only needed when a sidecar is used

    from airflow_dataops.contracts.safe_yaml import YamlRefused, decode, load_yaml

    try:  # the contracts' bounded YAML loader: a sidecar is as untrusted as a contract
        data = load_yaml(decode(Path(path).read_bytes()))
    except (OSError, yaml.YAMLError, YamlRefused) as e:
        where = f" (line {e.line})" if isinstance(e, YamlRefused) and e.line else ""
        raise SLODefinitionError(
            f"dataset {dataset!r}: cannot read SLO sidecar {str(path)!r}{where}: {' '.join(str(e).split())}"
        ) from e
    if not isinstance(data, Mapping) or not isinstance(data.get("slo"), Mapping):
        raise SLODefinitionError(
            f"dataset {dataset!r}: SLO sidecar {str(path)!r} must hold a mapping with an 'slo' key"
        )
    return data["slo"]


def _contract_dict(contract: Any, dataset: str) -> Mapping[str, Any]:
    if isinstance(contract, Mapping):
        return contract
    if hasattr(contract, "model_dump"):  # the ODCS pydantic model, or ours
        return contract.model_dump(by_alias=True, exclude_none=True)
    raise SLODefinitionError(
        f"dataset {dataset!r}: a contract must be a mapping (parsed YAML) or a model with model_dump(), "
        f"got {type(contract).__name__}"
    )


def _slo_block_from_custom_properties(contract: Mapping[str, Any], dataset: str) -> Mapping[str, Any] | None:
    props = contract.get("customProperties") or []
    if not isinstance(props, list):
        raise field_error(
            dataset, "customProperties", f"must be a list of {{property, value}}, got {type(props).__name__}"
        )
    for i, prop in enumerate(props):
        if not isinstance(prop, Mapping) or prop.get("property") != "dataops":
            continue
        value = prop.get("value")
        if isinstance(value, str):  # some tools store custom property values as YAML text
            import yaml

            from airflow_dataops.contracts.safe_yaml import YamlRefused, load_yaml

            try:
                value = load_yaml(value)
            except (yaml.YAMLError, YamlRefused) as e:
                raise field_error(
                    dataset, f"customProperties[{i}].value", f"is not valid YAML: {' '.join(str(e).split())}"
                ) from e
        if not isinstance(value, Mapping) or not isinstance(value.get("slo"), Mapping):
            raise field_error(
                dataset, f"customProperties[{i}].value", "(dataops) must be a mapping with an 'slo' mapping"
            )
        return value["slo"]
    return None


def _sla_for(
    contract: Mapping[str, Any], dataset: str, names: tuple[str, ...]
) -> tuple[str, Mapping[str, Any]] | None:
    """The first ``slaProperties`` entry named in ``names`` that applies to ``dataset``, with its path."""
    sla = contract.get("slaProperties") or []
    short = dataset.rsplit(".", 1)[-1]
    for name in names:
        for i, entry in enumerate(sla):
            if not isinstance(entry, Mapping) or str(entry.get("property", "")).lower() != name:
                continue
            element = entry.get("element")
            if element and str(element).split(".")[0] not in (dataset, short):
                continue  # scoped to another object of the contract
            return f"slaProperties[{i}]", entry
    return None


def _check_keys(block: Mapping[str, Any], allowed: frozenset[str], *, dataset: str, field: str) -> None:
    unknown = sorted(set(block) - allowed)
    if unknown:
        raise field_error(
            dataset, field, f"has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def contract_mapping(contract: Any) -> dict[str, Any]:
    """Our loaded ``Contract`` as the ODCS-shaped mapping ``slo_specs_from_contract`` reads."""
    return {
        "slaProperties": [
            {"property": s.property, "value": s.value, "unit": s.unit, "element": s.element}
            for s in contract.sla_properties
        ],
        "customProperties": [{"property": k, "value": v} for k, v in contract.custom_properties.items()],
    }


def slo_specs_from_contract(
    contract: Mapping[str, Any] | Any,
    dataset: str,
    *,
    contract_path: str | Path | None = None,
    sidecar: Mapping[str, Any] | str | Path | None = None,
) -> list[SLOSpec]:
    """Build the ``SLOSpec`` of each SLI the contract declares for ``dataset``.

    :param contract: the contract as parsed YAML (a mapping) or a model with ``model_dump()``.
    :param dataset: the dataset name the specs are for; ``slaProperties`` entries whose
        ``element`` names another object are skipped.
    :param contract_path: where the contract was read from; its sidecar
        (``sidecar_path(contract_path)``) is read when it exists.
    :param sidecar: an ``slo:`` block (mapping) or a sidecar file path, instead of discovery.
    :returns: one spec per SLI in ``slo.slis`` (or a freshness spec alone when ``slis``
        is absent and ``slaProperties`` has a ``latency``/``freshness``), in
        ``SLIKind`` order; ``[]`` when the contract declares no ``slo`` block.
    :raises SLODefinitionError: a malformed or contradictory definition.
    """
    data = _contract_dict(contract, dataset)
    block = _slo_block_from_custom_properties(data, dataset)
    if sidecar is None and contract_path is not None and sidecar_path(contract_path).is_file():
        sidecar = sidecar_path(contract_path)
    if sidecar is not None:
        side = sidecar if isinstance(sidecar, Mapping) else load_slo_sidecar(sidecar, dataset=dataset)
        if block is not None:
            raise SLODefinitionError(
                f"dataset {dataset!r}: slo is defined both in customProperties (dataops) and in a sidecar; keep one"
            )
        block = side
    if block is None:
        return []
    _check_keys(block, _SLO_KEYS, dataset=dataset, field="slo")
    slis = block.get("slis")
    if slis is None:
        slis = {"freshness": {}} if _sla_for(data, dataset, _FRESHNESS_SLA) else {}
    if not isinstance(slis, Mapping):
        raise field_error(dataset, "slo.slis", f"must be a mapping of SLI kind to settings, got {slis!r}")
    if not slis:
        raise field_error(
            dataset, "slo.slis", "is empty and slaProperties has no latency or freshness for this dataset"
        )
    cadence: Any = block.get("cadence")
    if cadence is None and (found := _sla_for(data, dataset, ("frequency",))):
        path, entry = found
        cadence = parse_duration(
            {"value": entry.get("value"), "unit": entry.get("unit")}, dataset=dataset, field=path
        )
    specs = [_one_spec(data, dataset, name, sli, block, cadence) for name, sli in slis.items()]
    order = list(SLIKind)
    return sorted(specs, key=lambda s: order.index(s.kind))


def _one_spec(
    data: Mapping[str, Any], dataset: str, name: Any, sli: Any, block: Mapping[str, Any], cadence: Any
) -> SLOSpec:
    try:
        kind = SLIKind.parse(name, where=f"dataset {dataset!r}: slo.slis")
    except ValueError as e:
        raise SLODefinitionError(str(e)) from None
    field = f"slo.slis.{kind.value}"
    sli = {} if sli is None else sli
    if not isinstance(sli, Mapping):
        raise field_error(dataset, field, f"must be a mapping of settings, got {sli!r}")
    _check_keys(sli, _SLI_KEYS, dataset=dataset, field=field)

    def pick(key: str, default: Any = None) -> tuple[Any, str]:
        if key in sli:
            return sli[key], f"{field}.{key}"
        return block.get(key, default), f"slo.{key}"

    threshold, unit = sli.get("threshold"), sli.get("unit")
    threshold_field = f"{field}.threshold"
    unit_field = f"{field}.unit"
    if threshold is None and kind is SLIKind.FRESHNESS and (found := _sla_for(data, dataset, _FRESHNESS_SLA)):
        path, entry = found
        threshold, unit = entry.get("value"), entry.get("unit")
        threshold_field, unit_field = f"{path}.value", f"{path}.unit"
    if threshold is None:
        raise field_error(
            dataset, threshold_field, "is required (or, for freshness, a latency in slaProperties)"
        )
    threshold = finite_number(threshold, dataset=dataset, field=threshold_field)
    if unit is None or unit == "":
        raise field_error(
            dataset, unit_field, f"is required for threshold {threshold!r}; use one of {UNIT_HELP}"
        )
    parse_unit(unit, dataset=dataset, field=unit_field)

    objective, objective_field = pick("objective")
    if objective is None:
        raise field_error(dataset, "slo.objective", "is required, e.g. 0.99")
    window, window_field = pick("window_days", 30)
    budgeting, budgeting_field = pick("budgeting", BudgetingMethod.OCCURRENCES.value)
    slice_length, slice_field = pick("slice")
    missing, missing_field = pick("missing_data")
    at_risk, at_risk_field = pick("at_risk_below", 0.25)
    # Validate with the exact YAML path first, so the message points at the key the user wrote.
    window_days = positive_number(window, dataset=dataset, field=window_field)
    if window_days > MAX_WINDOW_DAYS:
        raise field_error(
            dataset, window_field, f"must be at most {MAX_WINDOW_DAYS} (10 years), got {window!r}"
        )
    values = {
        "objective": objective_value(objective, dataset=dataset, field=objective_field),
        "window_days": window_days,
        "budgeting": enum_value(BudgetingMethod, budgeting, dataset=dataset, field=budgeting_field),
        "at_risk_below": finite_number(at_risk, dataset=dataset, field=at_risk_field),
        "cadence": parse_duration(
            cadence if cadence is not None else "1d", dataset=dataset, field="slo.cadence"
        ),
    }
    if slice_length is not None:
        values["slice_length"] = parse_duration(slice_length, dataset=dataset, field=slice_field)
    if missing is not None:
        values["missing_data"] = enum_value(MissingDataPolicy, missing, dataset=dataset, field=missing_field)
    return SLOSpec(dataset=dataset, kind=kind, threshold=threshold, unit=unit, **values)
