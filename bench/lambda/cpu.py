"""Warm Invoke of the seed handler for several builds side by side, taking
turns: wrk at the given caller counts, and per invoke the CPU (utime+stime
from /proc/<pid>/stat) and context switches of the Nimbus process and,
separately, of its environments (the runtime processes). CPU per invoke is
much steadier than latency on a shared machine.

usage: cpu.py BINARY[,BINARY...] [ROUNDS=3] [SECONDS=5] [CALLERS=1,16]"""

import json
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import SEED, Nimbus, machine, wrk  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def descendants(pid):
    children = {}
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{p}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(parent, []).append(int(p))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_s(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            f = stat.read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / TICK
    except OSError:
        return 0.0


def switches(pid):
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/status") as status:
                total += sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)
    except OSError:
        pass
    return total


def sample(nimbus):
    envs = descendants(nimbus.proc.pid)
    return (cpu_s(nimbus.proc.pid), sum(map(cpu_s, envs)), switches(nimbus.proc.pid), sum(map(switches, envs)))


def main():
    binaries = sys.argv[1].split(",")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    callers = [int(c) for c in (sys.argv[4] if len(sys.argv) > 4 else "1,16").split(",")]
    print(f"Machine: {machine()}", flush=True)
    results = {(b, c): [] for b in binaries for c in callers}
    for _ in range(rounds):
        for binary in binaries:
            nimbus = Nimbus(binary)
            try:
                nimbus.function("seed", SEED, "lambda_function.lambda_handler", Timeout=30)
                path, headers = nimbus.signed_invoke("seed")
                for c in callers:
                    # Warm-up long enough for c environments to finish their cold starts.
                    wrk(nimbus.endpoint + path, c, 3 if c == 1 else 15, headers, "POST", b"{}", timeout_s=30)
                    load = os.getloadavg()[0]
                    before = sample(nimbus)
                    run = wrk(nimbus.endpoint + path, c, seconds, headers, "POST", b"{}", timeout_s=30)
                    after = sample(nimbus)
                    invokes = max(run["rps"] * seconds, 1)
                    d = [a - b for a, b in zip(after, before)]
                    row = {"rps": run["rps"], "p50_us": run["p50_us"], "p99_us": run["p99_us"],
                           "nimbus_cpu_us": d[0] / invokes * 1e6, "runtime_cpu_us": d[1] / invokes * 1e6,
                           "nimbus_switches": d[2] / invokes, "runtime_switches": d[3] / invokes, "load": load}
                    results[(binary, c)].append(row)
                    print(os.path.basename(binary), c, json.dumps({k: round(v, 1) for k, v in row.items()}), flush=True)
            finally:
                nimbus.stop()
    print("\nmedians:")
    for (binary, c), rows in results.items():
        print(os.path.basename(binary), c, json.dumps({k: round(statistics.median(r[k] for r in rows), 1) for k in rows[0]}))


if __name__ == "__main__":
    main()
