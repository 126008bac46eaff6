"""A lower bound on the cost of one HTTP request that runs a Python handler in
a process of its own, on this machine, whatever the platform does in between;
and from it, the most requests/s any such platform could serve at 1 and 16
connections. Issue 5 asks for 10x serverless-offline's requests/s; this shows
whether that is reachable here at all.

Two parts, each measured with nothing else in the way:
- HTTP: wrk against Nimbus's cheapest endpoint (GET /_nimbus/health: no auth,
  no routing to a service, no storage). At 1 connection, its p50 round trip;
  at 16, the CPU (Nimbus + wrk) per request.
- Python: the least a runtime process can do per invocation (worker.py:
  length-prefixed frames over a Unix socketpair, json.loads, the seed handler,
  json.dumps; no HTTP, no logging). At 1 connection, the p50 round trip from
  a C driver that spins instead of sleeping (pingpong.c), so the driver adds
  no wake-up of its own; at 16, the 16 workers' own CPU per request.

A real platform does both and more, in sequence, so 1e6 / (HTTP + Python)
bounds its requests/s at one connection and 2 cores' µs / (HTTP CPU + Python
CPU) at 16."""

import argparse
import json
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from common import Nimbus, machine, wrk  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "worker.py")

# A payload-2.0 event as the gateway sends it for `GET /hello` (shortened
# headers: a smaller event only lowers the bound).
EVENT = {
    "version": "2.0", "routeKey": "GET /hello", "rawPath": "/hello", "rawQueryString": "",
    "headers": {"accept": "*/*", "host": "abcdef1234.execute-api.localhost:4566", "user-agent": "wrk",
                "x-amzn-trace-id": "Root=1-67891233-abcdef012345678912345678", "x-forwarded-for": "127.0.0.1",
                "x-forwarded-port": "4566", "x-forwarded-proto": "http"},
    "requestContext": {"accountId": "000000000000", "apiId": "abcdef1234",
                       "domainName": "abcdef1234.execute-api.localhost", "domainPrefix": "abcdef1234",
                       "http": {"method": "GET", "path": "/hello", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                                "userAgent": "wrk"},
                       "requestId": "JKJaXmPLvHcESHA=", "routeKey": "GET /hello", "stage": "$default",
                       "time": "27/Nov/2026:13:40:00 +0000", "timeEpoch": 1795786800000},
    "isBase64Encoded": False,
}


def frame():
    payload = json.dumps(EVENT).encode()
    return len(payload).to_bytes(4, "little") + payload


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def python_round_trip_us(workdir, rounds):
    """p50 round trip, spinning C driver <-> one Python worker."""
    driver = os.path.join(workdir, "pingpong")
    subprocess.run(["cc", "-O2", "-o", driver, os.path.join(HERE, "pingpong.c")], check=True)
    event = os.path.join(workdir, "event.bin")
    with open(event, "wb") as f:
        f.write(frame())
    out = subprocess.run([driver, "1", str(rounds), WORKER, event], capture_output=True, text=True,
                         check=True).stdout
    return float(out.split("p50 ")[1].split(" us")[0])


def python_cpu_per_request_us(workers, seconds):
    """The workers' own CPU per request while a driver keeps all of them busy."""
    data = frame()
    sel = selectors.DefaultSelector()
    procs = []
    for _ in range(workers):
        ours, theirs = socket.socketpair()
        procs.append(subprocess.Popen([sys.executable, WORKER, str(theirs.fileno())], pass_fds=[theirs.fileno()]))
        theirs.close()
        sel.register(ours, selectors.EVENT_READ)
        ours.sendall(data)
    warm_until = time.monotonic() + 1
    count, started, cpu0 = 0, None, 0.0
    while True:
        for key, _ in sel.select():
            key.fileobj.recv(65536)
            key.fileobj.sendall(data)
            if started is not None:
                count += 1
        now = time.monotonic()
        if started is None and now > warm_until:
            started, cpu0, count = now, sum(cpu_seconds(p.pid) for p in procs), 0
        if started is not None and now - started > seconds:
            break
    used = sum(cpu_seconds(p.pid) for p in procs) - cpu0
    for p in procs:
        p.kill()
        p.wait()
    return used / count * 1e6


def http_floor(binary, seconds, repeats):
    """wrk against /_nimbus/health: p50 at 1 connection; CPU per request
    (Nimbus + wrk) at 16."""
    nimbus = Nimbus(binary)
    try:
        url = f"{nimbus.endpoint}/_nimbus/health"
        wrk(url, 1, 1)
        one = statistics.median(wrk(url, 1, seconds)["p50_us"] for _ in range(repeats))
        per_request = []
        for _ in range(repeats):
            server0 = cpu_seconds(nimbus.proc.pid)
            children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            run = wrk(url, 16, seconds)
            children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            client = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
            server = cpu_seconds(nimbus.proc.pid) - server0
            per_request.append((client + server) / (run["rps"] * seconds) * 1e6)
        return one, statistics.median(per_request)
    finally:
        nimbus.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nimbus", required=True)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as workdir:
        py_rt = statistics.median(python_round_trip_us(workdir, 20000) for _ in range(args.repeats))
    py_cpu = statistics.median(python_cpu_per_request_us(16, args.seconds) for _ in range(args.repeats))
    http_rt, http_cpu = http_floor(args.nimbus, args.seconds, args.repeats)
    cores = os.cpu_count()
    print(f"machine: {machine()}; load {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
    print("| connections | HTTP part | Python part | bound on requests/s |")
    print("|---:|---|---|---:|")
    print(f"| 1 | {http_rt:.1f} µs p50 round trip | {py_rt:.1f} µs p50 round trip | "
          f"{1e6 / (http_rt + py_rt):,.0f} |")
    print(f"| 16 | {http_cpu:.1f} µs CPU per request | {py_cpu:.1f} µs CPU per request | "
          f"{cores * 1e6 / (http_cpu + py_cpu):,.0f} |")


if __name__ == "__main__":
    main()
