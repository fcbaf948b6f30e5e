"""The Databricks simulator with N workspaces, and its request log.

The scenario (databricks-sim/src/scenario.rs) gives every workspace a running SQL warehouse and
its own service principal with a personal access token and CREATE_CATALOG on the metastore: what
automatic setup needs, as in `Scenario::default_for_tests`. One latency fault on every path of
every workspace stands for the round trip to a real workspace. The file is JSON, which is YAML.
"""

import json
import os
import re
import ssl
import urllib.request
from collections import Counter
from pathlib import Path

import process

METASTORE_ID = "8f4b5a1e-0c2d-4e6f-9a8b-7c6d5e4f3a2b"


def workspace(i):
    """Names, ids and credentials of workspace number `i` (1-based)."""
    return {
        "name": f"ws-{i:05d}",
        "workspace_id": 100000 + i,
        "warehouse": f"{i:016x}",
        "principal": f"00000000-0000-4000-8000-{i:012d}",
        "token": f"dapi-bench-{i:05d}",
    }


def noisy_workspaces(n, percent):
    """The numbers of the workspaces that answer slowly: every (100 / percent)-th one, so they
    are spread over the creation order."""
    if not percent:
        return set()
    step = max(1, round(100 / percent))
    return set(range(step, n + 1, step))


def scenario(n, latency_ms, noisy=frozenset(), noisy_ms=60000):
    workspaces, principals = [], []
    for i in range(1, n + 1):
        w = workspace(i)
        workspaces.append({"name": w["name"], "workspace_id": w["workspace_id"],
                           "warehouses": [{"id": w["warehouse"], "state": "RUNNING"}]})
        principals.append({"application_id": w["principal"], "display_name": f"bench {w['name']}",
                           "tokens": [w["token"]], "metastore_privileges": ["CREATE_CATALOG"],
                           "workspaces": [w["name"]]})
    # The first matching rule applies: the noisy workspaces' own latency comes first.
    faults = [{"workspace": workspace(i)["name"], "path_prefix": "/",
               "kind": {"latency": {"millis": noisy_ms}}} for i in sorted(noisy)]
    if latency_ms:
        faults.append({"path_prefix": "/", "kind": {"latency": {"millis": latency_ms}}})
    return {"metastore_id": METASTORE_ID, "workspaces": workspaces, "principals": principals,
            "faults": faults}


class Simulator:
    def __init__(self, binary, dir):
        self.binary, self.dir = binary, Path(dir)

    def start(self, n, latency_ms, noisy=frozenset(), noisy_ms=60000):
        self.dir.mkdir(parents=True)
        path = self.dir / "scenario.yaml"
        path.write_text(json.dumps(scenario(n, latency_ms, noisy, noisy_ms), indent=1))
        # warn: the simulator logs every request at info, which would cost CPU the operator needs.
        env = dict(os.environ, RUST_LOG="warn")
        p = process.start("databricks-sim", [str(self.binary), "--scenario", str(path),
                                             "--state-dir", str(self.dir / "state")], self.dir.parent, env)
        ready = self.dir / "state" / "ready.json"

        def read_ready():
            try:
                return json.loads(ready.read_text())
            except (OSError, ValueError):  # absent, or still being written
                return None
        info = process.wait_until("simulator", 120, read_ready, proc=p)
        self.proc = p
        self.ports = {w["name"]: w["port"] for w in info["workspaces"]}
        self.ca_path = info["ca_path"]
        self._ssl = ssl.create_default_context(cafile=self.ca_path)
        self._admin = f"https://localhost:{next(iter(self.ports.values()))}/_sim/requests"

    def requests(self):
        """Every request logged since the last clear (the log is shared by all workspaces)."""
        with urllib.request.urlopen(self._admin, context=self._ssl, timeout=60) as r:
            return json.loads(r.read())

    def clear_requests(self):
        req = urllib.request.Request(self._admin, method="DELETE")
        with urllib.request.urlopen(req, context=self._ssl, timeout=60) as r:
            r.read()


# Path segments that name one object: catalogs and schemas of the bench (bench_00001...),
# statement and principal UUIDs, warehouse ids, numbers.
_VARIABLE = re.compile(r".*bench_\d+.*|[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{16}|\d+", re.I)


def endpoint(record):
    path = "/".join("{id}" if _VARIABLE.fullmatch(seg) else seg for seg in record["path"].split("/"))
    return f"{record['method']} {path}"


def chain(records):
    """The longest chain of non-overlapping requests (each starting once the one before it has
    been answered): the sequential round trips. Greedy by earliest finish gives the largest set
    of pairwise disjoint intervals. None when the simulator does not stamp its records."""
    if not records or any(not r.get("finish_ms") for r in records):
        return None
    out, last = [], None
    for r in sorted(records, key=lambda r: (r["finish_ms"], r["start_ms"])):
        if last is None or r["start_ms"] >= last:
            out.append(r)
            last = r["finish_ms"]
    return out


def critical_path(records):
    """Per workspace (one integration each): round trips on the critical path, p50 and max, the
    span from the first request's arrival to the last answer, and the chain of the median one."""
    by_workspace = {}
    for r in records:
        by_workspace.setdefault(r["workspace"], []).append(r)
    chains = {w: chain(rs) for w, rs in by_workspace.items()}
    if not chains or any(c is None for c in chains.values()):
        return None
    ranked = sorted(chains, key=lambda w: len(chains[w]))
    median = ranked[(len(ranked) - 1) // 2]
    spans = sorted(max(r["finish_ms"] for r in rs) - min(r["start_ms"] for r in rs)
                   for rs in by_workspace.values())
    lengths = [len(chains[w]) for w in ranked]
    return {"round_trips_p50": lengths[(len(lengths) - 1) // 2], "round_trips_max": lengths[-1],
            "round_trips_min": lengths[0],
            "span_ms_p50": spans[(len(spans) - 1) // 2], "span_ms_max": spans[-1],
            "median_chain": [endpoint(r) for r in chains[median]],
            "longest_chain": _timed(chains[ranked[-1]])}


def _timed(records):
    """A chain as `+start–finish ms status endpoint`, from its first request's arrival."""
    t0 = records[0]["start_ms"]
    return [f"+{r['start_ms'] - t0}-{r['finish_ms'] - t0} ms {r['status']} {endpoint(r)}" for r in records]


def summarise(records, n):
    """Requests by endpoint (total and per integration), failures, and the spread by workspace."""
    by_endpoint = Counter(endpoint(r) for r in records)
    by_workspace = Counter(r["workspace"] for r in records)
    spread = sorted(by_workspace.values()) or [0]
    return {
        "total": len(records),
        "per_integration": round(len(records) / n, 2),
        # Expected ones too, such as the 404 of looking a catalog up before creating it.
        "non_2xx": dict(Counter(f"{r['status']} {endpoint(r)}" for r in records
                                if not 200 <= r["status"] < 300)),
        "workspaces_touched": len(by_workspace),
        "critical_path": critical_path(records),
        "per_workspace_min_max": [spread[0], spread[-1]],
        "by_endpoint": {k: {"total": v, "per_integration": round(v / n, 2)}
                        for k, v in sorted(by_endpoint.items(), key=lambda kv: -kv[1])},
    }
