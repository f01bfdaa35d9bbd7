"""The documentation is tested like code.

* Every fenced code block whose info string is ``bash runnable`` or ``python runnable`` in
  ``docs/*.md`` and ``README.md`` runs here: Python with the venv's interpreter, bash with
  ``bash -euo pipefail`` and the venv's ``bin/`` first on ``PATH``; cwd the repository root,
  ``AIRFLOW_HOME`` and the dataops store in a fresh temporary directory, a bounded timeout.
* Every relative markdown link resolves to an existing file, and every ``#anchor`` to a
  heading of its target (GitHub's slugs); external ``http(s)`` links are checked for syntax
  only (no network here).
* ``docs/cli.md`` equals what ``scripts/gen_cli_docs.py`` generates from Airflow's parser, and
  ``docs/reference.md`` what ``scripts/gen_reference_docs.py`` generates from the public API.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = (
    ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin" / "python").exists() else Path(sys.executable).parent
)
RUNNABLE_LANGS = ("bash", "python")
BLOCK_TIMEOUT = 240  # seconds; one `airflow …` call costs ~10 s (imports) on this machine

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_LINK = re.compile(r"(?<!\\)!?\[(?P<text>[^\]]*)\]\((?P<target><[^>]*>|[^)\s]*)(?:\s+\"[^\"]*\")?\)")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(?P<text>.*?)\s*#*\s*$")


def doc_files() -> list[Path]:
    return [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    info: str
    code: str

    @property
    def lang(self) -> str:
        return self.info.split()[0] if self.info.split() else ""

    @property
    def runnable(self) -> bool:
        words = self.info.split()
        return len(words) == 2 and words[1] == "runnable" and words[0] in RUNNABLE_LANGS

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}-{self.lang}"


def parse_blocks(path: Path, text: str | None = None) -> tuple[list[Block], list[tuple[int, str]]]:
    """Fenced code blocks, and the (line number, line) pairs outside them (CommonMark fences)."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[Block] = []
    prose: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or (m["fence"][0] == "`" and "`" in m["info"]):
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        fence, start, body = m["fence"], i, []
        i += 1
        while i < len(lines):
            close = _FENCE.match(lines[i])
            if (
                close
                and close["fence"][0] == fence[0]
                and len(close["fence"]) >= len(fence)
                and not close["info"].strip()
            ):
                break
            body.append(
                lines[i][len(m["indent"]) :] if lines[i].startswith(m["indent"]) else lines[i].lstrip()
            )
            i += 1
        blocks.append(Block(path, start + 1, m["info"].strip(), "\n".join(body) + "\n"))
        i += 1  # past the closing fence (or the end of the file: an unclosed fence runs to the end)
    return blocks, prose


def runnable_blocks() -> list[Block]:
    return [b for p in doc_files() if p.exists() for b in parse_blocks(p)[0] if b.runnable]


def slugify(heading: str) -> str:
    """GitHub's anchor for a heading: links reduced to their text, lowercased, punctuation dropped."""
    text = _LINK.sub(lambda m: m["text"], heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out: set[str] = set()
    for _, line in parse_blocks(path)[1]:
        m = _HEADING.match(line)
        if not m:
            continue
        slug = slugify(m["text"])
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    for m in re.finditer(r'<a\s+(?:name|id)="([^"]+)"', path.read_text(encoding="utf-8")):
        out.add(m.group(1))
    return out


def links(path: Path) -> list[tuple[int, str]]:
    out = []
    for lineno, line in parse_blocks(path)[1]:
        for m in _LINK.finditer(_INLINE_CODE.sub("", line)):
            out.append((lineno, m["target"].strip("<>")))
    return out


def block_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "airflow"
    home.mkdir()
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__DATAOPS__STORE_URL": f"sqlite:///{tmp_path / 'dataops.db'}",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("PYTHONPATH", None)
    return env


# ------------------------------------------------------------------------------ the parser
def test_fence_parser_finds_runnable_blocks_and_ignores_the_rest(tmp_path: Path) -> None:
    text = (
        "# Title\n\n```bash runnable\necho one\n```\n\n"
        "````markdown\n```python runnable\nnot a block\n```\n````\n\n"
        "~~~python runnable\nprint(2)\n~~~\n\n```bash\necho not runnable\n```\n"
        "```bash runnable extra\necho not runnable either\n```\n"
    )
    blocks, prose = parse_blocks(tmp_path / "x.md", text)
    assert [(b.line, b.info, b.runnable) for b in blocks] == [
        (3, "bash runnable", True),
        (7, "markdown", False),
        (13, "python runnable", True),
        (17, "bash", False),
        (20, "bash runnable extra", False),
    ]
    assert blocks[2].code == "print(2)\n"
    assert (1, "# Title") in prose
    assert all("not a block" not in line for _, line in prose)


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        pytest.param("Quick start", "quick-start", id="words"),
        pytest.param("`airflow dataops partitions rerun`", "airflow-dataops-partitions-rerun", id="code"),
        pytest.param("1. Breach on the SLO page", "1-breach-on-the-slo-page", id="punctuation"),
        pytest.param("Gate, publish & ledger", "gate-publish--ledger", id="ampersand"),
        pytest.param("See [the runbook](runbook.md)", "see-the-runbook", id="link"),
    ],
)
def test_slugs_follow_github(heading: str, slug: str) -> None:
    assert slugify(heading) == slug


