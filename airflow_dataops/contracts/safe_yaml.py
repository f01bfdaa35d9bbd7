"""YAML for untrusted files: bounded, strict, one-line errors with the line.

``yaml.safe_load`` is safe from code execution but not from a small file that expands into a
huge one (an alias "billion laughs": PyYAML shares aliased nodes while parsing, and the first
consumer that walks the result — JSON Schema validation, a copy, ``json.dumps`` — pays for every
expansion), from recursive aliases (a structure that contains itself), from nesting deep
enough to exhaust Python's stack, or from duplicate keys (PyYAML keeps the last one silently).
:func:`load_yaml` refuses each of them while composing, before anything is built:

* the text is larger than ``max_bytes``;
* nesting deeper than ``max_depth`` collections;
* more than ``max_nodes`` nodes once every alias is expanded (counted as the document is
  composed, so a bomb is refused after reading it once, not after expanding it);
* an alias to a node that is still being composed (recursion);
* a key given twice in one mapping (``<<`` merge keys may override, as YAML intends);
* integers too long for Python to convert, and text that is not UTF-8.

Limits come from ``[dataops] contract_max_bytes`` / ``contract_max_depth`` /
``contract_max_nodes`` (see :meth:`YamlLimits.from_settings`).  Dates and timestamps stay
text, as ODCS and its JSON Schema expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: Defaults of the ``[dataops] contract_max_*`` options.
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_NODES = 200_000


class YamlRefused(ValueError):
    """The YAML text is refused; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True, kw_only=True)
class YamlLimits:
    """Bounds on one YAML document (see the module doc)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_nodes: int = DEFAULT_MAX_NODES

    @classmethod
    def from_settings(cls) -> YamlLimits:
        """``[dataops] contract_max_bytes``, ``contract_max_depth``, ``contract_max_nodes`` (defaults when
        Airflow's configuration cannot be read, e.g. in a plain library call)."""
        try:
            from airflow.configuration import conf
        except Exception:
            return cls()
        values = {}
        for name, default in (
            ("max_bytes", DEFAULT_MAX_BYTES),
            ("max_depth", DEFAULT_MAX_DEPTH),
            ("max_nodes", DEFAULT_MAX_NODES),
        ):
            raw = conf.get("dataops", f"contract_{name}", fallback=str(default))
            try:
                values[name] = int(str(raw).strip() or default)
            except ValueError:
                from airflow_dataops.exceptions import ConfigError

                raise ConfigError(
                    f"[dataops] contract_{name}: {raw!r} is not a whole number "
                    f"(AIRFLOW__DATAOPS__CONTRACT_{name.upper()}); the default is {default}."
                ) from None
            if values[name] <= 0:
                from airflow_dataops.exceptions import ConfigError

                raise ConfigError(
                    f"[dataops] contract_{name}: must be positive, got {values[name]} "
                    f"(AIRFLOW__DATAOPS__CONTRACT_{name.upper()})."
                )
        return cls(**values)


def decode(data: bytes) -> str:
    """``data`` as UTF-8 text, or :class:`YamlRefused` naming the line and byte of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise YamlRefused(
            f"is not UTF-8 text: byte 0x{data[e.start]:02x} at offset {e.start} ({e.reason}); save the file as UTF-8",
            line=line,
        ) from None


def compose(text: str, limits: YamlLimits | None = None) -> Node | None:
    """The checked node tree of ``text`` (one document), or ``None`` for an empty document."""
    limits = limits or YamlLimits()
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise YamlRefused(
            f"is {size} bytes, more than the limit of {limits.max_bytes} "
            "([dataops] contract_max_bytes); split the contract or raise the limit",
            line=1,
        )
    loader = _Loader(text, limits)
    try:
        try:
            return loader.get_single_node()
        except RecursionError:
            raise YamlRefused(
                f"nests too deeply for the YAML parser; keep it within {limits.max_depth} levels", line=1
            ) from None
    finally:
        loader.dispose()


def construct(node: Node | None, text: str = "") -> Any:
    """Python values of a node tree from :func:`compose` (mappings, lists, str, int, float, bool, None)."""
    if node is None:
        return None
    loader = _Loader(text or "", YamlLimits())
    try:
        return loader.construct_document(node)
    except ValueError as e:  # e.g. an integer longer than Python converts (4300 digits)
        reason = str(e).split(";")[0].split(":")[0]
        raise YamlRefused(f"holds a value Python cannot read ({reason})", line=_line_of_error(node)) from None
    finally:
        loader.dispose()


def load_yaml(text: str, limits: YamlLimits | None = None) -> Any:
    """``yaml.safe_load`` with the module doc's limits and checks."""
    return construct(compose(text, limits), text)


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates and timestamps as strings and counts what it composes."""

    def __init__(self, stream: str, limits: YamlLimits):
        super().__init__(stream)
        self.limits = limits
        self.depth = 0
        self.expanded = 0
        self.sizes: dict[int, int] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Any:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            anchored = self.anchors.get(event.anchor)  # type: ignore[attr-defined]
            if anchored is not None:
                size = self.sizes.get(id(anchored))
                if size is None:
                    raise YamlRefused(
                        f"alias *{event.anchor} refers to a node that contains it (a recursive alias); "  # type: ignore[attr-defined]
                        "write the value out instead",
                        line=event.start_mark.line + 1,
                    )
                self._count(size, event.start_mark.line + 1)
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise YamlRefused(
                f"nests deeper than {self.limits.max_depth} levels ([dataops] contract_max_depth)",
                line=self.peek_event().start_mark.line + 1,
            )
        try:
            node: Any = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        if isinstance(node, ScalarNode):
            size = 1
        elif isinstance(node, SequenceNode):
            size = 1 + sum(self.sizes.get(id(child), 1) for child in node.value)
        else:
            size = 1 + sum(int(self.sizes.get(id(k), 1) + self.sizes.get(id(v), 1)) for k, v in node.value)
            self._check_duplicates(node)
        self.sizes[id(node)] = size
        self._count(1, node.start_mark.line + 1)
        return node

    def _count(self, n: int, line: int) -> None:
        self.expanded += n
        if self.expanded > self.limits.max_nodes:
            raise YamlRefused(
                f"expands to more than {self.limits.max_nodes} values (aliases counted each time they are used; "
                "[dataops] contract_max_nodes); an alias bomb, or a contract to split",
                line=line,
            )

    def _check_duplicates(self, node: MappingNode) -> None:
        seen: dict[tuple[str, str], Node] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue
            ident = (key.tag, key.value)
            if ident in seen:
                raise YamlRefused(
                    f"key {key.value!r} is given twice in one mapping (first on line "
                    f"{seen[ident].start_mark.line + 1}); keep one",
                    line=key.start_mark.line + 1,
                )
            seen[ident] = key


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _line_of_error(node: Node) -> int | None:
    """Line of the first scalar Python cannot convert (a huge integer), for the message."""
    stack = [node]
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, ScalarNode):
            if n.tag == "tag:yaml.org,2002:int" and len(n.value) > 4000:
                return n.start_mark.line + 1
        elif isinstance(n, SequenceNode):
            stack.extend(reversed(n.value))
        elif isinstance(n, MappingNode):
            for k, v in reversed(n.value):
                stack.extend((v, k))
    return node.start_mark.line + 1
