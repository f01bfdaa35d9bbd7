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
    with _server("DATAOPS_TEST_PG_URL", "pg.sh", state) as url:
        yield url


@contextlib.contextmanager
def mariadb(state: Path) -> Iterator[str]:
    """A MariaDB server URL: ``DATAOPS_TEST_MYSQL_URL`` if set, else a throwaway server started by
    ``scripts/mariadb.sh`` (in a private directory under the system temp dir), recorded in the file
    ``state``, stopped and removed on exit."""
    with _server("DATAOPS_TEST_MYSQL_URL", "mariadb.sh", state) as url:
        yield url


@contextlib.contextmanager
def _server(env: str, script_name: str, state: Path) -> Iterator[str]:
    """``$env`` if set, else the URL a ``scripts/<script_name> start`` server prints last; stopped on exit."""
    url = os.environ.get(env)
    if url:
        yield url
        return
    script = str(ROOT / "scripts" / script_name)
    state.parent.mkdir(parents=True, exist_ok=True)
    started = subprocess.run(
        ["bash", script, "start", str(state)], capture_output=True, text=True, check=True, timeout=300
    )
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", script, "stop", str(state)], timeout=120, check=False)


# ------------------------------------------------------------- gate-against-floor benchmarks
def gate_sql(engine: Any, run: Callable[[], Any], *, table: str = "flights") -> str:
    """The aggregate query the gate sent while ``run()`` ran (its statement and bound parameters)."""
    import sqlalchemy as sa

    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if table in statement and "count(" in statement.lower():
            sent.append(" ".join(statement.split()) + f"\n-- parameters: {parameters}")

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return "\n".join(sent)


def check_floor(
    name: str, floor_row: Sequence[Any], gate_figures: list[Any], report: Any, now: datetime
) -> None:
    """A floor query's row (counts, then ``MAX(time_hour)``) computes exactly the gate's figures
    (``gate_figures``, and the latency rule's days as the gate computed them), or its time means nothing."""
    newest = floor_row[-1]
    if not isinstance(newest, datetime):
        newest = datetime.fromisoformat(str(newest).replace("Z", "+00:00"))
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=timezone.utc)
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    latency = next(r for r in report.results if r.name == "flights.time_hour.latency")
    floor_latency = round((now - newest).total_seconds() / 86400, 3)
    counts = [int(v or 0) for v in floor_row[:-1]]
    if counts != gate_figures or floor_latency != latency.actual:
        raise RuntimeError(
            f"{name}: the floor and the gate disagree: floor {counts} (latency {floor_latency}) vs gate "
            f"{gate_figures} (latency {latency.actual})"
        )
