"""The command line every generated page shares: print it, ``--write`` it, or ``--check`` it.

Used by ``gen_cli_docs.py`` (docs/cli.md) and ``gen_reference_docs.py`` (docs/reference.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None, *, target: Path, render: Callable[[], str], source: str, script: str) -> int:
    """Print the page; ``--write`` rewrites ``target``; ``--check`` exits 1 when it is stale."""
    rel = target.relative_to(ROOT)
    ap = argparse.ArgumentParser(description=f"Generate {rel} from {source}.")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"write {rel}")
    mode.add_argument("--check", action="store_true", help=f"exit 1 when the file differs from {source}")
    args = ap.parse_args(argv)
    page = render()
    if args.write:
        target.write_text(page, encoding="utf-8")
        print(f"wrote {rel}")
        return 0
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != page:
            print(f"{rel} is stale: run python scripts/{script} --write", file=sys.stderr)
            return 1
        print(f"{rel} is up to date")
        return 0
    sys.stdout.write(page)
    return 0