def test_the_docs_hold_runnable_blocks_of_both_kinds() -> None:
    """Guards the parser and the convention: if this drops to zero, nothing is being executed."""
    langs = {b.lang for b in runnable_blocks()}
    assert langs == set(RUNNABLE_LANGS), langs


def test_the_marking_convention_is_documented() -> None:
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert "`bash runnable`" in index and "`python runnable`" in index


# --------------------------------------------------------------------------- runnable blocks
@pytest.mark.slow
@pytest.mark.parametrize("block", runnable_blocks(), ids=lambda b: b.id)
def test_runnable_block(block: Block, tmp_path: Path) -> None:
    script = tmp_path / ("block.py" if block.lang == "python" else "block.sh")
    script.write_text(block.code, encoding="utf-8")
    if block.lang == "python":
        cmd = [str(VENV_BIN / "python"), str(script)]
    else:
        cmd = ["bash", "-euo", "pipefail", str(script)]
    try:
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            env=block_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{block.id}: still running after {BLOCK_TIMEOUT} s\n{e.stdout or ''}{e.stderr or ''}")
    assert proc.returncode == 0, (
        f"{block.id} exited {proc.returncode}\n--- code\n{block.code}--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
    )


# ------------------------------------------------------------------------------------ links
@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(path: Path) -> None:
    broken = []
    for lineno, target in links(path):
        where = f"{path.relative_to(ROOT)}:{lineno}: {target}"
        parsed = urlparse(target)
        if parsed.scheme in ("http", "https"):
            if not parsed.netloc or " " in target or "." not in parsed.netloc:
                broken.append(f"{where}: not a well-formed URL")
            continue
        if parsed.scheme == "mailto":
            continue
        if parsed.scheme or target.startswith("//"):
            broken.append(f"{where}: only relative paths and http(s) URLs are allowed")
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not dest.exists():
            broken.append(
                f"{where}: {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest} does not exist"
            )
            continue
        if anchor:
            if dest.is_dir() or dest.suffix != ".md":
                broken.append(f"{where}: an anchor into a file that is not markdown")
            elif unquote(anchor) not in anchors(dest):
                broken.append(f"{where}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_every_doc_is_reachable_from_the_index() -> None:
    """docs/index.md is the table of contents: a page it does not link is a page nobody finds."""
    linked = {(ROOT / "docs" / t.partition("#")[0]).resolve() for _, t in links(ROOT / "docs" / "index.md")}
    orphans = [
        p.name for p in sorted((ROOT / "docs").glob("*.md")) if p.name != "index.md" and p not in linked
    ]
    assert not orphans, f"docs/index.md does not link: {', '.join(orphans)}"


# -------------------------------------------------------------------------- generated pages
def _assert_generated(script: str, page: str, tmp_path: Path) -> str:
    """The committed ``docs/<page>`` equals what ``scripts/<script>`` prints; returns the page."""
    proc = subprocess.run(
        [str(VENV_BIN / "python"), str(ROOT / "scripts" / script)],
        cwd=ROOT,
        env=block_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    current = (ROOT / "docs" / page).read_text(encoding="utf-8")
    if current != proc.stdout:
        diff = "".join(
            difflib.unified_diff(
                current.splitlines(True), proc.stdout.splitlines(True), f"docs/{page}", "generated"
            )
        )
        pytest.fail(f"docs/{page} is stale: run `python scripts/{script} --write`\n{diff}")
    return current


@pytest.mark.slow
def test_cli_reference_is_generated_from_the_parser(tmp_path: Path) -> None:
    _assert_generated("gen_cli_docs.py", "cli.md", tmp_path)


@pytest.mark.slow
def test_api_reference_is_generated_from_the_public_surface(tmp_path: Path) -> None:
    current = _assert_generated("gen_reference_docs.py", "reference.md", tmp_path)
    import airflow_dataops

    for name in airflow_dataops.DAG_FACING:  # every DAG-facing name has its own section
        assert f"### `{name}`" in current, name
    assert "### `@task.partitioned`" in current


def test_the_reference_generator_turns_rest_into_markdown() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from gen_reference_docs import docstring_markdown
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    doc = """Do a thing with :class:`~airflow_dataops.store.StateStore` and ``x``.

    Example::

        run(x=1)

    ``log``
        one line.

    :param x: the value,
        over two lines.
    :raises ValueError: when ``x`` is | odd.
    """
    assert docstring_markdown(doc).splitlines() == [
        "Do a thing with `StateStore` and `x`.",
        "",
        "Example:",
        "",
        "```python",
        "run(x=1)",
        "```",
        "",
        "- `log`: one line.",
        "",
        "| parameter | meaning |",
        "|---|---|",
        "| `x` | the value, over two lines. |",
        "",
        "Raises `ValueError`: when `x` is | odd.",
    ]
