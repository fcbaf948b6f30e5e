"""etcd + kube-apiserver with an audit log, and a small client for the bench's own calls.

The steps are hack/control-plane.sh's (envtest's flags), repeated here because the bench needs two
things that script does not take: an audit policy that logs the operator's requests, and a user of
its own for the operator so its writes can be told apart from the bench's.
"""

import json
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import process

OPERATOR_USER = "uc-operator"
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")

# Everything the operator does (reads too, for the record), every write by anyone; nothing else.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived", "ResponseStarted"],
    "rules": [
        {"level": "Metadata", "users": [OPERATOR_USER]},
        {"level": "Metadata", "verbs": list(WRITE_VERBS)},
        {"level": "None"},
    ],
}


class ControlPlane:
    def __init__(self, dir, bin):
        self.dir, self.bin = Path(dir), Path(bin)
        self.audit_path = self.dir / "audit.log"

    def start(self):
        d = self.dir
        (d / "pki").mkdir(parents=True)
        self._service_account_keys()
        self.admin_token = "admin-" + _random_hex()
        self.operator_token = "operator-" + _random_hex()
        (d / "tokens.csv").write_text(
            f'{self.admin_token},admin,admin,"system:masters"\n'
            f'{self.operator_token},{OPERATOR_USER},{OPERATOR_USER},"system:masters"\n')
        (d / "audit-policy.json").write_text(json.dumps(AUDIT_POLICY))
        etcd_port, peer_port, api_port = (process.free_port() for _ in range(3))
        etcd = process.start("etcd", [
            str(self.bin / "etcd"), "--data-dir", str(d / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"default=http://127.0.0.1:{peer_port}", "--unsafe-no-fsync=true",
        ], d)
        process.wait_until("etcd", 30, lambda: _http_ok(f"http://127.0.0.1:{etcd_port}/health"), proc=etcd)
        self.server = f"https://127.0.0.1:{api_port}"
        api = process.start("kube-apiserver", [
            str(self.bin / "kube-apiserver"), f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            f"--cert-dir={d / 'pki'}", f"--secure-port={api_port}", "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1", "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true", "--disable-admission-plugins=ServiceAccount",
            "--authorization-mode=RBAC", f"--token-auth-file={d / 'tokens.csv'}",
            f"--service-account-issuer={self.server}/", f"--service-account-key-file={d / 'sa.pub'}",
            f"--service-account-signing-key-file={d / 'sa.key'}",
            f"--audit-policy-file={d / 'audit-policy.json'}", f"--audit-log-path={self.audit_path}",
            "--audit-log-maxsize=0", "--audit-log-format=json",
        ], d)
        self.ca = d / "pki" / "apiserver.crt"
        process.wait_until("kube-apiserver certificate", 60,
                           lambda: self.ca.exists() and self.ca.stat().st_size > 0, proc=api)
        self.kubeconfig = self._kubeconfig("kubeconfig", self.admin_token)
        self.operator_kubeconfig = self._kubeconfig("operator-kubeconfig", self.operator_token)
        self.api = Kube(self.server, self.admin_token, self.ca)
        process.wait_until("kube-apiserver /readyz", 90, lambda: self.api.ok("/readyz"), proc=api)
        # The default namespace and the RBAC bootstrap roles come from post-start hooks.
        process.wait_until("default namespace", 60, lambda: self.api.ok("/api/v1/namespaces/default"))
        self.apiserver = api

    def _service_account_keys(self):
        d = self.dir
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
        run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(d / "sa.ec"))
        run("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", str(d / "sa.ec"), "-out", str(d / "sa.key"))
        run("openssl", "ec", "-in", str(d / "sa.key"), "-pubout", "-out", str(d / "sa.pub"))

    def _kubeconfig(self, name, token):
        path = self.dir / name
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "local",
            "clusters": [{"name": "local", "cluster": {"server": self.server,
                                                       "certificate-authority": str(self.ca)}}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "u"}}],
        }))
        return path

    def kubectl(self, *args, timeout=600):
        cmd = [str(self.bin / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args]
        r = subprocess.run(cmd, text=True, capture_output=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args[:3])} ...: {r.stderr.strip()[-2000:]}")
        return r.stdout


