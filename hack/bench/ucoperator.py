"""`uc-operator run` as the bench starts it: flags the binary accepts, readiness, /proc figures."""

import os
import subprocess
import urllib.request

import process


def supported_flags(binary):
    """The long flags `uc-operator run --help` lists: the bench passes --concurrency and
    --allowed-hosts only to a binary that has them, so it runs on older and newer code alike."""
    text = subprocess.run([str(binary), "run", "--help"], capture_output=True, text=True,
                          check=True).stdout
    return {word.rstrip(",").split("=")[0] for word in text.split() if word.startswith("--")}


class Operator:
    def __init__(self, binary, ca_bundle, kubeconfig, log_dir, concurrency=None):
        self.binary, self.log_dir = binary, log_dir
        self.flags = supported_flags(binary)
        self.health_port = process.free_port()
        self.args = ["run", "--ca-bundle", str(ca_bundle), "--metrics-addr", "127.0.0.1:0",
                     "--health-addr", f"127.0.0.1:{self.health_port}"]
        self.ignored = []
        if concurrency:
            if "--concurrency" in self.flags:
                self.args += ["--concurrency", str(concurrency)]
            else:
                self.ignored.append(f"--concurrency {concurrency} (not accepted by this binary)")
        if "--request-spacing" in self.flags:
            # The re-validation round is asked for seconds after setup; the contract's
            # once-a-minute spacing would only make the bench wait.
            self.args += ["--request-spacing", "1s"]
        if "--allowed-hosts" in self.flags:
            # The simulator's workspaces are localhost:PORT, outside the default cloud domains.
            self.args += ["--allowed-hosts", "*"]
        self.env = dict(os.environ, KUBECONFIG=str(kubeconfig))
        self.env.pop("RUST_LOG", None)  # the operator's own default level, as deployed
        self.proc = None
        self.starts = 0

    def command_line(self):
        return " ".join(["uc-operator", *self.args])

    def start(self):
        self.starts += 1
        self.proc = process.start(f"uc-operator-{self.starts}", [str(self.binary), *self.args],
                                  self.log_dir, self.env)
        process.wait_until("operator /readyz", 120, self._ready, proc=self.proc)

    def _ready(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/readyz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self):
        process.stop(self.proc, grace=30)

    def usage(self):
        return process.usage(self.proc.pid)
