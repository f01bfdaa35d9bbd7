"""Shared builders for the contract tests (plain module, not a conftest)."""

from __future__ import annotations

import textwrap

from airflow_dataops.contracts.loader import parse_contract
from airflow_dataops.contracts.model import Contract

HEADER = """\
apiVersion: v3.1.0
kind: DataContract
id: urn:test:{name}
version: {version}
status: active
"""

#: The schema of a contract with one ``sql`` rule, ``t.a.neg`` (must be 0): ``SQL_RULE.format(query=…)``.
SQL_RULE = """\
- name: t
  properties:
    - name: a
      logicalType: integer
      quality:
        - type: sql
          name: neg
          query: "{query}"
          mustBe: 0
"""


def make_contract(schema_yaml: str, *, name: str = "t", version: str = "1.0.0", extra: str = "") -> Contract:
    """A contract from the YAML of its ``schema:`` list (dedented) plus optional top-level YAML."""
    text = (
        HEADER.format(name=name, version=version)
        + "schema:\n"
        + textwrap.indent(textwrap.dedent(schema_yaml), "  ")
    )
    text += textwrap.dedent(extra)
    return parse_contract(text, source=f"{name}.odcs.yaml")
