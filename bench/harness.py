"""Shared benchmark harness: timing helpers and the one writer of ``docs/benchmarks.md``.

Each benchmark owns one section of ``docs/benchmarks.md``, delimited by
``<!-- bench:NAME -->`` … ``<!-- /bench:NAME -->``; :func:`write_section` replaces that
section (or appends it) and leaves the others alone, so benchmarks can run one at a time.
Figures are measured, never typed in: a section is only ever written by its benchmark.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
_HEADER = """# Benchmarks

Every figure below is written by a benchmark harness in `bench/` when it runs (`make bench`),
never typed by hand. Each section says the command that produced it, the machine, and the date.
Comparisons are side by side in one run, on the same data, reported as ratios.
"""


def machine() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}"


def revision() -> str:
    """`` at commit abc1234`` (and whether the measured code had uncommitted changes), or ``""`` without git."""
    git = ["git", "-C", str(ROOT)]
    try:
        commit = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no", "--", "airflow_dataops", "bench", "dags"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    changes = " with uncommitted changes to the measured code" if dirty.stdout.strip() else ""
    return f" at commit `{commit.stdout.strip()}`{changes}"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def repeat(fn: Callable[[], Any], rounds: int) -> list[float]:
    return [timed(fn)[0] for _ in range(rounds)]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def write_section(name: str, body: str, *, command: str, path: Path = BENCHMARKS_MD) -> Path:
    """Replace (or add) the section ``name`` of docs/benchmarks.md with ``body``.

    ``command`` is how a reader reproduces it, run from the repository root: a relative command
    (``.venv/bin/python -m bench.NAME``), never an absolute path of the machine that measured it.
    """
    if any(word.startswith(("/", "~")) for word in command.split()):
        msg = (
            f"write_section({name!r}): command {command!r} names an absolute path; "
            "give the command relative to the repository root, e.g. '.venv/bin/python -m bench.bench_x'"
        )
        raise ValueError(msg)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"<!-- bench:{name} -->\n{body.rstrip()}\n\n"
        f"_Measured {stamp} on {machine()}{revision()} by `{command}`._\n<!-- /bench:{name} -->"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text() if path.exists() else _HEADER
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
    return path


@contextlib.contextmanager
def postgres(state: Path) -> Iterator[str]:
    """A PostgreSQL server URL: ``DATAOPS_TEST_PG_URL`` if set, else a throwaway cluster started by
    ``scripts/pg.sh`` (in a private directory under the system temp dir), recorded in the file
    ``state``, stopped and removed on exit."""
    url = os.environ.get("DATAOPS_TEST_PG_URL")
    if url:
        yield url
        return
    pg_sh = str(ROOT / "scripts" / "pg.sh")
    state.parent.mkdir(parents=True, exist_ok=True)
    started = subprocess.run(
        ["bash", pg_sh, "start", str(state)], capture_output=True, text=True, check=True, timeout=300
    )
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", pg_sh, "stop", str(state)], timeout=120, check=False)


@contextlib.contextmanager
def mariadb(state: Path) -> Iterator[str]:
    """A MariaDB server URL: ``DATAOPS_TEST_MYSQL_URL`` if set, else a throwaway server started by
    ``scripts/mariadb.sh`` (in a private directory under the system temp dir), recorded in the file
    ``state``, stopped and removed on exit."""
    url = os.environ.get("DATAOPS_TEST_MYSQL_URL")
    if url:
        yield url
        return
    script = str(ROOT / "scripts" / "mariadb.sh")
    state.parent.mkdir(parents=True, exist_ok=True)
    started = subprocess.run(
        ["bash", script, "start", str(state)], capture_output=True, text=True, check=True, timeout=300
    )
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", script, "stop", str(state)], timeout=120, check=False)
