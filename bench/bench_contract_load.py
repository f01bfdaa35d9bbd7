"""Benchmark: loading a contract with a 5,000-value ``validValues`` list, cold and warm (#15).

Run from the repository root::

    .venv/bin/python -m bench.bench_contract_load

* cold   the first ``load_contract`` in a fresh process that has already imported ``airflow.sdk``
         (every task process has) and ``airflow_dataops.contracts.loader``: YAML, our checks, the ODCS
         JSON Schema (read and compiled on first use) and the model; measured inside the subprocess,
         after one discarded warm-up process (bytecode cached, as on an installed worker)
* miss   ``load_contract`` of new bytes in a warm process: the whole parse and validation again
* warm   ``load_contract`` of the same file again: a cache hit (read the file, hash it, return the
         cached ``Contract``)

Medians over the rounds below; the issue's targets are ≤ 150 ms cold and ≤ 20 ms warm.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from bench.harness import ROOT, median, table, timed, write_section

VALUES = 5_000
COLD_ROUNDS = int(os.environ.get("DATAOPS_BENCH_ROUNDS", "5"))
WARM_ROUNDS = 20
COLD_TARGET_S, WARM_TARGET_S = 0.150, 0.020
BENCH_DIR = Path(os.environ.get("DATAOPS_BENCH_DIR", "/tmp/dataops-bench"))


def contract_text(version: str = "1.0.0") -> str:
    values = ", ".join(f"V{i:05d}" for i in range(VALUES))
    return textwrap.dedent(
        f"""\
        apiVersion: v3.1.0
        kind: DataContract
        id: urn:dataops:bench:load
        version: {version}
        status: active
        schema:
          - name: items
            properties:
              - name: code
                logicalType: string
                required: true
                quality:
                  - {{name: knownCode, metric: invalidValues, mustBe: 0, arguments: {{validValues: [{values}]}}}}
              - name: amount
                logicalType: number
                logicalTypeOptions: {{minimum: 0}}
        """
    )


COLD = textwrap.dedent(
    """
    import json, sys, time
    import airflow.sdk  # every task process has this already: not counted
    from airflow_dataops.contracts.loader import load_contract
    t0 = time.perf_counter()
    contract = load_contract(sys.argv[1])
    seconds = time.perf_counter() - t0
    assert len(contract.schema[0].properties[0].quality[0].arguments["validValues"]) == int(sys.argv[2])
    print(json.dumps({"seconds": seconds}))
    """
)


def cold(path: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(BENCH_DIR / "pycache")
    proc = subprocess.run(
        [sys.executable, "-c", COLD, str(path), str(VALUES)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cold load process failed:\n{proc.stderr[-2000:]}")
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])


def main() -> None:
    from airflow_dataops.contracts.loader import clear_contract_cache, load_contract

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "load5000.odcs.yaml"
        path.write_text(contract_text())
        size = path.stat().st_size
        cold(path)  # warm-up, discarded: bytecode cache and OS page cache
        cold_times = [cold(path) for _ in range(COLD_ROUNDS)]

        clear_contract_cache()
        load_contract(path)  # this process's first load: imports and the JSON Schema, not counted
        miss_times = []
        for i in range(COLD_ROUNDS):
            path.write_text(contract_text(version=f"1.0.{i + 1}"))  # new bytes: a miss
            miss_times.append(timed(lambda: load_contract(path))[0])
        first = load_contract(path)
        warm_times = []
        for _ in range(WARM_ROUNDS):
            seconds, again = timed(lambda: load_contract(path))
            assert again is first, "a warm load must be a cache hit"
            warm_times.append(seconds)

    cold_s, miss_s, warm_s = median(cold_times), median(miss_times), median(warm_times)
    rows = [
        ["cold (first load in a fresh process)", f"{1000 * cold_s:.1f} ms", f"{COLD_ROUNDS}", "≤ 150 ms"],
        ["miss (new bytes, warm process)", f"{1000 * miss_s:.1f} ms", f"{COLD_ROUNDS}", "—"],
        ["warm (cache hit)", f"{1000 * warm_s:.2f} ms", f"{WARM_ROUNDS}", "≤ 20 ms"],
    ]
    body = "\n".join(
        [
            "## Contract loading",
            "",
            f"A contract whose `validValues` list holds **{VALUES:,} values** ({size / 1024:.0f} KiB of YAML), "
            "loaded with `load_contract` (`bench/bench_contract_load.py`). Cold: the first load in a fresh "
            "process that already imported `airflow.sdk` and the loader (YAML, our checks, the ODCS JSON "
            "Schema read and compiled on first use, the model), measured inside the process. Miss: new "
            "bytes in a warm process. Warm: the same file again, a hit of the cache keyed by the SHA-256 "
            "of the file's bytes (the file is still read and hashed every time). Medians.",
            "",
            table(["load", "median", "rounds", "target"], rows),
            "",
            f"- Cold: {1000 * cold_s:.0f} ms (target ≤ 150 ms: {'met' if cold_s <= COLD_TARGET_S else 'NOT met'}).",
            f"- Warm: {1000 * warm_s:.2f} ms (target ≤ 20 ms: {'met' if warm_s <= WARM_TARGET_S else 'NOT met'}).",
        ]
    )
    print(body)
    write_section("contract_load", body, command=".venv/bin/python -m bench.bench_contract_load")


if __name__ == "__main__":
    main()
