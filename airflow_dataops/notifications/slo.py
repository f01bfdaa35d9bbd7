"""``SLOBreachNotifier``: tell someone that an SLO breach opened or resolved.

The evaluator (``SLOEvaluationOperator``) calls every notifier it was given with a context
dict that carries the breach under ``context["breach"]`` (see
``BreachTransition.to_dict``: ``state`` open|resolved, ``dataset``, ``slo``, ``severity``,
``opened_at``, ``resolved_at``, ``burn_rates``, ``budget_remaining``, ``firing`` ...).  Any
Airflow ``BaseNotifier`` (Slack, SMTP, ...) can stand in for this one; templated fields of
those notifiers can use ``{{ breach.dataset }}`` and friends.

Targets:

``log``
    one WARNING (open) or INFO (resolved) line in the task log.
``webhook``
    ``POST`` the breach as JSON to an HTTP connection: URL from the connection's
    ``schema``/``host``/``port`` (or a full URL in ``host``) plus ``endpoint``; extra headers
    from the connection's ``extra`` ``{"headers": {...}}``; login/password as basic auth.
    Bounded by ``timeout`` seconds; a non-2xx answer raises.

Example::

    SLOEvaluationOperator(
        task_id="evaluate",
        notifiers=[SLOBreachNotifier(target="webhook", http_conn_id="oncall_hook", endpoint="/alerts")],
    )
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseNotifier

__all__ = ["SLOBreachNotifier", "format_breach", "next_steps"]

TARGETS = ("log", "webhook")


def next_steps(dataset: str, *, base_url: str | None = None) -> dict[str, str | None]:
    """Where on-call goes from a page: the triage command, and the dataset's page in Airflow's UI.

    :param base_url: Airflow's ``[api] base_url`` (read from the configuration when not given);
        without one the page URL is ``None``: a link to the wrong host is worse than none.
    """
    import shlex
    from urllib.parse import quote

    if base_url is None:
        from airflow.configuration import conf

        base_url = conf.get("api", "base_url", fallback=None) or None
    page = f"{base_url.rstrip('/')}/dataops/datasets/{quote(dataset, safe='')}" if base_url else None
    return {"triage": f"airflow dataops triage {shlex.quote(dataset)}", "page": page}


def format_breach(breach: Mapping[str, Any]) -> str:
    """One human line: ``SLO breach OPEN [page] flights/freshness: budget …; burn rates …; triage: …; page: …``.

    ``triage`` and ``page`` come from the breach's ``next_steps`` (added by the notifier), or are
    left out when absent.
    """
    rates = ", ".join(f"{k}={v:.2f}" for k, v in (breach.get("burn_rates") or {}).items())
    remaining = breach.get("budget_remaining")
    budget = "n/a" if remaining is None else f"{remaining:.1%}"
    line = (
        f"SLO breach {str(breach.get('state', '?')).upper()} [{breach.get('severity')}] "
        f"{breach.get('dataset')}/{breach.get('slo')}: budget remaining {budget}; burn rates {rates or 'n/a'}"
    )
    steps = breach.get("next_steps") or {}
    if steps.get("triage"):
        line += f"; triage: {steps['triage']}"
    if steps.get("page"):
        line += f"; page: {steps['page']}"
    return line


class SLOBreachNotifier(BaseNotifier):
    """Announce an SLO breach episode (opened or resolved).

    :param target: ``log`` or ``webhook``.
    :param http_conn_id: the HTTP connection of the webhook (``target="webhook"``).
    :param endpoint: path appended to the connection's URL (templated).
    :param timeout: seconds for connecting and for the whole answer.
    """

    template_fields: Sequence[str] = ("endpoint",)

    def __init__(
        self,
        *,
        target: str = "log",
        http_conn_id: str | None = None,
        endpoint: str = "",
        timeout: float = 10.0,
    ) -> None:
        super().__init__()
        if target not in TARGETS:
            raise ValueError(f"SLOBreachNotifier: target={target!r}; use one of {', '.join(TARGETS)}")
        if target == "webhook" and not http_conn_id:
            raise ValueError("SLOBreachNotifier: target='webhook' needs http_conn_id (an HTTP connection id)")
        if not timeout > 0:
            raise ValueError(
                f"SLOBreachNotifier: timeout must be a positive number of seconds, got {timeout!r}"
            )
        self.target = target
        self.http_conn_id = http_conn_id
        self.endpoint = endpoint
        self.timeout = float(timeout)

    def notify(self, context: Any) -> None:
        breach = context.get("breach") if hasattr(context, "get") else None
        if not isinstance(breach, Mapping):
            raise ValueError(
                "SLOBreachNotifier: the context has no 'breach' mapping; it is sent by SLOEvaluationOperator"
            )
        if breach.get("dataset") and "next_steps" not in breach:
            breach = {**breach, "next_steps": next_steps(str(breach["dataset"]))}
        if self.target == "log":
            line = format_breach(breach)
            if breach.get("state") == "open":
                self.log.warning("%s", line)
            else:
                self.log.info("%s", line)
            return
        self._post(breach)

    def webhook_url(self) -> tuple[str, dict[str, str], tuple[str, str] | None]:
        """URL, headers and basic auth from the HTTP connection."""
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(self.http_conn_id)  # type: ignore[arg-type]
        host = (conn.host or "").rstrip("/")
        if "://" in host:
            base = host
        else:
            scheme = conn.schema or "http"
            base = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
        endpoint = self.endpoint or ""
        url = base + ("/" + endpoint.lstrip("/") if endpoint else "")
        headers = {"Content-Type": "application/json"}
        extra = conn.extra_dejson if conn.extra else {}
        headers.update({str(k): str(v) for k, v in (extra.get("headers") or {}).items()})
        auth = (conn.login, conn.password or "") if conn.login else None
        return url, headers, auth

    def _post(self, breach: Mapping[str, Any]) -> None:
        import httpx

        url, headers, auth = self.webhook_url()
        body = json.dumps({"text": format_breach(breach), "breach": dict(breach)}, default=str)
        response = httpx.post(
            url, content=body, headers=headers, auth=auth, timeout=httpx.Timeout(self.timeout)
        )
        if response.status_code // 100 != 2:
            raise RuntimeError(
                f"SLOBreachNotifier: webhook {self.http_conn_id!r} answered {response.status_code} "
                f"to POST {url}: {response.text[:200]}"
            )
        self.log.info(
            "SLO breach %s for %s/%s posted to %s",
            breach.get("state"),
            breach.get("dataset"),
            breach.get("slo"),
            url,
        )
