"""Child processes the bench starts, and what /proc says about them.

Every child is registered so that `stop_all` can end it on any exit path (normal end, failure,
Ctrl-C), and each one also gets SIGTERM from the kernel if this script dies without cleaning up
(PR_SET_PDEATHSIG), so no simulator or API server outlives a killed bench.
"""

import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_children = []


def _die_with_parent():
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start(name, cmd, log_dir, env=None):
    """Starts `cmd` with stdout and stderr in LOG_DIR/NAME.log; returns the Popen."""
    log = open(Path(log_dir) / f"{name}.log", "ab")
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                         stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    log.close()
    p.bench_name = name
    _children.append(p)
    return p


def stop(p, grace=15):
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in _children:
        _children.remove(p)


def stop_all():
    """Stops every child still running, the most recently started first."""
    for p in reversed(list(_children)):
        stop(p)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, timeout, check, interval=0.2, proc=None):
    """Polls `check()` until it returns something truthy; fails after `timeout` seconds or when
    `proc` has exited."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: {proc.bench_name} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done after {timeout} s")
        time.sleep(interval)


_TICK = os.sysconf("SC_CLK_TCK")


def usage(pid):
    """RSS and peak RSS (MiB) and CPU seconds (user + system) of a live process."""
    status = Path(f"/proc/{pid}/status").read_text()
    kib = {k: int(v.split()[0]) for k, v in
           (line.split(":", 1) for line in status.splitlines() if line.startswith(("VmRSS", "VmHWM", "RssAnon", "RssFile")))}
    # Fields after the command name, which may itself hold spaces or parentheses.
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(stat[11]), int(stat[12])
    # RssFile is mostly the binary's pages; RssAnon is what the heap (and the allocator) holds.
    return {"rss_mib": round(kib["VmRSS"] / 1024, 1), "hwm_mib": round(kib["VmHWM"] / 1024, 1),
            "anon_mib": round(kib["RssAnon"] / 1024, 1), "file_mib": round(kib["RssFile"] / 1024, 1),
            "cpu_s": round((utime + stime) / _TICK, 2), **_descriptors(pid)}


def _descriptors(pid):
    """Open sockets (the connection pool: where memory held per workspace would show) and fds."""
    fds = sockets = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            sockets += os.readlink(fd).startswith("socket:")
        except OSError:  # closed while we looked
            continue
        fds += 1
    return {"fds": fds, "sockets": sockets}
