"""Figures out of raw measurements, and the table the bench prints."""

import math


def percentile(values, p):
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def durations(times):
    """Per-resource figures from the watch's local-clock times (see workload.Tracker)."""
    added = [t["added"] for t in times.values()]
    enabled = [t["enabled"] for t in times.values() if t["enabled"]]
    to_enabled = [t["enabled"] - t["added"] for t in times.values() if t["enabled"]]
    working = [t["enabled"] - t["status"] for t in times.values() if t["enabled"] and t["status"]]
    first, last = min(added), max(added)
    done = max(enabled) if len(enabled) == len(times) else None
    r = lambda x: None if x is None else round(x, 2)  # noqa: E731
    return {
        "create_span_s": r(last - first),
        "all_enabled_from_first_create_s": r(done - first) if done else None,
        "all_enabled_from_last_create_s": r(done - last) if done else None,
        "per_resource_p50_s": r(percentile(to_enabled, 50)),
        "per_resource_p99_s": r(percentile(to_enabled, 99)),
        "per_resource_max_s": r(max(to_enabled, default=None)),
        # From the first status write (the operator picked it up) to enabled: one reconcile's
        # wall time, which the latency times the critical path bounds from below.
        "first_status_to_enabled_p50_s": r(percentile(working, 50)),
        "first_status_to_enabled_p99_s": r(percentile(working, 99)),
    }


def per_integration(counts, n):
    total = sum(counts.values())
    return {"total": total, "per_integration": round(total / n, 2),
            "by_key": {k: {"total": v, "per_integration": round(v / n, 2)}
                       for k, v in sorted(counts.items(), key=lambda kv: -kv[1])}}


def _fmt(value, unit=""):
    return "—" if value is None else f"{value}{unit}"


_PREFIXES = ("/api/2.1/unity-catalog/", "/api/2.0/preview/scim/v2/", "/api/2.0/", "/api/1.2/")


def _short(key):
    """`GET /api/2.1/unity-catalog/catalogs/{id}` as `GET catalogs/{id}`, for the table."""
    for prefix in _PREFIXES:
        key = key.replace(prefix, "")
    return key


def _breakdown(by_key):
    return ", ".join(f"{v['per_integration']:g} {_short(k)}" for k, v in by_key.items()) or "none"


def _round_trips(result):
    """An upper bound: the reconcile's wall time also holds Kubernetes writes and CPU."""
    p50, latency = result["setup"]["times"]["first_status_to_enabled_p50_s"], result["params"]["latency_ms"]
    return "—" if not p50 or not latency else f"≤ {round(p50 * 1000 / latency, 1)}"


def _critical_path(phase):
    """Measured from the request log's timestamps (simulator.critical_path)."""
    c = phase["databricks"].get("critical_path")
    if not c:
        return "— (the simulator does not stamp its requests)"
    return (f"{c['round_trips_p50']} p50 / {c['round_trips_max']} max (min {c['round_trips_min']}); "
            f"first request to last answer p50 {c['span_ms_p50']} ms / max {c['span_ms_max']} ms")


def _chain(phase):
    c = phase["databricks"].get("critical_path")
    return " → ".join(_short(k) for k in c["median_chain"]) if c else "—"


def rows(result):
    """(figure, value) pairs: the issue's table, from one run."""
    n, s = result["params"]["n"], result["setup"]
    t, ph = s["times"], {p["name"]: p for p in (result["rest"], result["revalidation"], result["restart"])}
    usage = lambda p: (f"RSS {p['usage']['rss_mib']} MiB (peak {p['usage']['hwm_mib']}; "  # noqa: E731
                       f"anon {p['usage'].get('anon_mib', '?')}, file {p['usage'].get('file_mib', '?')}), "
                       f"CPU {p['usage']['cpu_s']} s (+{p['usage']['cpu_delta_s']} s in the phase), "
                       f"{p['usage'].get('sockets', '?')} sockets open")
    concurrency = result["params"]["concurrency"] or "binary default"
    if result["operator_ignored"]:
        concurrency = f"binary default ({'; '.join(result['operator_ignored'])})"
    out = [
        ("integrations, latency, concurrency", f"{n}, {result['params']['latency_ms']} ms, {concurrency}"),
        ("create span (first to last create)", _fmt(t["create_span_s"], " s")),
        ("all enabled, from the first create", _fmt(t["all_enabled_from_first_create_s"], " s")),
        ("all enabled, from the last create", _fmt(t["all_enabled_from_last_create_s"], " s")),
        ("per resource to enabled p50 / p99", f"{_fmt(t['per_resource_p50_s'], ' s')} / {_fmt(t['per_resource_p99_s'], ' s')}"),
        ("per resource, first status to enabled p50 / p99",
         f"{_fmt(t['first_status_to_enabled_p50_s'], ' s')} / {_fmt(t['first_status_to_enabled_p99_s'], ' s')}"),
        ("  ≈ round trips on its critical path (p50 / latency)", _round_trips(result)),
        ("critical path of a setup (sequential round trips)", _critical_path(s)),
        ("  the median setup's chain", _chain(s)),
        ("Databricks requests per fresh setup", f"{s['databricks']['per_integration']}"),
        ("  not 2xx", ", ".join(f"{v} × {_short(k)}" for k, v in s["databricks"]["non_2xx"].items()) or "none"),
        ("  by endpoint", _breakdown(s["databricks"]["by_endpoint"])),
        ("Kubernetes writes per integration", f"{s['kube_writes']['per_integration']}"),
        ("  by resource", _breakdown(s["kube_writes"]["by_key"])),
        ("Kubernetes reads per integration", f"{s['kube_reads']['per_integration']}"),
        ("operator after setup", usage(s)),
        ("CPU per integration (setup, incl. start)", f"{round(s['usage']['cpu_s'] * 1000 / n, 2)} ms"),
    ]
    for name, label in (("rest", "at rest"), ("revalidation", "re-validation round"),
                        ("restart", "after restart")):
        p = ph[name]
        if name == "revalidation":
            out.append((f"{label}: trigger, time for all", f"{p['trigger']}, {p['wait_s']} s"))
        extra = "" if name == "revalidation" else f" ({p['window_s']} s)"
        out.append((f"{label}: requests / writes{extra}",
                    f"{p['databricks']['total']} / {p['kube_writes']['total']}"
                    f" ({p['databricks']['per_integration']} / {p['kube_writes']['per_integration']} per integration)"))
        if name == "revalidation":
            out.append(("  requests by endpoint", _breakdown(p["databricks"]["by_endpoint"])))
            out.append(("  critical path (sequential round trips)", _critical_path(p)))
            out.append(("  writes by resource", _breakdown(p["kube_writes"]["by_key"])))
        out.append((f"operator {label}", usage(p)))
    return out


def table(result):
    pairs = rows(result)
    width = max(len(k) for k, _ in pairs)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in pairs)


def markdown(results):
    """A side-by-side Markdown table of several runs (for docs/performance.md)."""
    cols = [dict(rows(r)) for r in results]
    keys = [k for k, _ in rows(results[0])]
    names = [f"N = {r['params']['n']}, {r['params']['latency_ms']} ms" for r in results]
    lines = ["| figure | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(cols)]
    lines += ["| " + k.strip() + " | " + " | ".join(c.get(k, "") for c in cols) + " |" for k in keys]
    return "\n".join(lines)
