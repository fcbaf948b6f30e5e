#!/usr/bin/env python3
"""`make bench`: the operator's scale benchmark (docs/performance.md).

Starts etcd + kube-apiserver with an audit log, the Databricks simulator with N workspaces and a
latency on every request, and `uc-operator run` (release build); creates N Secrets and N
DatabricksIntegrations (automatic setup, token) at once, and measures four phases:

  setup         time to all enabled (and per resource), Databricks requests and Kubernetes
                writes per integration, operator RSS and CPU
  rest          a quiet window: requests and writes should be 0
  revalidation  every integration re-validated once (annotation uc-operator.dev/requestedAt when
                the binary acts on it, else a touch of each Secret, which re-validates the same way)
  restart       a new operator over the same N, nothing due: requests and writes, RSS

Prints a table and the JSON, and writes the JSON to OUT. Parameters are flags or environment
variables (`make bench N=1000 LATENCY_MS=20 CONCURRENCY=64`); see --help.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

# No __pycache__ next to the sources: the repository does not ignore it.
sys.dont_write_bytecode = True

import phases
import process
from controlplane import AuditLog, ControlPlane, start_watch
from report import table
from simulator import Simulator, noisy_workspaces
from ucoperator import Operator
from workload import DBI_PATH, Tracker

ROOT = Path(__file__).resolve().parents[2]


def parse_args():
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=int(env("N", "200")), help="integrations (env N)")
    p.add_argument("--latency-ms", type=int, default=int(env("LATENCY_MS", "20")),
                   help="latency added to every Databricks request (env LATENCY_MS)")
    p.add_argument("--concurrency", type=int, default=int(env("CONCURRENCY", "0")) or None,
                   help="--concurrency for the operator, if it takes one (env CONCURRENCY)")
    p.add_argument("--rest-secs", type=int, default=int(env("REST_SECS", "30")),
                   help="length of the rest and after-restart windows (env REST_SECS)")
    p.add_argument("--revalidate", choices=["auto", "annotate", "secret", "interval"],
                   default=env("REVALIDATE", "auto"),
                   help="how the re-validation round is triggered; interval: none, wait for "
                        "INTERVAL (longer than the other phases) (env REVALIDATE)")
    p.add_argument("--interval", default=env("INTERVAL", "1h"),
                   help="revalidationInterval of the integrations (env INTERVAL)")
    p.add_argument("--chunk", type=int, default=int(env("CHUNK", "0")),
                   help="integrations per `kubectl create -f` file; 0: one file (env CHUNK)")
    p.add_argument("--timeout", type=int, default=int(env("TIMEOUT", "1800")),
                   help="seconds a phase may take before the bench fails (env TIMEOUT)")
    p.add_argument("--noisy", type=int, default=int(env("NOISY", "0")),
                   help="percent of workspaces that answer only after NOISY_MS (env NOISY): the "
                        "noisy-neighbour run measures the healthy ones' setup alone")
    p.add_argument("--noisy-ms", type=int, default=int(env("NOISY_MS", "60000")),
                   help="latency of the noisy workspaces (env NOISY_MS)")
    p.add_argument("--out", default=env("OUT"), help="JSON result file (env OUT; default under target/bench/)")
    p.add_argument("--keep", action="store_true", default=env("KEEP") == "1",
                   help="keep the state directory (logs, audit log) (env KEEP=1)")
    return p.parse_args()


def command_line(args):
    """The `make bench` line that repeats this run."""
    line = (f"make bench N={args.n} LATENCY_MS={args.latency_ms} REST_SECS={args.rest_secs} "
            f"REVALIDATE={args.revalidate} INTERVAL={args.interval}")
    if args.concurrency:
        line += f" CONCURRENCY={args.concurrency}"
    if args.noisy:
        line += f" NOISY={args.noisy} NOISY_MS={args.noisy_ms}"
    return line + (f" CHUNK={args.chunk}" if args.chunk else "")


def machine():
    mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_gib": round(int(mem.split()[1]) / 1024 / 1024, 1),
            "kernel": os.uname().release, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3]}


def binaries():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
    bins = {name: target / name for name in ("uc-operator", "databricks-sim")}
    missing = [str(b) for b in bins.values() if not b.exists()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run `cargo build --release -p uc-operator "
                 "-p databricks-sim --bins` (make bench does)")
    return bins


def start_everything(args, state, bins):
    """Control plane (with the CRD and the namespace), simulator, watch, operator."""
    phases.log("starting etcd and kube-apiserver (with an audit log)")
    cp = ControlPlane(state / "cp", ROOT / "bin")
    cp.start()
    cp.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    cp.kubectl("wait", "--for=condition=Established", "--timeout=60s",
               "crd/databricksintegrations.uc-operator.dev")
    cp.kubectl("create", "namespace", "bench")
    phases.log(f"starting the simulator: {args.n} workspaces, {args.latency_ms} ms on every request")
    sim = Simulator(bins["databricks-sim"], state / "sim")
    noisy = noisy_workspaces(args.n, args.noisy)
    if noisy:
        phases.log(f"{len(noisy)} of them answer after {args.noisy_ms} ms (noisy neighbours)")
    sim.start(args.n, args.latency_ms, noisy, args.noisy_ms)
    tracker = Tracker()
    stop_watch = start_watch(cp.api, DBI_PATH, tracker.on_event)
    op = Operator(bins["uc-operator"], sim.ca_path, cp.operator_kubeconfig, state, args.concurrency)
    for note in op.ignored:
        phases.log(f"ignored: {note}")
    bench = phases.Bench(args, cp, sim, op, tracker, AuditLog(cp.audit_path), state)
    bench.noisy = frozenset(f"bench-{i:05d}" for i in noisy)
    return bench, stop_watch


def run(args, state):
    bins = binaries()
    bench, stop_watch = start_everything(args, state, bins)
    try:
        result = {
            "params": {"n": args.n, "latency_ms": args.latency_ms, "concurrency": args.concurrency,
                       "rest_secs": args.rest_secs, "revalidate": args.revalidate,
                       "interval": args.interval, "chunk": args.chunk},
            "command": command_line(args),
            "operator_command": bench.op.command_line(),
            "operator_ignored": bench.op.ignored,
            "machine": machine(),
        }
        result["setup"] = phases.setup(bench)
        if bench.noisy:
            # The noisy workspaces never settle: the run is about the healthy ones' setup.
            result["params"]["noisy"] = {"percent": args.noisy, "ms": args.noisy_ms,
                                         "count": len(bench.noisy)}
            result["final_phases"] = bench.tracker.phases()
            return result
        result["rest"] = phases.rest(bench)
        result["revalidation"] = phases.revalidation(bench)
        result["restart"] = phases.restart(bench)
        result["final_phases"] = bench.tracker.phases()
        result["machine"]["loadavg_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
        return result
    finally:
        stop_watch.set()


def main():
    args = parse_args()
    # SIGTERM (make interrupted, CI cancelled) unwinds like Ctrl-C, so the finally below runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "bench"
    state = base / f"state-{stamp}"
    state.mkdir(parents=True)
    ok = False
    try:
        result = run(args, state)
        ok = True
    finally:
        process.stop_all()
        if ok and not args.keep:
            shutil.rmtree(state, ignore_errors=True)
        else:
            print(f"state (logs, audit log) kept in {state}", file=sys.stderr)
    out = Path(args.out) if args.out else base / f"bench-n{args.n}-l{args.latency_ms}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    if "times" in result["setup"]:
        print(table(result))
    else:
        print(json.dumps(result["setup"]["healthy"], indent=2))
    print()
    print(json.dumps(result, indent=2))
    phases.log(f"written to {out}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; every process the bench started is stopped")
