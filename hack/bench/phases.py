"""The bench's four phases; each returns its figures as a dict (see run.py for the order)."""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import report
import simulator
import workload
from controlplane import operator_requests
from workload import DBI_PATH, NAMESPACE

REQUESTED_AT = "uc-operator.dev/requestedAt"


def log(msg):
    print(f"==> {msg}", flush=True)


@dataclass
class Bench:
    args: object
    cp: object
    sim: object
    op: object
    tracker: object
    audit: object
    state: object
    # Names of the integrations on noisy workspaces (never enabled in time; left out of the
    # healthy figures).
    noisy: frozenset = frozenset()

    def begin(self):
        """Starts counting: clears the request log, marks the audit log."""
        self.sim.clear_requests()
        return self.audit.mark()

    def settle(self, quiet_secs=3):
        """Waits until neither Databricks nor the audit log has seen anything for `quiet_secs`,
        so a phase's last writes (events after the final status) are counted in it."""
        last, since = None, time.monotonic()
        while time.monotonic() - since < quiet_secs:
            time.sleep(0.5)
            now = (len(self.sim.requests()), self.audit.mark())
            if now != last:
                last, since = now, time.monotonic()

    def usage(self, fresh_process=False):
        """The operator's /proc figures, with the CPU it used since the last call."""
        u = self.op.usage()
        before = 0 if fresh_process else getattr(self, "_cpu", 0)
        self._cpu = u["cpu_s"]
        return {**u, "cpu_delta_s": round(u["cpu_s"] - before, 2)}

    def counts(self, mark):
        n = self.args.n
        kube = operator_requests(self.audit.events_since(mark))
        return {"databricks": simulator.summarise(self.sim.requests(), n),
                "kube_writes": report.per_integration(kube["writes"], n),
                "kube_failed_writes": kube["failed_writes"],
                "kube_reads": report.per_integration(kube["reads"], n)}

    def wait(self, what, check):
        """Waits for `check()` (True when done), logging progress every 10 s."""
        deadline, next_log = time.monotonic() + self.args.timeout, time.monotonic() + 10
        while not check():
            if self.op.proc.poll() is not None:
                raise RuntimeError(f"{what}: the operator exited with {self.op.proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not done after {self.args.timeout} s; phases "
                                   f"{self.tracker.phases()}; logs in {self.state}")
            if time.monotonic() > next_log:
                log(f"  {what}: phases {self.tracker.phases()}")
                next_log += 10
            time.sleep(0.2)


def create_all(bench):
    """`kubectl create -f` of the generated manifests (in chunks when CHUNK is set)."""
    docs = workload.manifests(bench.args.n, bench.sim.ports, bench.args.interval)
    per_file = 2 * (bench.args.chunk or bench.args.n)
    files = []
    for i in range(0, len(docs), per_file):
        path = bench.state / f"integrations-{i // per_file:03d}.json"
        path.write_text(workload.as_file(docs[i:i + per_file]))
        files.append(path)
    started = time.time()
    for path in files:
        bench.cp.kubectl("create", "-f", str(path), timeout=bench.args.timeout)
    return round(time.time() - started, 2)


def setup(bench):
    n = bench.args.n
    mark = bench.begin()
    log(f"starting {bench.op.command_line()}")
    bench.op.start()
    log(f"creating {n} Secrets and {n} DatabricksIntegrations")
    kubectl_s = create_all(bench)
    healthy = n - len(bench.noisy)
    bench.wait("all enabled", lambda: bench.tracker.enabled() >= healthy)
    log("all enabled" if not bench.noisy else f"the {healthy} healthy ones enabled")
    if bench.noisy:
        times = {k: t for k, t in bench.tracker.times().items() if k not in bench.noisy}
        return {"name": "setup", "kubectl_create_s": kubectl_s,
                "healthy": report.durations(times), "usage": bench.usage()}
    bench.settle()
    objects = bench.cp.api.get(DBI_PATH)["items"]
    by_timestamps = workload.timestamp_durations(objects)
    return {"name": "setup", "kubectl_create_s": kubectl_s,
            "times": report.durations(bench.tracker.times()),
            "times_from_timestamps": {
                "p50_s": report.percentile(by_timestamps, 50),
                "p99_s": report.percentile(by_timestamps, 99),
                "note": "creationTimestamp to Ready lastTransitionTime, 1 s resolution"},
            **bench.counts(mark), "usage": bench.usage()}