def _random_hex():
    return subprocess.run(["openssl", "rand", "-hex", "16"], check=True, capture_output=True,
                          text=True).stdout.strip()


def _http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


class Kube:
    """Just enough of the Kubernetes API: GET, merge PATCH, and a watch."""

    def __init__(self, server, token, ca):
        self.server, self.token = server, token
        self.ssl = ssl.create_default_context(cafile=str(ca))

    def _request(self, method, path, body=None, content_type="application/json", timeout=60):
        """One request; 429 and 503 (a server still starting, or shedding load) are retried for a
        minute, as client-go does."""
        req = urllib.request.Request(self.server + path, method=method, data=body,
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": content_type})
        deadline = time.monotonic() + 60
        while True:
            try:
                return urllib.request.urlopen(req, context=self.ssl, timeout=timeout)
            except urllib.error.HTTPError as e:
                if e.code not in (429, 503) or time.monotonic() > deadline:
                    raise
                time.sleep(min(float(e.headers.get("Retry-After") or 1), 5))

    def ok(self, path):
        try:
            with self._request("GET", path, timeout=5):
                return True
        except (OSError, urllib.error.HTTPError):
            return False

    def get(self, path):
        with self._request("GET", path) as r:
            return json.loads(r.read())

    def merge_patch(self, path, patch):
        with self._request("PATCH", path, json.dumps(patch).encode(),
                           "application/merge-patch+json") as r:
            r.read()

    def watch(self, path, resource_version, on_event, stop):
        """Calls `on_event(type, object)` for every change after `resource_version` until `stop` is
        set, resuming where it left off when the server ends a watch."""
        rv = resource_version
        while not stop.is_set():
            query = f"?watch=1&allowWatchBookmarks=true&timeoutSeconds=60&resourceVersion={rv}"
            try:
                with self._request("GET", path + query, timeout=90) as r:
                    for line in r:
                        event = json.loads(line)
                        obj = event["object"]
                        if event["type"] == "ERROR":  # 410 Gone: too old to resume, list again
                            rv = self.list_into(path, on_event)
                            break
                        rv = obj["metadata"]["resourceVersion"]
                        if event["type"] != "BOOKMARK":
                            on_event(event["type"], obj)
                        if stop.is_set():
                            return
            except OSError:
                if not stop.is_set():
                    time.sleep(0.5)


    def list_into(self, path, on_event):
        """Feeds every item of `path` to `on_event` as ADDED; returns the list's resourceVersion."""
        listing = self.get(path)
        for item in listing["items"]:
            on_event("ADDED", item)
        return listing["metadata"]["resourceVersion"]


def start_watch(kube, path, on_event):
    """Lists `path`, then watches it in a daemon thread; returns the Event that stops it."""
    rv = kube.list_into(path, on_event)
    stop = threading.Event()
    threading.Thread(target=kube.watch, daemon=True, args=(path, rv, on_event, stop)).start()
    return stop


class AuditLog:
    """Reads the API server's audit log from a mark on: one JSON event a line."""

    def __init__(self, path):
        self.path = Path(path)

    def mark(self):
        return self.path.stat().st_size if self.path.exists() else 0

    def events_since(self, mark):
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(mark)
            data = f.read()
        # A line still being written has no newline yet: leave it for the next read.
        return [json.loads(line) for line in data.split(b"\n")[:-1] if line.strip()]


def operator_requests(events):
    """Counts the operator's completed requests: {"writes": {key: n}, "reads": {key: n}} with
    keys such as `patch databricksintegrations/status` or `create events`."""
    out = {"writes": {}, "reads": {}, "failed_writes": 0}
    for e in events:
        if e.get("user", {}).get("username") != OPERATOR_USER or e.get("stage") != "ResponseComplete":
            continue
        ref = e.get("objectRef", {})
        resource = ref.get("resource", e.get("requestURI", "?"))
        if ref.get("subresource"):
            resource += "/" + ref["subresource"]
        verb = e["verb"]
        kind = "writes" if verb in WRITE_VERBS else "reads"
        key = f"{verb} {resource}"
        out[kind][key] = out[kind].get(key, 0) + 1
        if kind == "writes" and e.get("responseStatus", {}).get("code", 200) >= 300:
            out["failed_writes"] += 1
    return out
