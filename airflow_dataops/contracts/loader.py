"""Load an ODCS v3.0.x or v3.1 YAML contract into :class:`~airflow_dataops.contracts.model.Contract`.

A contract is untrusted input.  The passes, each failing with a :class:`ContractError` that
names the file, the YAML path and the line:

1. YAML parsing through :mod:`~airflow_dataops.contracts.safe_yaml` (UTF-8 only; size, depth and
   alias-expansion limits; duplicate keys refused; timestamps kept as text, as the JSON Schema
   expects);
2. the ``apiVersion``: one we have the official JSON Schema of (:mod:`.odcs_versions`);
3. for v3.1: our own checks (:mod:`.loader_checks`), which give clearer messages than the JSON
   Schema would, then the official ODCS v3.1.0 JSON Schema;
   for v3.0.x: the official JSON Schema **of the declared version** first (our checks read v3.1
   forms), then the contract is rewritten into its v3.1 equivalent
   (:func:`.odcs_versions.upgrade_v30`) and our checks run on that;

then the typed model is built (:mod:`.loader_build`): rules that name missing columns are
refused, and every feature we do not evaluate becomes a warning on ``Contract.warnings``.
"""

from __future__ import annotations

import collections
import hashlib
import os
import threading
from typing import Any

import yaml

from airflow_dataops.contracts import odcs_versions
from airflow_dataops.contracts.loader_build import ModelBuilder
from airflow_dataops.contracts.loader_checks import RuleChecks
from airflow_dataops.contracts.model import Contract
from airflow_dataops.contracts.paths import PathParts, format_path
from airflow_dataops.contracts.safe_yaml import YamlLimits, YamlRefused, compose, construct, decode
from airflow_dataops.exceptions import ContractError

__all__ = [
    "CACHE_SIZE",
    "clear_contract_cache",
    "format_path",
    "load_contract",
    "odcs_json_schema",
    "parse_contract",
]

#: The latest ODCS JSON Schema (kept for callers that want "the" schema).
odcs_json_schema = odcs_versions.odcs_json_schema

#: How many loaded contracts :func:`load_contract` keeps (least recently used dropped first).
CACHE_SIZE = 64
_cache: collections.OrderedDict[tuple[str, bytes, YamlLimits], Contract] = collections.OrderedDict()
_cache_lock = threading.Lock()


def clear_contract_cache() -> None:
    """Forget every contract :func:`load_contract` has cached."""
    with _cache_lock:
        _cache.clear()


def load_contract(path: str | os.PathLike[str]) -> Contract:
    """Read and validate the ODCS contract at ``path``.

    The file is read every time; parsing and validation are cached by the SHA-256 of its bytes, the
    path as given (errors and ``Contract.source`` name it) and the ``[dataops] contract_max_*``
    limits, for the last :data:`CACHE_SIZE` contracts.  A hit returns the same :class:`Contract`
    object, which is immutable throughout (frozen dataclasses, tuples, :func:`~.model.freeze`).
    An invalid contract is not cached: it is parsed again and raises the same error each time.

    :raises ContractError: the file cannot be read, is not valid YAML, breaks the ODCS JSON Schema,
        or has a rule we cannot evaluate as written.
    """
    source = os.fspath(path)
    limits = YamlLimits.from_settings()
    try:  # never more than the limit, whatever the path is (a FIFO or /dev/zero has no size)
        with open(source, "rb") as f:
            data = f.read(limits.max_bytes + 1)
    except OSError as e:
        raise ContractError(f"cannot read the contract file: {e.strerror or e}", file=source) from e
    if len(data) > limits.max_bytes:
        raise ContractError(
            f"the file is larger than the limit of {limits.max_bytes} bytes "
            "([dataops] contract_max_bytes); split the contract or raise the limit",
            file=source,
        )
    key = (source, hashlib.sha256(data).digest(), limits)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    try:
        text = decode(data)
    except YamlRefused as e:
        raise ContractError(f"the file {e.message}", file=source, line=e.line) from None
    contract = parse_contract(text, source=source, limits=limits)
    with _cache_lock:
        _cache[key] = contract
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return contract