def rest(bench):
    log(f"at rest for {bench.args.rest_secs} s")
    mark = bench.begin()
    time.sleep(bench.args.rest_secs)
    return {"name": "rest", "window_s": bench.args.rest_secs, **bench.counts(mark),
            "usage": bench.usage()}


def _patch_all(bench, paths, patch):
    # A few at once: the bench's own writes should not be what the API server is busy with.
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda p: bench.cp.api.merge_patch(p, patch), paths))


def _annotation_works(bench, value):
    """Annotates one integration and waits (30 s at most) for the operator to record it."""
    name = "bench-00001"
    _patch_all(bench, [f"{DBI_PATH}/{name}"], {"metadata": {"annotations": {REQUESTED_AT: value}}})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if bench.tracker.field(workload.handled_request).get(name) == value:
            return True
        time.sleep(0.5)
    return False


def _trigger(bench):
    """Asks for a re-validation of every integration; returns how, and when the request for all
    of them started (after the probe of the annotation, in `auto` mode)."""
    mode, value = bench.args.revalidate, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    names = sorted(bench.tracker.field(lambda o: None))
    if mode == "interval":
        return f"revalidationInterval {bench.args.interval}", time.monotonic()
    if mode == "auto":
        mode = "annotate" if _annotation_works(bench, value) else "secret"
    started = time.monotonic()
    if mode == "annotate":
        _patch_all(bench, [f"{DBI_PATH}/{n}" for n in names],
                   {"metadata": {"annotations": {REQUESTED_AT: value}}})
        return f"annotation {REQUESTED_AT}", started
    secrets = f"/api/v1/namespaces/{NAMESPACE}/secrets"
    _patch_all(bench, [f"{secrets}/{n}-token" for n in names],
               {"metadata": {"labels": {"uc-operator.dev/bench-round": value.replace(":", "")}}})
    return "each Secret labelled (a rotation, to the operator)", started


def revalidation(bench):
    n = bench.args.n
    before = bench.tracker.field(workload.last_validation)
    log("re-validating every integration once")
    mark = bench.begin()
    trigger, started = _trigger(bench)
    log(f"  triggered by: {trigger}")

    def all_moved():
        now = bench.tracker.field(workload.last_validation)
        return sum(1 for k, v in now.items() if v and v != before.get(k)) == n
    bench.wait("re-validation round", all_moved)
    wait_s = round(time.monotonic() - started, 2)
    bench.settle()
    return {"name": "revalidation", "trigger": trigger, "wait_s": wait_s,
            "enabled_after": bench.tracker.enabled(), **bench.counts(mark), "usage": bench.usage()}


def restart(bench):
    before = bench.tracker.field(workload.last_validation)
    log("restarting the operator (nothing due)")
    bench.op.stop()
    mark = bench.begin()
    started = time.monotonic()
    bench.op.start()
    ready_s = round(time.monotonic() - started, 2)
    log(f"  ready after {ready_s} s; watching for {bench.args.rest_secs} s")
    time.sleep(bench.args.rest_secs)
    now = bench.tracker.field(workload.last_validation)
    return {"name": "restart", "window_s": bench.args.rest_secs, "ready_s": ready_s,
            "revalidated": sum(1 for k, v in now.items() if v != before.get(k)),
            **bench.counts(mark), "usage": bench.usage(fresh_process=True)}
