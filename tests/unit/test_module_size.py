"""A module over 400 lines says why in its docstring (#19, docs/architecture.md "House rules").

The reason is a paragraph that starts ``Why one module of ~N lines:``.  A long module is then a
choice written down, not an accident; and a module that has grown well past the size its reason
was written for (more than a fifth over ``N``) fails again, so the reason is read once more.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_dataops"
LIMIT = 400
REASON = re.compile(r"Why one module of ~(\d+) lines:")


def long_modules_without_reason(root: Path) -> list[str]:
    out: list[str] = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines <= LIMIT:
            continue
        where = path.relative_to(root)
        found = REASON.search(ast.get_docstring(ast.parse(text, filename=str(path))) or "")
        if found is None:
            out.append(f"{where}: {lines} lines and no 'Why one module of ~N lines:' in its docstring")
        elif lines > int(found.group(1)) * 1.2:
            out.append(f"{where}: {lines} lines, its reason was written for ~{found.group(1)}: read it again")
    return out


def test_every_long_module_states_why() -> None:
    assert long_modules_without_reason(ROOT) == []


def test_the_check_catches_planted_long_modules(tmp_path: Path) -> None:
    pkg = tmp_path / PACKAGE / "a"
    pkg.mkdir(parents=True)
    body = "v = 1\n" * LIMIT
    (pkg / "short.py").write_text('"""Short."""\n' + "v = 1\n" * (LIMIT - 1), encoding="utf-8")
    (pkg / "silent.py").write_text('"""Long."""\n' + body, encoding="utf-8")
    (pkg / "stated.py").write_text(
        '"""Long.\n\nWhy one module of ~400 lines: one table.\n"""\n' + body, encoding="utf-8"
    )
    (pkg / "grown.py").write_text(
        '"""Long.\n\nWhy one module of ~300 lines: one table.\n"""\n' + body, encoding="utf-8"
    )
    assert long_modules_without_reason(tmp_path) == [
        "airflow_dataops/a/grown.py: 404 lines, its reason was written for ~300: read it again",
        "airflow_dataops/a/silent.py: 401 lines and no 'Why one module of ~N lines:' in its docstring",
    ]
