"""How a contract's SLO changed between two versions, classified from the consumers' side.

An SLO is a promise, so (as for the contract's rules) a change that weakens it is
**breaking** and one that strengthens it is **compatible**:

=====================================  =====================  ===========
change                                 example                class
=====================================  =====================  ===========
SLI removed / added                    ``slis.cost`` dropped  breaking / compatible
objective lowered / raised             0.99 -> 0.95           breaking / compatible
threshold loosened / tightened         freshness 6 h -> 12 h  breaking / compatible
cadence longer / shorter               1 d -> 2 d             breaking / compatible
missing data no longer ``bad``         bad -> ignore          breaking (the reverse: compatible)
window or budgeting method changed     30 d -> 7 d            breaking: the budget means something else
``at_risk_below`` changed              0.25 -> 0.1            informational (when to warn, not the promise)
an SLO definition that cannot be read  objective: 7           breaking (the message says why)
=====================================  =====================  ===========

Used by ``contracts.diff.diff_contracts``; returns ``(kind, path, message)`` triples with kind
``breaking``, ``compatible`` or ``informational``.
"""

from __future__ import annotations

from typing import Any

from airflow_dataops.slo.burn_rate import window_label
from airflow_dataops.slo.from_contract import contract_mapping, slo_specs_from_contract
from airflow_dataops.slo.spec import (
    MissingDataPolicy,
    SLODefinitionError,
    SLOSpec,
)

__all__ = ["diff_slos"]

B, C, I = "breaking", "compatible", "informational"  # noqa: E741


def _specs(contract: Any) -> dict[str, SLOSpec] | str:
    dataset = contract.schema[0].name if contract.schema else "dataset"
    try:
        return {s.kind.value: s for s in slo_specs_from_contract(contract_mapping(contract), dataset)}
    except SLODefinitionError as e:
        return str(e)


def _direction(new: float, old: float, *, higher_is_stronger: bool) -> str:
    return C if (new > old) == higher_is_stronger else B


def diff_slos(old: Any, new: Any) -> list[tuple[str, str, str]]:
    """The SLO changes from contract ``old`` to ``new`` (loaded ``Contract`` objects)."""
    before, after = _specs(old), _specs(new)
    if isinstance(after, str):
        return [(B, "customProperties.dataops.slo", f"the new SLO definition cannot be used: {after}")]
    if isinstance(before, str):
        return [
            (
                C,
                "customProperties.dataops.slo",
                f"the SLO definition was fixed (it could not be used: {before})",
            )
        ]
    out: list[tuple[str, str, str]] = []
    for kind, spec in before.items():
        path = f"customProperties.dataops.slo.slis.{kind}"
        if kind not in after:
            out.append((B, path, f"SLO {kind!r} was removed"))
            continue
        out.extend(_diff_spec(path, kind, spec, after[kind]))
    for kind in after.keys() - before.keys():
        out.append((C, f"customProperties.dataops.slo.slis.{kind}", f"SLO {kind!r} was added"))
    return out


def _diff_spec(path: str, kind: str, old: SLOSpec, new: SLOSpec) -> list[tuple[str, str, str]]:
    out = []
    if new.objective != old.objective:
        verdict = _direction(new.objective, old.objective, higher_is_stronger=True)
        word = "tightened" if verdict == C else "loosened"
        out.append(
            (
                verdict,
                f"{path}.objective",
                f"SLO {kind!r} objective {word}: {old.objective:g} -> {new.objective:g}",
            )
        )
    (t_old, unit), (t_new, _) = old.canonical_threshold, new.canonical_threshold
    if t_new != t_old:
        verdict = _direction(t_new, t_old, higher_is_stronger=not old.lower_is_better)
        word = "tightened" if verdict == C else "loosened"
        out.append(
            (
                verdict,
                f"{path}.threshold",
                f"SLO {kind!r} threshold {word}: {t_old:g} {unit} -> {t_new:g} {unit}",
            )
        )
    if new.cadence != old.cadence:
        verdict = _direction(
            new.cadence.total_seconds(), old.cadence.total_seconds(), higher_is_stronger=False
        )
        out.append(
            (
                verdict,
                f"{path}.cadence",
                f"SLO {kind!r} cadence {window_label(old.cadence)} -> {window_label(new.cadence)}",
            )
        )
    if new.window_days != old.window_days:
        out.append(
            (
                B,
                f"{path}.window_days",
                f"SLO {kind!r} window changed: {old.window_days:g} d -> {new.window_days:g} d",
            )
        )
    if (new.budgeting, new.slice_length) != (old.budgeting, old.slice_length):
        out.append(
            (
                B,
                f"{path}.budgeting",
                f"SLO {kind!r} budgeting changed: {old.budgeting.value} -> {new.budgeting.value}",
            )
        )
    if new.missing_data != old.missing_data:  # always set by SLOSpec (a default per kind)
        verdict = C if new.missing_data is MissingDataPolicy.BAD else B
        was, now = (getattr(p, "value", p) for p in (old.missing_data, new.missing_data))
        out.append((verdict, f"{path}.missing_data", f"SLO {kind!r} missing data: {was} -> {now}"))
    if new.at_risk_below != old.at_risk_below:
        out.append(
            (
                I,
                f"{path}.at_risk_below",
                f"SLO {kind!r} at_risk_below {old.at_risk_below:g} -> {new.at_risk_below:g}",
            )
        )
    return out
