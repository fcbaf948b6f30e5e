"""The N Secrets and DatabricksIntegrations, and what the watch saw happen to each."""

import json
import threading
import time
from datetime import datetime

from simulator import workspace

NAMESPACE = "bench"
LABEL = "uc-operator.dev/bench"
DBI_PATH = f"/apis/uc-operator.dev/v1alpha1/namespaces/{NAMESPACE}/databricksintegrations"


def manifests(n, ports, interval):
    """kubectl-ready JSON documents, each Secret right before the integration that reads it (so
    no integration starts before its Secret exists)."""
    docs = []
    for i in range(1, n + 1):
        w = workspace(i)
        name = f"bench-{i:05d}"
        meta = {"name": name, "namespace": NAMESPACE, "labels": {LABEL: "true"}}
        # Credentials opt in: the operator uses only Secrets labelled uc-operator.dev/credentials.
        secret_meta = {**meta, "name": f"{name}-token",
                       "labels": {LABEL: "true", "uc-operator.dev/credentials": "true"}}
        docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": secret_meta,
                     "type": "Opaque", "stringData": {"token": w["token"]}})
        docs.append({"apiVersion": "uc-operator.dev/v1alpha1", "kind": "DatabricksIntegration",
                     "metadata": meta, "spec": {
                         "workspaceUrl": f"localhost:{ports[w['name']]}",
                         "httpPath": f"/sql/1.0/warehouses/{w['warehouse']}",
                         "authenticationType": "token",
                         "tokenSecretRef": {"name": f"{name}-token"},
                         "catalog": f"bench_{i:05d}",
                         "revalidationInterval": interval,
                     }})
    return docs


def as_file(docs):
    return "\n".join(json.dumps(d) for d in docs)


def parse_time(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def _ready(obj):
    status = obj.get("status") or {}
    ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)
    return (status.get("phase") == "enabled" and ready is not None and ready["status"] == "True"
            and status.get("observedGeneration") == obj["metadata"].get("generation"))


class Tracker:
    """Fed by the watch: when each integration was first seen, first had a status, and first was
    enabled (local clock), plus its latest status. Phases wait on it instead of listing N
    objects in a loop, which would load the API server under measurement."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {}  # name -> {"added", "status", "enabled"}: time.time() values
        self.latest = {}  # name -> latest object

    def on_event(self, kind, obj):
        name, now = obj["metadata"]["name"], time.time()
        with self.lock:
            if kind == "DELETED":
                self.latest.pop(name, None)
                return
            t = self.seen.setdefault(name, {"added": now, "status": None, "enabled": None})
            if obj.get("status", {}).get("phase") and t["status"] is None:
                t["status"] = now
            if _ready(obj) and t["enabled"] is None:
                t["enabled"] = now
            self.latest[name] = obj

    def count(self, predicate):
        with self.lock:
            return sum(1 for o in self.latest.values() if predicate(o))

    def enabled(self):
        return self.count(_ready)

    def field(self, getter):
        with self.lock:
            return {name: getter(o) for name, o in self.latest.items()}

    def times(self):
        with self.lock:
            return {name: dict(t) for name, t in self.seen.items()}

    def phases(self):
        with self.lock:
            out = {}
            for o in self.latest.values():
                phase = (o.get("status") or {}).get("phase") or "none"
                out[phase] = out.get(phase, 0) + 1
            return out


def last_validation(obj):
    return (obj.get("status") or {}).get("lastValidationTime")


def handled_request(obj):
    return (obj.get("status") or {}).get("lastHandledReconcileAt")


def timestamp_durations(objects):
    """Per integration, seconds from creationTimestamp to the Ready condition's
    lastTransitionTime: the API's own record, at its 1 s resolution."""
    out = []
    for o in objects:
        ready = next((c for c in (o.get("status") or {}).get("conditions", []) if c["type"] == "Ready"), None)
        if ready and ready["status"] == "True":
            out.append(parse_time(ready["lastTransitionTime"]) - parse_time(o["metadata"]["creationTimestamp"]))
    return out
