"""No module of the package imports another module's private (``_``-named) name (#19).

A name two modules share is public in its home: ``from airflow_dataops.partitions.writer import
_ensure_quarantine`` hid that the quarantine had two homes.  Dunder names are not private.
``LEFT`` is where an import waiting for its restructuring would be listed, with what it waits
for; it is empty, and a new private import fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_dataops"

#: (importing module, imported module, name) -> why it is still there.  Remove a line when its
#: import goes; do not add one: make the name public in its home instead.
LEFT: dict[tuple[str, str, str], str] = {}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def private_imports(root: Path) -> list[tuple[str, str, str, int]]:
    """(importing module, imported module, name, line) of every private name imported across modules."""
    out = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        module = _module_name(path, root)
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:  # relative: resolve against this module's package
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE or target == module:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    out.append((module, target, alias.name, node.lineno))
    return out


def test_no_module_imports_another_modules_private_name() -> None:
    found = [
        f"{importer}:{line} imports {name} from {home}: make it public in {home}"
        for importer, home, name, line in private_imports(ROOT)
        if (importer, home, name) not in LEFT
    ]
    assert found == []


def test_the_checker_catches_a_planted_private_import(tmp_path: Path) -> None:
    files = {
        "a/__init__.py": "from .b import _shared  # its own package, but another module\n",
        "a/b.py": "def _shared(): ...\n",
        "a/c.py": "def f():\n    from airflow_dataops.a.b import __version__, _shared, public\n",
        "a/d.py": "from airflow_dataops.a.d import _self  # a module importing itself is not across modules\n",
    }
    for rel, text in files.items():
        path = tmp_path / PACKAGE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert private_imports(tmp_path) == [
        ("airflow_dataops.a", "airflow_dataops.a.b", "_shared", 1),
        ("airflow_dataops.a.c", "airflow_dataops.a.b", "_shared", 2),
    ]
