"""Write-audit-publish (WAP): one partition staged, audited by its contract, then published.

The protocol as plain Python, without Airflow: :class:`airflow_dataops.wap.protocol.PartitionWrite`
claims the partition in the ledger, stages the rows (:mod:`airflow_dataops.wap.staging`),
runs the gate on them where they are staged (:mod:`airflow_dataops.wap.audit`), replaces the
partition through the ledger's fence and records the SLIs.  The operators of
``operators/partitioned.py`` and ``@task.partitioned`` only turn an Airflow context into one
``PartitionWrite.run`` call; tests drive the same call on a store and a warehouse engine.
"""