def parse_contract(text: str, *, source: str, limits: YamlLimits | None = None) -> Contract:
    """Parse and validate contract YAML ``text``; ``source`` names it in error messages.

    :param limits: size, depth and expansion limits (default: the ``[dataops] contract_max_*`` options).
    """
    return _Parser(text, source, limits or YamlLimits.from_settings()).parse()


class _Parser(RuleChecks, ModelBuilder):
    def __init__(self, text: str, source: str, limits: YamlLimits):
        self.text = text
        self.source = source
        self.limits = limits
        self.root: yaml.Node | None = None
        self.warnings: list[str] = []

    # -- errors and lines ---------------------------------------------------------------------
    def line(self, parts: PathParts) -> int | None:
        """1-based line of the node at ``parts``, or of its deepest existing ancestor."""
        node = self.root
        if node is None:
            return None
        for part in parts:
            child = None
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                child = next((v for k, v in node.value if k.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                child = node.value[part]
            if child is None:
                break
            node = child
        return node.start_mark.line + 1

    def error(self, message: str, parts: PathParts) -> ContractError:
        return ContractError(
            message, file=self.source, path=format_path(parts) or None, line=self.line(parts)
        )

    # -- passes ----------------------------------------------------------------------------------
    def parse(self) -> Contract:
        try:
            self.root = compose(self.text, self.limits)
            data = construct(self.root, self.text)
        except YamlRefused as e:
            raise ContractError(
                f"not accepted as YAML: the document {e.message}", file=self.source, line=e.line
            ) from None
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark else None
            raise ContractError(
                f"not valid YAML: {e.problem or e}; fix the syntax on that line", file=self.source, line=line
            ) from e
        except yaml.YAMLError as e:  # e.g. ReaderError: a NUL or other non-printable character
            line = self.text.count("\n", 0, getattr(e, "position", 0) or 0) + 1
            raise ContractError(
                f"not valid YAML: {getattr(e, 'reason', None) or e} (character #x{getattr(e, 'character', 0):04x}); "
                "remove it",
                file=self.source,
                line=line,
            ) from e
        data = _join_surrogates(data)
        if not isinstance(data, dict):
            raise ContractError(
                f"a contract must be a YAML mapping with apiVersion, kind, id, version and status, "
                f"got {type(data).__name__}",
                file=self.source,
                line=1,
            )
        try:
            version = odcs_versions.schema_for(data.get("apiVersion"))
        except ValueError as e:
            raise self.error(str(e), ["apiVersion"]) from None
        self.check_names(data)
        if version in odcs_versions.V30:  # its own schema first: our checks read v3.1 forms
            self.check_json_schema(data, version)
            self.warnings += odcs_versions.upgrade_v30(data, fail=self.error)
            self.check_quality_rules(data)
        else:
            self.check_quality_rules(data)
            self.check_json_schema(data, version)
        for key in ("id", "version"):  # they key the ledger, the results and lineage: never blank
            if not str(data[key]).strip():
                raise self.error(f"{key} is blank; give the contract a non-empty {key}", [key])
        return self.build(data)

    def check_json_schema(self, data: dict[str, Any], version: str) -> None:
        """Validate ``data`` against the JSON Schema of ``version``; the best error is raised."""
        import jsonschema

        validator = odcs_versions.validator(version)
        errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), str(e.path)))
        if not errors:
            return
        best = jsonschema.exceptions.best_match(errors)
        parts = list(best.absolute_path)
        message = best.message
        if best.validator in ("unevaluatedProperties", "additionalProperties") and isinstance(
            best.instance, dict
        ):
            allowed = set((best.schema.get("properties") or {}).keys())
            extra = sorted(k for k in best.instance if k not in allowed)
            if extra and best.validator == "additionalProperties":
                parts.append(extra[0])
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        hint = odcs_versions.fix_hint(version, message, str(best.validator))
        raise self.error(f"does not follow the ODCS {version} JSON Schema: {message}{more}{hint}", parts)


def _join_surrogates(value: Any) -> Any:
    """PyYAML decodes a JSON-style escape of an astral character ("\\ud83d\\ude42") into two lone
    surrogates; join them back into the one character the author wrote."""
    if isinstance(value, str):
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {_join_surrogates(k): _join_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_join_surrogates(v) for v in value]
    return value
