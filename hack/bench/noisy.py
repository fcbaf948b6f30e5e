#!/usr/bin/env python3
"""`make bench-noisy`: the noisy-neighbour comparison. Runs the setup phase of the scale bench
RUNS times without and RUNS times with NOISY percent of the workspaces answering only after
NOISY_MS, and prints, for the healthy integrations, the median over the runs of their p50 and p99
creation-to-enabled time, and the ratios (target: at most 1.2).

Parameters (environment, as for `make bench`): N (1000), LATENCY_MS (20), NOISY (10),
NOISY_MS (60000), RUNS (3), CONCURRENCY.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one_run(env, noisy, out):
    run_env = dict(env, NOISY=str(noisy), OUT=str(out), REST_SECS="1")
    subprocess.run([sys.executable, str(HERE / "run.py")], env=run_env, check=True,
                   stdout=subprocess.DEVNULL)
    setup = json.loads(out.read_text())["setup"]
    figures = setup["healthy"] if noisy else setup["times"]
    return figures["per_resource_p50_s"], figures["per_resource_p99_s"]


def main():
    env = dict(os.environ)
    env.setdefault("N", "1000")
    env.setdefault("LATENCY_MS", "20")
    noisy = int(env.get("NOISY", "10"))
    runs = int(env.get("RUNS", "3"))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, percent in (("alone", 0), ("with noisy", noisy)):
            results[label] = []
            for i in range(runs):
                out = Path(tmp) / f"{percent}-{i}.json"
                p50, p99 = one_run(env, percent, out)
                print(f"==> {label} run {i + 1}: healthy p50 {p50} s, p99 {p99} s", flush=True)
                results[label].append((p50, p99))
    med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
           for k, v in results.items()}
    print()
    print(f"N={env['N']} LATENCY_MS={env['LATENCY_MS']} NOISY={noisy}% "
          f"NOISY_MS={env.get('NOISY_MS', '60000')} runs={runs} (median of runs)")
    print("| | p50 (s) | p99 (s) |")
    print("|---|---|---|")
    for k, (p50, p99) in med.items():
        print(f"| healthy, {k} | {p50} | {p99} |")
    (a50, a99), (n50, n99) = med["alone"], med["with noisy"]
    print(f"| ratio | {n50 / a50:.2f} | {n99 / a99:.2f} |")


if __name__ == "__main__":
    main()
