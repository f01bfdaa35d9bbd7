"""Readers of the warehouse the orders chain writes (tests/dags/dataops_orders_chain.py: ``orders``,
then ``daily_revenue`` built from it), shared by the staleness integration and e2e tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def revenue(wh: Path, key: str) -> tuple[Any, ...] | None:
    """What ``daily_revenue`` holds for the day ``key``: (orders, revenue rounded to cents)."""
    with sqlite3.connect(wh) as conn:
        return conn.execute(
            "SELECT orders, ROUND(revenue, 2) FROM daily_revenue WHERE order_date = ?", (key,)
        ).fetchone()


def recomputed(wh: Path, key: str) -> tuple[Any, ...]:
    """The same figures recomputed from ``orders`` as they are now."""
    with sqlite3.connect(wh) as conn:
        return conn.execute(
            "SELECT COUNT(*), ROUND(SUM(amount), 2) FROM orders WHERE order_date = ?", (key,)
        ).fetchone()
