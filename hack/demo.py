#!/usr/bin/env python3
"""`make demo`: the operator reconciling examples/ against a local control plane and the
Databricks simulator, ending with every example `enabled`.

Starts etcd + kube-apiserver (hack/control-plane.sh), the simulator with one workspace per
example (hack/demo-scenario.yaml), installs the CRD, runs `uc-operator run`, applies the examples
with their workspace hosts pointed at the simulator, runs the manual example's published setup
script as a privileged user would, waits for every example to be enabled, prints them, and tears
everything down (KEEP=1 leaves it running).
"""

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "bin"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
STATE = ROOT / ".demo"
ADMIN_TOKEN = "dapi-demo-admin-token"

# Example host -> simulator workspace name (see hack/demo-scenario.yaml).
HOSTS = {
    "analytics.cloud.databricks.com": "analytics",
    "sales.cloud.databricks.com": "sales",
    "adb-1234567890123456.7.azuredatabricks.net": "finance",
    "marketing.cloud.databricks.com": "marketing",
    "research.cloud.databricks.com": "research",
    "platform-a.cloud.databricks.com": "platform-a",
    "platform-b.cloud.databricks.com": "platform-b",
    "platform-c.cloud.databricks.com": "platform-c",
    "logistics.cloud.databricks.com": "logistics",
}

procs = []


def log(msg):
    print(f"==> {msg}", flush=True)


def kubectl(*args, check=True, capture=True):
    cmd = [str(BIN / "kubectl"), "--kubeconfig", str(STATE / "cp" / "kubeconfig"), *args]
    r = subprocess.run(cmd, text=True, capture_output=capture)
    if check and r.returncode != 0:
        sys.exit(f"kubectl {' '.join(args)} failed:\n{r.stdout}{r.stderr}")
    return r.stdout if capture else ""


def start(name, cmd, env=None):
    out = open(STATE / f"{name}.log", "w")
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    procs.append(p)
    return p


def certificate():
    """An RSA key and self-signed certificate for the Entra certificate example."""
    key, crt = STATE / "finance.key", STATE / "finance.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(crt), "-days", "2", "-subj", "/CN=uc-operator-demo-finance"],
        check=True, capture_output=True)
    fp = subprocess.run(["openssl", "x509", "-in", str(crt), "-noout", "-fingerprint", "-sha1"],
                        check=True, capture_output=True, text=True).stdout
    thumbprint = fp.split("=", 1)[1].strip().replace(":", "")
    return key.read_text(), crt.read_text(), thumbprint


def public_issuer():
    """The control plane as the workload identity example's issuer: its URL, and its discovery
    document and keys readable without credentials (as a public issuer's are), as Databricks
    fetches them."""
    kubectl("create", "clusterrolebinding", "demo-public-issuer",
            "--clusterrole=system:service-account-issuer-discovery", "--group=system:unauthenticated")
    server = re.search(r"server: (\S+)", (STATE / "cp" / "kubeconfig").read_text()).group(1)
    return server + "/", (STATE / "cp" / "pki" / "apiserver.crt").read_text()


def start_simulator(cert_pem):
    scenario = (ROOT / "hack" / "demo-scenario.yaml").read_text()
    indented = "\n".join("          " + line for line in cert_pem.strip().splitlines())
    scenario = scenario.replace("          CERTIFICATE_PEM", indented)
    issuer, issuer_ca = public_issuer()
    scenario = scenario.replace("ISSUER_URL", issuer)
    scenario += "issuer_ca_pem: |\n" + "\n".join("  " + line for line in issuer_ca.strip().splitlines()) + "\n"
    (STATE / "scenario.yaml").write_text(scenario)
    sim_dir = STATE / "sim"
    sim_dir.mkdir()
    start("databricks-sim", [str(TARGET / "databricks-sim"), "--scenario", str(STATE / "scenario.yaml"),
                             "--state-dir", str(sim_dir)])
    ready = sim_dir / "ready.json"
    deadline = time.time() + 60
    while not ready.exists():
        if time.time() > deadline or procs[-1].poll() is not None:
            sys.exit("the simulator did not start:\n" + (STATE / "databricks-sim.log").read_text())
        time.sleep(0.2)
    time.sleep(0.2)
    info = json.loads(ready.read_text())
    return {w["name"]: w["port"] for w in info["workspaces"]}, info["ca_path"]


def rewrite(text, ports, key_pem, thumbprint):
    """Points an example at the simulator: hosts, the Entra authority, the demo certificate."""
    for host, ws in HOSTS.items():
        text = re.sub(rf"(https://)?{re.escape(host)}(:443)?", f"localhost:{ports[ws]}", text)
    text = text.replace("https://login.microsoftonline.com/", f"https://localhost:{ports['finance']}/")
    text = re.sub(r"publicCertificateThumbprint: \S+", f"publicCertificateThumbprint: {thumbprint}", text)
    key = "\n".join("    " + line for line in key_pem.strip().splitlines())
    text = re.sub(r"    -----BEGIN PRIVATE KEY-----\n.*?\n    -----END PRIVATE KEY-----", lambda _: key, text,
                  flags=re.S)
    return text


