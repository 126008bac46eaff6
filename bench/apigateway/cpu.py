"""CPU per request of the Nimbus process (utime+stime from /proc/<pid>/stat,
its Lambda environments excluded) through an HTTP API to the seed handler and
for a direct signed Invoke, for two builds side by side, taking turns.

usage: cpu.py BEFORE_BINARY AFTER_BINARY CONNECTIONS SECONDS REPEATS"""

import json
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import SEED, Nimbus, machine, wait_http, wrk  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as stat:
        f = stat.read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK  # utime, stime


def setup(binary):
    n = Nimbus(binary)
    arn = n.function("seed", SEED, "lambda_function.lambda_handler", Timeout=30)
    api = n.apigw.create_api(Name="bench", ProtocolType="HTTP", Target=arn, RouteKey="GET /hello")["ApiId"]
    host = f"{api}.execute-api.localhost:{n.port}"
    wait_http(f"{n.endpoint}/hello", host)
    return n, host


def run(n, kind, host, conns, secs):
    before = cpu_s(n.proc.pid)
    if kind == "api":
        r = wrk(f"{n.endpoint}/hello", conns, secs, {"Host": host}, timeout_s=30)
    else:
        path, headers = n.signed_invoke("seed")
        r = wrk(n.endpoint + path, conns, secs, headers, method="POST", body=b"{}", timeout_s=30)
    used = cpu_s(n.proc.pid) - before
    reqs = r["rps"] * secs
    return {"us_per_req": used / reqs * 1e6 if reqs else float("nan"), "rps": r["rps"], "errors": r["errors"] + r["socket_errors"]}


def main():
    bins = dict(zip(["before", "after"], sys.argv[1:3]))
    conns, secs, repeats = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    print(machine(), "load", os.getloadavg(), flush=True)
    servers = {k: setup(b) for k, b in bins.items()}
    for k, (n, host) in servers.items():  # warm: start the environments
        for kind in ("api", "invoke"):
            run(n, kind, host, conns, 3)
    results = {(k, kind): [] for k in bins for kind in ("api", "invoke")}
    for i in range(repeats):
        for kind in ("api", "invoke"):
            for k, (n, host) in (servers.items() if i % 2 == 0 else reversed(servers.items())):
                r = run(n, kind, host, conns, secs)
                results[(k, kind)].append(r)
                print(i, k, kind, json.dumps(r), "load %.1f" % os.getloadavg()[0], flush=True)
    for (k, kind), rs in results.items():
        print(f"{k:6} {kind:6} median CPU µs/req {statistics.median(r['us_per_req'] for r in rs):7.1f}  "
              f"median req/s {statistics.median(r['rps'] for r in rs):7.1f}  errors {sum(r['errors'] for r in rs)}")
    for n, _ in servers.values():
        n.stop()


if __name__ == "__main__":
    main()
