"""The repository stands alone: nothing in it reads outside the checkout, or names a machine's paths.

A user's ``git clone`` has nothing beside it and lives at a path of their choosing, so a tracked
file (code, tests, scripts, benchmarks, the Makefile, CI, docs) that names a directory beside the
checkout, or an absolute path of the machine that wrote it, breaks there or tells them something
untrue. What the suite needs from outside is vendored under
``tests/spec/`` (see its README).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Spelled in pieces so that this file does not match its own patterns.
_SHARED = "sha" + "red"
FORBIDDEN = [
    (re.compile(r"\.\./" + _SHARED), "a sibling directory outside the checkout"),
    (re.compile(_SHARED + r"/spec"), "the shared spec directory (vendored under tests/spec/ instead)"),
    (
        re.compile(r"(?:parents\[[0-9]\]|\.parent) */ *[\"']" + _SHARED + "[\"']"),
        "a directory beside the checkout",
    ),
    (re.compile(r"/work/" + r"(?:main|" + _SHARED + r")\b"), "an absolute path of the machine that wrote it"),
]


def tracked_files() -> list[Path]:
    if shutil.which("git") and (ROOT / ".git").exists():
        out = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True, timeout=60
        ).stdout
        return [ROOT / name for name in out.decode().split("\0") if name]
    skip = {".git", ".venv", ".demo", ".test-artifacts", "__pycache__", ".mypy_cache", ".ruff_cache"}
    return [
        p
        for p in ROOT.rglob("*")
        if p.is_file() and not skip.intersection(p.relative_to(ROOT).parts) and ".egg-info" not in str(p)
    ]


def offences(files: list[Path], root: Path) -> list[str]:
    """``path:line: text (why)`` for every line of ``files`` naming a place outside ``root``."""
    patterns = [
        *FORBIDDEN,
        (re.compile(re.escape(str(root)) + r"(?![\w.-])"), "this checkout's absolute path"),
    ]
    found = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary (images), or deleted in the work tree
        for lineno, line in enumerate(text.splitlines(), start=1):
            why = [why for pattern, why in patterns if pattern.search(line)]
            if why:
                found.append(f"{path.relative_to(root)}:{lineno}: {line.strip()[:120]} ({'; '.join(why)})")
    return found


def test_no_tracked_file_reads_outside_the_repository() -> None:
    files = tracked_files()
    assert len(files) > 50, f"found only {len(files)} files under {ROOT}"
    assert offences(files, ROOT) == []


@pytest.mark.parametrize(
    "line",
    [
        pytest.param('SPEC = ROOT.parent / "' + _SHARED + '" / "spec"', id="sibling-dir"),
        pytest.param("glob('/work/" + _SHARED + "/spec/odcs/examples/*.yaml')", id="absolute-shared"),
        pytest.param(
            "cd /work/" + "main && .venv/bin/python -m bench.bench_contracts", id="absolute-checkout"
        ),
        pytest.param("spec = '../" + _SHARED + "/x.json'", id="dot-dot"),
        pytest.param('Path(__file__).parents[3] / "' + _SHARED + '"', id="parents"),
    ],
)
def test_the_check_catches(tmp_path: Path, line: str) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(f"# fine\n{line}\n")
    assert [o.split(": ", 1)[0] for o in offences([bad], tmp_path)] == ["bad.py:2"]


def test_the_check_catches_this_checkouts_path(tmp_path: Path) -> None:
    doc = tmp_path / "docs.md"
    doc.write_text(f"run `cd {tmp_path} && make bench`\nrun `.venv/bin/python -m bench.x`\n")
    assert [o.split(": ", 1)[0] for o in offences([doc], tmp_path)] == ["docs.md:1"]


def test_the_vendored_specs_are_there_with_their_licences() -> None:
    spec = ROOT / "tests" / "spec"
    assert (spec / "README.md").is_file()
    for name in ("openlineage", "odcs"):
        assert (spec / name / "LICENSE").read_text().lstrip().startswith("Apache License")
    assert (spec / "openlineage" / "OpenLineage.json").is_file()
    assert len(list((spec / "openlineage" / "facets").glob("*.json"))) >= 30
    assert len(list((spec / "odcs" / "examples").glob("*.odcs.yaml"))) >= 9
