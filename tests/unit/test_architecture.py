"""The import rules of docs/architecture.md, checked over the package with ``ast``.

Every module of ``airflow_dataops`` belongs to a unit (its sub-package, or for a top-level module
the module itself), every unit to one layer. A module may import from its own unit and from
units of LOWER layers only: an import of a higher layer ("upward") or of another unit of the
same layer ("sideways") fails here, wherever it stands (module level, inside a function, under
``TYPE_CHECKING``), unless ``ALLOWED`` lists that exact edge with its reason. A new package
must be placed in a layer before it can import anything. The layers are the ones the code had
when the rule was written (#19); docs/architecture.md shows the same table, and a test keeps the
two equal.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_dataops"

#: Lowest first. A unit may import its own modules and those of every layer below its own.
LAYERS: list[tuple[str, frozenset[str]]] = [
    ("foundation", frozenset({"exceptions", "clock", "get_provider_info"})),
    ("settings", frozenset({"config"})),
    ("warehouse", frozenset({"warehouse", "duckdb_dialect"})),
    ("store", frozenset({"store"})),
    ("partitions", frozenset({"partitions"})),
    ("contracts", frozenset({"contracts"})),
    ("slo and lineage", frozenset({"slo", "lineage"})),
    ("read models", frozenset({"report", "triage"})),
    ("write-audit-publish", frozenset({"wap"})),
    ("airflow runtime", frozenset({"callbacks", "triggers", "notifications"})),
    ("airflow shells", frozenset({"operators", "sensors", "plugins", "cli"})),
    ("taskflow", frozenset({"decorators"})),
]

#: Edges that break the rule on purpose: (importing module, imported module) -> why.
ALLOWED: dict[tuple[str, str], str] = {
    (
        "airflow_dataops.contracts.diff",
        "airflow_dataops.slo.diff",
    ): "a contract's compatibility diff covers its customProperties dataops.slo block, whose meaning "
    "(and so what counts as breaking) slo.spec owns; imported inside diff_contracts, and slo.diff "
    "imports nothing of contracts.diff, so there is no cycle. Goes when `contract diff` composes "
    "the two diffs in cli/.",
}

#: Modules outside the rule: the package root only names things lazily (``_LAZY`` strings) and
#: imports them for type checkers; it is the top of every layer by construction.
EXEMPT = {PACKAGE}


def layer_of(unit: str) -> int | None:
    for i, (_, units) in enumerate(LAYERS):
        if unit in units:
            return i
    return None


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of the package in a module, wherever it stands."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            if target == PACKAGE:  # `from airflow_dataops import x`: a sub-module, or a lazy name
                found += [(node.lineno, f"{PACKAGE}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, target))
    return found


def violations(root: Path, allowed: dict[tuple[str, str], str] | None = None) -> list[str]:
    """Every import in ``root/airflow_dataops`` that breaks the layer rule, one line each."""
    allowed = ALLOWED if allowed is None else allowed
    out: list[str] = []
    present = {
        p.name.removesuffix(".py") for p in (root / PACKAGE).iterdir() if p.is_dir() or p.suffix == ".py"
    }
    for path in sorted((root / PACKAGE).rglob("*.py")):
        module = _module_name(path, root)
        if module in EXEMPT:
            continue
        unit = _unit(module)
        assert unit is not None
        mine = layer_of(unit)
        where = f"{path.relative_to(root)}"
        if mine is None:
            out.append(f"{where}: {unit!r} is in no layer: place it in LAYERS and docs/architecture.md")
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, target in _imports(tree, module, path.name == "__init__.py"):
            other = _unit(target)
            if other is None or other not in present:  # `from airflow_dataops import StateStore`
                out.append(
                    f"{where}:{line}: imports from the package root: import from the name's home module"
                )
                continue
            if other == unit or (module, target) in allowed:
                continue
            theirs = layer_of(other)
            if theirs is None:
                out.append(f"{where}:{line}: imports {target}, whose {other!r} is in no layer")
            elif theirs > mine:
                out.append(
                    f"{where}:{line}: {unit} ({LAYERS[mine][0]}) imports {target} ({LAYERS[theirs][0]}): upward"
                )
            elif theirs == mine:
                out.append(
                    f"{where}:{line}: {unit} imports {target}: sideways within the {LAYERS[mine][0]} layer"
                )
    return out


# ------------------------------------------------------------------------------------ tests
def test_no_module_imports_upward_or_sideways() -> None:
    assert violations(ROOT) == []


def test_every_allowed_edge_still_exists() -> None:
    """An exception whose import is gone must leave the list, or it will excuse the next one."""
    edges = set()
    for path in (ROOT / PACKAGE).rglob("*.py"):
        module = _module_name(path, ROOT)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges |= {(module, target) for _, target in _imports(tree, module, path.name == "__init__.py")}
    assert set(ALLOWED) <= edges, set(ALLOWED) - edges


def _plant(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / PACKAGE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checker_catches_planted_violations(tmp_path: Path) -> None:
    _plant(
        tmp_path,
        {
            "__init__.py": "from airflow_dataops.operators.gate import X  # the root is exempt\n",
            "exceptions.py": "",
            "store/__init__.py": "",
            "store/engine.py": (
                "from typing import TYPE_CHECKING\n"
                "from airflow_dataops.exceptions import DataOpsError  # downward: fine\n"
                "from . import tables  # its own unit: fine\n"
                "if TYPE_CHECKING:\n"
                "    from airflow_dataops.operators.gate import ContractGateOperator\n"
            ),
            "store/tables.py": "",
            "slo/__init__.py": "",
            "slo/evaluator.py": "def f():\n    from ..lineage import facets\n",
            "lineage/__init__.py": "",
            "lineage/facets.py": "",
            "operators/__init__.py": "",
            "operators/gate.py": "import airflow_dataops.decorators.partitioned\n",
            "decorators/__init__.py": "",
            "decorators/partitioned.py": "from airflow_dataops import StateStore\n",
            "newthing/__init__.py": "",
        },
    )
    assert violations(tmp_path, allowed={}) == [
        "airflow_dataops/decorators/partitioned.py:1: imports from the package root: "
        "import from the name's home module",
        "airflow_dataops/newthing/__init__.py: 'newthing' is in no layer: place it in LAYERS and "
        "docs/architecture.md",
        "airflow_dataops/operators/gate.py:1: operators (airflow shells) imports "
        "airflow_dataops.decorators.partitioned (taskflow): upward",
        "airflow_dataops/slo/evaluator.py:2: slo imports airflow_dataops.lineage: sideways "
        "within the slo and lineage layer",
        "airflow_dataops/store/engine.py:5: store (store) imports airflow_dataops.operators.gate "
        "(airflow shells): upward",
    ]
    # an allowed edge is excused, and only that edge
    allowed = {("airflow_dataops.store.engine", "airflow_dataops.operators.gate"): "planted"}
    assert not any("store/engine.py" in v for v in violations(tmp_path, allowed=allowed))
    assert len(violations(tmp_path, allowed=allowed)) == 4


def test_the_architecture_page_shows_the_same_layers() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \| ([^|]+) \|", page, flags=re.M)
    shown = [(name.strip(), frozenset(re.findall(r"`([a-z_]+)`", units))) for _, name, units in rows]
    assert shown == LAYERS
    for (importer, imported), _why in ALLOWED.items():
        assert f"`{importer}` → `{imported}`" in page, "every allowed edge is named in the page"
