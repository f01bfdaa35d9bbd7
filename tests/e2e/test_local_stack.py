"""`make airflow` for real: the local stack starts, a partition triggered by key is applied, a signed-in
Chromium sees it on the Data SLOs page, and stopping the stack leaves no component behind.

The stack is ``scripts/local_airflow.py`` (what ``make airflow`` runs) with ``DATAOPS_DEMO_HOME`` in a
temp folder, so nothing of the checkout's own ``.demo/`` is touched; the trigger is the same script's
``trigger`` subcommand (what ``make trigger`` runs).  How long the stack took to serve the page is
written to ``.test-artifacts/local_stack.json`` (a measurement, not an assertion: timings belong in
benchmarks).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from e2e.airflow_server import CHROMIUM, CHROMIUM_ARGS, free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "local_airflow.py"

pytestmark = [pytest.mark.scheduler, pytest.mark.slow, pytest.mark.timeout(900)]


def _components(home: Path) -> list[int]:
    """PIDs of processes running with this stack's AIRFLOW_HOME (standalone and its components)."""
    marker = f"AIRFLOW_HOME={home / 'airflow'}".encode()
    pids = []
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            if marker in (proc_dir / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc_dir.name))
        except OSError:
            continue
    return pids


@functools.cache
def _script() -> Any:
    """``scripts/local_airflow.py`` as a module: its process-tree helpers are the ones ``stop()`` uses."""
    spec = importlib.util.spec_from_file_location("dataops_local_airflow", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _still_running(started: set[int], home: Path) -> dict[int, str]:
    """What of the stack still runs: the processes the script had started (its ``/proc`` tree,
    which sees the components that rewrote their process title over the environment marker of
    :func:`_components`: ``airflow api_server``, the LocalExecutor workers) and any the marker
    finds; a zombie does not count.  Their command lines, by pid."""
    return {pid: _cmdline(pid) for pid in _script().alive(started | set(_components(home)))}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return "?"


def _env(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
    env.update({"DATAOPS_DEMO_HOME": str(home), "DATAOPS_LOCAL_PORT": str(port)})
    return env


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    home = tmp_path_factory.mktemp("local-stack")
    port = free_port()
    log = (home / "stack.log").open("w")
    started = time.monotonic()
    # Started with SIGINT ignored, as a background job of a shell without job control (a CI
    # step, `make airflow &` in a script) is: Ctrl-C must stop the stack all the same. `exec`
    # keeps the pid, so the SIGINT below reaches the script itself.
    proc = subprocess.Popen(
        ["bash", "-c", 'trap "" INT; exec "$0" "$1"', sys.executable, str(SCRIPT)],
        env=_env(home, port),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=ROOT,
    )
    info: dict[str, object] = {"home": home, "port": port, "proc": proc, "started": started}
    try:
        deadline = time.monotonic() + 300
        text = ""
        while time.monotonic() < deadline:
            text = (home / "stack.log").read_text()
            if "make airflow: ready at" in text:
                break
            if proc.poll() is not None:
                pytest.fail(f"make airflow exited {proc.returncode} before it was ready:\n{text[-4000:]}")
            time.sleep(1)
        else:
            pytest.fail(f"make airflow not ready after 300 s:\n{text[-4000:]}")
        info["ready_s"] = time.monotonic() - started
        line = next(ln for ln in text.splitlines() if "make airflow: ready at" in ln)
        info["url"] = line.split("ready at ", 1)[1].split("/  login", 1)[0]
        info["password"] = line.rsplit("/ ", 1)[1].strip()
        yield info
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in _components(home):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.close()


def _trigger(stack: dict[str, object], key: str) -> str:
    """The `make trigger` path, retried until the dag-processor has parsed the DAG (404 until then)."""
    deadline = time.monotonic() + 240
    out = ""
    while time.monotonic() < deadline:
        r = subprocess.run(
            [sys.executable, str(SCRIPT), "trigger", "nycflights_daily", key, "from test_local_stack"],
            env=_env(stack["home"], stack["port"]),  # type: ignore[arg-type]
            capture_output=True,
            text=True,
            timeout=60,
        )
        out = r.stdout + r.stderr
        if r.returncode == 0:
            return out
        assert "404" in out, out  # anything but "not parsed yet" is a real failure
        time.sleep(3)
    pytest.fail(f"the DAG was never triggered: {out}")


def test_a_partition_triggered_by_key_is_served_to_a_signed_in_browser(stack: dict[str, object]) -> None:
    key = (datetime.now(timezone.utc) - timedelta(days=3)).strftime("%Y-%m-%d")
    out = _trigger(stack, key)
    assert f"triggered nycflights_daily partition {key}: run " in out

    from airflow_dataops.store import StateStore
    from airflow_dataops.store.ledger import list_partitions

    store = StateStore(f"sqlite:///{stack['home']}/dataops.db", connect_timeout=5)
    deadline = time.monotonic() + 300
    state = None
    while time.monotonic() < deadline:
        states = {p.partition_key: p.state for p in list_partitions(store, "flights")}
        state = states.get(key)
        if state == "applied":
            break
        time.sleep(2)
    store.dispose()
    assert state == "applied", f"partition {key} is {state!r}"

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    url = stack["url"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{url}/")
            page.locator("input[name=username]").fill("admin")
            page.locator("input[name=password]").fill(str(stack["password"]))
            page.keyboard.press("Enter")
            page.wait_for_url(lambda u: "/auth/login" not in u)
            page.goto(f"{url}/plugin/dataops")
            frame = page.frame_locator("iframe[title='Data SLOs']")
            frame.get_by_role("link", name="flights", exact=True).wait_for()
            served_s = time.monotonic() - float(stack["started"])  # type: ignore[arg-type]
        finally:
            browser.close()
    artifacts = ROOT / ".test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "local_stack.json").write_text(
        json.dumps({"ready_s": round(float(stack["ready_s"]), 1), "page_served_s": round(served_s, 1)})  # type: ignore[arg-type]
    )


def test_stopping_the_stack_leaves_no_component_running(stack: dict[str, object]) -> None:
    proc: subprocess.Popen[bytes] = stack["proc"]  # type: ignore[assignment]
    home: Path = stack["home"]  # type: ignore[assignment]
    assert _components(home), "the stack's components should be running before the stop"
    started = _script().descendants(proc.pid)
    assert len(started) > len(_components(home)), "the tree sees the components the marker cannot"
    os.kill(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the script
    # stop() gives the components 30 + 15 + 10 s, then 20 s to clean up: 180 s is a hang, not a slow stop
    try:
        code = proc.wait(timeout=180)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGUSR1)  # the script dumps its threads' stacks into stack.log
        time.sleep(2)
        alive = _still_running(started, home)
        tail = (home / "stack.log").read_text(errors="replace")[-6000:]
        for pid in [proc.pid, *alive]:  # leave nothing behind for the rest of the suite
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        pytest.fail(f"the stack did not stop in 180 s after Ctrl-C; still running: {alive}\n{tail}")
    assert code == 0
    deadline = time.monotonic() + 15  # a killed process leaves /proc when the kernel has reaped it
    while _still_running(started, home) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _still_running(started, home) == {}
