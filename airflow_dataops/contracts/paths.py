"""YAML paths in messages: ``["schema", 0, "properties", 2]`` <-> ``schema[0].properties[2]``."""

from __future__ import annotations

from collections.abc import Sequence

PathParts = Sequence[str | int]


def format_path(parts: PathParts) -> str:
    """``["schema", 0, "properties", 2, "logicalType"]`` -> ``schema[0].properties[2].logicalType``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