def run_sql(port, ca_path, warehouse, statement):
    """What a privileged user does in a SQL editor: one statement through the Statement API."""
    ctx = ssl.create_default_context(cafile=ca_path)

    def call(method, path, body=None):
        req = urllib.request.Request(f"https://localhost:{port}{path}", method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=ctx) as r:
            return json.loads(r.read() or b"{}")

    r = call("POST", "/api/2.0/sql/statements",
             {"warehouse_id": warehouse, "statement": statement, "wait_timeout": "10s"})
    while r["status"]["state"] in ("PENDING", "RUNNING"):
        time.sleep(0.2)
        r = call("GET", f"/api/2.0/sql/statements/{r['statement_id']}")
    if r["status"]["state"] != "SUCCEEDED":
        sys.exit(f"{statement}\nfailed: {r['status']}")


def statements(script):
    lines = [l for l in script.splitlines() if not l.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def main():
    if STATE.exists():
        stop_leftovers()
        shutil.rmtree(STATE)
    STATE.mkdir()
    log("starting etcd and kube-apiserver")
    subprocess.run([str(ROOT / "hack" / "control-plane.sh"), "start", str(STATE / "cp")], check=True)
    log("installing the CRD")
    kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/databricksintegrations.uc-operator.dev")

    key_pem, cert_pem, thumbprint = certificate()
    log("starting the Databricks simulator")
    ports, ca_path = start_simulator(cert_pem)
    for name, port in sorted(ports.items()):
        print(f"    {name:<11} https://localhost:{port}")

    log("starting uc-operator")
    env = dict(os.environ, KUBECONFIG=str(STATE / "cp" / "kubeconfig"), RUST_LOG="info")
    start("uc-operator", [str(TARGET / "uc-operator"), "run", "--ca-bundle", ca_path, "--log-format", "text",
                          "--metrics-addr", "127.0.0.1:0", "--health-addr", "127.0.0.1:0",
                          "--manual-setup-poll", "2s", "--retry-base", "2s",
                          # the simulator serves on localhost, which the default allow-list refuses
                          "--allowed-hosts", "localhost"], env=env)

    log("applying examples/ (workspace hosts pointed at the simulator)")
    names = []
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        text = rewrite(example.read_text(), ports, key_pem, thumbprint)
        (STATE / example.name).write_text(text)
        kubectl("apply", "-n", "default", "-f", str(STATE / example.name))
        names += re.findall(r"kind: DatabricksIntegration\nmetadata:\n  name: (\S+)", text)

    log("running the manual example's published setup script as a privileged user")
    deadline = time.time() + 120
    while True:
        out = kubectl("get", "configmap", "marketing-uc-setup", "-n", "default", "-o", "json", check=False)
        if out:
            script = json.loads(out)["data"]["setup.sql"]
            break
        if time.time() > deadline:
            sys.exit("the manual setup ConfigMap never appeared:\n" + (STATE / "uc-operator.log").read_text()[-4000:])
        time.sleep(1)
    for statement in statements(script):
        run_sql(ports["marketing"], ca_path, "0a1b2c3d4e5f6a7b", statement)

    log(f"waiting for {len(names)} integrations to be enabled")
    deadline = time.time() + 180
    while True:
        items = json.loads(kubectl("get", "dbi", "-n", "default", "-o", "json"))["items"]
        phases = {i["metadata"]["name"]: i.get("status", {}).get("phase") for i in items}
        if all(phases.get(n) == "enabled" for n in names):
            break
        if time.time() > deadline:
            print(kubectl("get", "dbi", "-A", "-o", "yaml"))
            sys.exit(f"not all enabled: {phases}")
        time.sleep(1)

    print(kubectl("get", "dbi", "-A"))
    print(kubectl("get", "dbi", "-n", "default", "-o",
                  "custom-columns=NAME:.metadata.name,READY:.status.conditions[?(@.type==\"Ready\")].reason,"
                  "VALIDATED:.status.conditions[?(@.type==\"Validated\")].reason,"
                  "BOOTSTRAPPED:.status.conditions[?(@.type==\"Bootstrapped\")].reason,"
                  "TESTS:.status.validationResults.status"))
    log("every example is enabled")


def stop_leftovers():
    if (STATE / "cp").exists():
        subprocess.run([str(ROOT / "hack" / "control-plane.sh"), "stop", str(STATE / "cp")])


def teardown():
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    stop_leftovers()
    shutil.rmtree(STATE, ignore_errors=True)


if __name__ == "__main__":
    keep = os.environ.get("KEEP") == "1"
    try:
        main()
    except BaseException:
        if not keep:
            teardown()
        raise
    if keep:
        print(f"KEEP=1: left running; KUBECONFIG={STATE / 'cp' / 'kubeconfig'}; "
              f"stop with: kill {' '.join(str(p.pid) for p in procs)}; hack/control-plane.sh stop {STATE / 'cp'}")
    else:
        teardown()
