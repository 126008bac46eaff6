"""Server cost per DynamoDB request for two Nimbus builds side by side, taking turns.

For each run of nimbus-loadgen against one build it reports, per request: the
server's CPU time (sum of its threads' /proc schedstat run time, ns precision),
its context switches (voluntary, i.e. it slept, and involuntary, all threads), the load
generator's own CPU time (its threads' schedstat too), all sampled inside
the measured window only, and the run's ops/s and
p50/p99. After each run it also measures the server's CPU while idle, so a
build that keeps spinning after the load stops shows up.

Wall-clock numbers on this shared 2-core machine are noisy; CPU and context
switches per request are the steadier signal, and interleaving the builds
spreads drift in load over both.

usage: cpu.py BEFORE_BINARY AFTER_BINARY LOADGEN WORKLOADS CONNECTIONS SECONDS REPEATS
  e.g. cpu.py base/nimbus release/nimbus release/nimbus-loadgen get,query 1,16 5 3
LOADGEN may be two binaries, BEFORE_LOADGEN,AFTER_LOADGEN, to compare load
generators (give the same server binary twice)."""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import free_port, machine, wait_http  # noqa: E402

IDLE_SECONDS = 2.0


def threads(pid):
    return os.listdir(f"/proc/{pid}/task")


def server_cost(pid):
    """(CPU seconds, (voluntary, involuntary) context switches) summed over the process's threads."""
    cpu, voluntary, involuntary = 0, 0, 0
    for tid in threads(pid):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                cpu += int(f.read().split()[0])
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        voluntary += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        involuntary += int(line.split()[1])
        except FileNotFoundError:  # a thread that ended meanwhile
            pass
    return cpu / 1e9, (voluntary, involuntary)


class Server:
    def __init__(self, binary):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.data_dir = tempfile.mkdtemp(prefix="nimbus-ddb-cpu-", dir=os.environ.get("NIMBUS_BENCH_DIR"))
        self.proc = subprocess.Popen(
            [binary, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", self.data_dir,
             "--auth", "on"],
            env={**os.environ, "RUST_LOG": "warn"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"{self.endpoint}/_nimbus/health")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def run(server, loadgen, workload, conns, secs, table):
    cmd = [loadgen, "--endpoint", server.endpoint, "--workload", workload, "--connections", str(conns),
           "--duration", f"{secs}s", "--warmup", "1s", "--items", os.environ.get("ITEMS", "10000"),
           "--table", table]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Table set-up and pre-loading are not the workload: sample both
    # processes only inside the measured window, which starts 50 ms + 1 s
    # warm-up after the load generator says the load starts.
    for line in proc.stderr:
        if "load starts" in line:
            break
    time.sleep(1.2)
    (cpu0, sw0), client0, t0 = server_cost(server.proc.pid), server_cost(proc.pid)[0], time.monotonic()
    time.sleep(secs - 0.4)
    (cpu1, sw1), client1, t1 = server_cost(server.proc.pid), server_cost(proc.pid)[0], time.monotonic()
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"nimbus-loadgen failed: {err}")
    r = json.loads(out)
    requests = r["ops_per_sec"] * (t1 - t0)
    time.sleep(0.5)
    idle0 = server_cost(server.proc.pid)[0]
    time.sleep(IDLE_SECONDS)
    idle = (server_cost(server.proc.pid)[0] - idle0) / IDLE_SECONDS
    return {
        "cpu_us": (cpu1 - cpu0) / requests * 1e6,
        "switches": (sw1[0] - sw0[0]) / requests,
        "preempted": (sw1[1] - sw0[1]) / requests,
        "client_us": (client1 - client0) / requests * 1e6,
        "ops": r["ops_per_sec"], "p50": r["p50_us"], "p99": r["p99_us"], "errors": r["errors"],
        "idle_cpu_pct": idle * 100,
    }


def main():
    before, after = sys.argv[1:3]
    loadgens = sys.argv[3].split(",")
    loadgen = {"before": loadgens[0], "after": loadgens[-1]}
    workloads, conns = sys.argv[4].split(","), [int(c) for c in sys.argv[5].split(",")]
    secs, repeats = int(sys.argv[6]), int(sys.argv[7])
    print(machine(), "load", os.getloadavg(), flush=True)
    servers = {"before": Server(before), "after": Server(after)}
    results = {}
    try:
        for i in range(repeats):
            for w in workloads:
                for c in conns:
                    order = list(servers.items()) if i % 2 == 0 else list(reversed(servers.items()))
                    for name, server in order:
                        r = run(server, loadgen[name], w, c, secs, f"cpu_{w}_{c}_{i}")
                        results.setdefault((w, c, name), []).append(r)
                        print(i, w, c, name, json.dumps({k: round(v, 2) for k, v in r.items()}),
                              "load %.1f" % os.getloadavg()[0], flush=True)
    finally:
        for server in servers.values():
            server.stop()
    print("medians (server CPU µs/req, switches/req voluntary/involuntary, client CPU µs/req, ops/s, p50 µs, p99 µs, idle CPU %):")
    for (w, c, name), rs in sorted(results.items()):
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(f"{w:7} {c:3} {name:6} cpu {med['cpu_us']:6.1f}  sw {med['switches']:5.2f}/{med['preempted']:5.2f}  "
              f"client {med['client_us']:6.1f}  ops {med['ops']:9.0f}  p50 {med['p50']:7.1f}  "
              f"p99 {med['p99']:7.1f}  idle {med['idle_cpu_pct']:5.2f}%  errors {sum(r['errors'] for r in rs)}")


if __name__ == "__main__":
    main()
