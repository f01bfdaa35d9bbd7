"""What the UI app tests share (tests/unit/plugins): a plain module.  ``store`` is a module-scoped
fixture over the store ``build_ui_store`` writes: a test module takes it with ``store = ui_fixtures.store``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e.airflow_server import build_ui_store

from airflow_dataops.store import StateStore


class FakeAccess:
    """The auth manager's answer for a user who may read ``dags`` (``None``: every DAG).

    A stand-in because the unit tests run the FastAPI app without Airflow's auth manager; the e2e
    UI tests (tests/e2e/test_ui_pages.py) go through the real one."""

    def __init__(self, dags: set[str] | None) -> None:
        self.dags = dags

    def readable(self, dag_ids: set[str]) -> set[str]:
        return set(dag_ids) if self.dags is None else set(dag_ids) & self.dags

    def can_read(self, dag_id: str | None) -> bool:
        return dag_id is None or self.dags is None or dag_id in self.dags


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StateStore]:
    url = f"sqlite:///{tmp_path_factory.mktemp('ui') / 'store.db'}"
    build_ui_store(url)
    s = StateStore(url)
    yield s
    s.dispose()
