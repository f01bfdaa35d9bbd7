"""Sending lineage without ever failing, or stalling, the task that sends it.

* :func:`emit_events_safely` runs any lineage call in a daemon thread, waits at most
  ``timeout`` seconds, and turns every failure (exception or timeout) into ONE warning.
* :func:`lineage_guard` is the same promise, minus the time bound, for code that builds
  facets in the caller's thread (``get_openlineage_facets_on_*``).
* :func:`emit_run_event` sends a standalone ``RunEvent`` (an SLO breach found by an evaluator,
  say) through the client the OpenLineage provider configured.  The provider is disabled
  unless a transport is configured, e.g.
  ``AIRFLOW__OPENLINEAGE__TRANSPORT='{"type": "file", "log_file_path": "/tmp/ol.jsonl", "append": true}'``;
  then nothing is sent and ``False`` is returned.

The time bound comes from ``[dataops] lineage_emit_timeout_seconds`` (default 5).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from airflow_dataops.clock import utcnow

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "emit_events_safely",
    "emit_run_event",
    "lineage_guard",
    "openlineage_client",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5.0
_EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")


def _configured_timeout() -> float:
    try:
        from airflow.configuration import conf

        value = conf.getfloat("dataops", "lineage_emit_timeout_seconds", fallback=DEFAULT_TIMEOUT_SECONDS)
    except Exception:
        return DEFAULT_TIMEOUT_SECONDS
    return value if value > 0 else DEFAULT_TIMEOUT_SECONDS


def emit_events_safely(
    fn: Callable[..., Any],
    *args: Any,
    timeout: float | None = None,
    what: str = "OpenLineage emission",
    **kwargs: Any,
) -> bool:
    """Call ``fn(*args, **kwargs)`` in a daemon thread; never raise, never wait past ``timeout``.

    :param timeout: seconds to wait; ``None`` reads ``[dataops] lineage_emit_timeout_seconds``.
        A call still running then is abandoned (the daemon thread cannot keep the process alive).
    :param what: what is being done, for the warning.
    :return: ``True`` if ``fn`` returned in time, ``False`` after it raised or timed out
        (one warning logged either way).
    """
    limit = _configured_timeout() if timeout is None else float(timeout)
    outcome: dict[str, BaseException] = {}

    def target() -> None:
        try:
            fn(*args, **kwargs)
        except BaseException as e:  # a lineage failure of any kind must stay in this thread
            outcome["error"] = e

    try:
        thread = threading.Thread(target=target, name="dataops-lineage-emit", daemon=True)
        thread.start()
        thread.join(limit)
    except Exception as e:  # e.g. no thread can be started
        log.warning("%s failed and was skipped: %s: %s", what, type(e).__name__, e)
        return False
    if thread.is_alive():
        log.warning("%s did not finish within %.1f s and was abandoned", what, limit)
        return False
    if "error" in outcome:
        error = outcome["error"]
        log.warning("%s failed and was skipped: %s: %s", what, type(error).__name__, error)
        log.debug("%s failure details", what, exc_info=error)
        return False
    return True


@contextlib.contextmanager
def lineage_guard(what: str = "OpenLineage facet building") -> Iterator[None]:
    """Swallow any exception raised in the block, logging ONE warning.

    Not time-bounded (the block runs in the caller's thread): keep I/O out of it, or send it
    through :func:`emit_events_safely`::

        def get_openlineage_facets_on_complete(self, task_instance):
            with lineage_guard("gate lineage"):
                return build_lineage(...)
            return None  # reached only when the block raised
    """
    try:
        yield
    except Exception as e:
        log.warning("%s failed and was skipped: %s: %s", what, type(e).__name__, e)
        log.debug("%s failure details", what, exc_info=True)


def openlineage_client() -> Any | None:
    """The ``OpenLineageClient`` the provider configured, or ``None`` when lineage is disabled.

    Uses ``get_openlineage_listener().adapter.get_or_create_openlineage_client()``: the same
    client (config connection, ``[openlineage] config_path`` or ``[openlineage] transport``)
    the provider's listener emits through.  ``conf.is_disabled()`` and the listener are
    cached per process, so configuration changes after first use are not seen.
    """
    from airflow.providers.openlineage import conf as ol_conf

    if ol_conf.is_disabled():
        return None
    from airflow.providers.openlineage.plugins.listener import get_openlineage_listener

    return get_openlineage_listener().adapter.get_or_create_openlineage_client()


def emit_run_event(
    job_name: str,
    run_facets: Mapping[str, Any] | None = None,
    inputs: Iterable[Any] = (),
    outputs: Iterable[Any] = (),
    event_type: str = "COMPLETE",
    *,
    job_namespace: str | None = None,
    job_facets: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    timeout: float | None = None,
) -> bool:
    """Send one standalone ``RunEvent`` through the provider's client; never raise.

    :param job_name: e.g. ``dataops.slo.flights``.
    :param run_facets: facet key -> run facet (ours or standard).
    :param inputs: ``InputDataset`` objects (see :func:`builders.input_dataset`).
    :param outputs: ``OutputDataset`` objects (see :func:`builders.output_dataset`).
    :param event_type: ``START``, ``RUNNING``, ``COMPLETE``, ``ABORT``, ``FAIL`` or ``OTHER``.
    :param job_namespace: defaults to the provider's ``[openlineage] namespace``.
    :param run_id: a UUID; a new one when not given.
    :param timeout: seconds; see :func:`emit_events_safely`.
    :return: ``True`` when the event was handed to the transport, ``False`` when lineage is
        disabled or the emission failed (one warning) or timed out (one warning).
    """

    def send() -> None:
        client = openlineage_client()
        if client is None:
            raise _Disabled
        client.emit(
            _build_run_event(
                job_name, run_facets, inputs, outputs, event_type, job_namespace, job_facets, run_id
            )
        )

    what = f"OpenLineage {event_type} event for job {job_name!r}"
    disabled: list[bool] = []

    def guarded_send() -> None:
        try:
            send()
        except _Disabled:
            disabled.append(True)

    ok = emit_events_safely(guarded_send, timeout=timeout, what=what)
    if disabled:
        log.debug("OpenLineage is disabled (no transport configured): %s not sent", what)
        return False
    return ok


class _Disabled(Exception):
    """Lineage is switched off: not an error."""


def _build_run_event(
    job_name: str,
    run_facets: Mapping[str, Any] | None,
    inputs: Iterable[Any],
    outputs: Iterable[Any],
    event_type: str,
    job_namespace: str | None,
    job_facets: Mapping[str, Any] | None,
    run_id: str | None,
) -> Any:

    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.uuid import generate_new_uuid

    kind = str(getattr(event_type, "value", event_type)).upper()
    if kind not in _EVENT_TYPES:
        msg = f"event_type must be one of {', '.join(_EVENT_TYPES)}; got {event_type!r}"
        raise ValueError(msg)
    if job_namespace is None:
        from airflow.providers.openlineage import conf as ol_conf

        job_namespace = ol_conf.namespace()
    return RunEvent(
        eventType=RunState(kind),
        eventTime=utcnow().isoformat(),
        run=Run(runId=run_id or str(generate_new_uuid()), facets=dict(run_facets or {})),
        job=Job(namespace=job_namespace, name=job_name, facets=dict(job_facets or {})),
        inputs=list(inputs),
        outputs=list(outputs),
    )
