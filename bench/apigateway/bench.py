"""Requests/s and latency through an HTTP API to the seed handler: Nimbus
against serverless-offline serving the same Python handler, same machine,
same run, wrk at 1, 16 and 64 connections. Also the gateway's own overhead:
HTTP API p50 minus the p50 of a direct, SigV4-signed Lambda Invoke of the
same function, measured in turns with it at one connection.

Fairness: both targets are warmed at each connection count until a wrk run
completes without socket errors (every execution environment started), then
measured in alternating turns so that a change in the machine's load hits
both alike; each cell is the median of the repeats."""

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import SEED, Nimbus, ServerlessOffline, machine, median_of, wait_http, wrk  # noqa: E402

CONNECTIONS = (1, 16, 64)
# Cold starts of many Python environments on a busy 2-core machine take
# seconds: long timeouts keep them from being counted (or killed) as failures.
WRK_TIMEOUT_S = 30
FUNCTION_TIMEOUT_S = 30
WARM_TRIES = 6
# A warm-up run counts as settled when nothing in it waited on a cold start.
SETTLED_P99_US = 1_000_000


def load():
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def commit():
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "crates"], capture_output=True,
                           text=True).stdout
    return head.strip() + (" (with uncommitted changes)" if dirty.strip() else "")


def stage_metrics(endpoint, api_id, *families):
    """Values of Nimbus's Prometheus series for the API's `$default` stage."""
    with urllib.request.urlopen(f"{endpoint}/_nimbus/metrics", timeout=30) as r:
        text = r.read().decode()
    labels = re.escape(f'{{api_id="{api_id}",stage="$default"}}')

    def value(family):
        m = re.search(rf"^{family}{labels} (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0.0

    return tuple(value(f) for f in families)


def gateway_seconds(endpoint, api_id):
    """(count, Latency sum, IntegrationLatency sum) of the API so far."""
    return stage_metrics(endpoint, api_id, "nimbus_apigateway_latency_seconds_count",
                         "nimbus_apigateway_latency_seconds_sum", "nimbus_apigateway_integration_latency_seconds_sum")


def warm(run, connections, seconds):
    """Run until one run completes with no error and a p99 under a second
    (no request waited on a cold start); how many runs it took."""
    for attempt in range(1, WARM_TRIES + 1):
        r = run(connections, seconds)
        if r["rps"] > 0 and r["socket_errors"] == 0 and r["errors"] == 0 and r["p99_us"] < SETTLED_P99_US:
            return attempt
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--sls", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--warm-seconds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", help="write the markdown report here too")
    args = ap.parse_args()

    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    load_before = load()
    nimbus = Nimbus(args.nimbus)
    sls = None
    results, invokes, warmups, gateway_means = [], [], {}, {}
    try:
        arn = nimbus.function("seed", SEED, "lambda_function.lambda_handler", Timeout=FUNCTION_TIMEOUT_S)
        api_id = nimbus.apigw.create_api(Name="bench", ProtocolType="HTTP", Target=arn, RouteKey="GET /hello")["ApiId"]
        host = f"{api_id}.execute-api.localhost:{nimbus.port}"
        url = f"{nimbus.endpoint}/hello"
        wait_http(url, host)
        sls = ServerlessOffline(args.sls)

        def through_api(c, seconds):
            return wrk(url, c, seconds, {"Host": host}, timeout_s=WRK_TIMEOUT_S)

        def through_sls(c, seconds):
            return wrk(sls.http_url, c, seconds, timeout_s=WRK_TIMEOUT_S)

        def direct_invoke(c, seconds):
            path, signed = nimbus.signed_invoke("seed")  # signed afresh: valid for minutes
            return wrk(nimbus.endpoint + path, c, seconds, signed, "POST", b"{}", timeout_s=WRK_TIMEOUT_S)

        targets = [("Nimbus", through_api), ("serverless-offline", through_sls)]
        for connections in CONNECTIONS:
            turns = targets + ([("Nimbus direct Invoke", direct_invoke)] if connections == 1 else [])
            for name, run in turns:
                warmups[(name, connections)] = warm(run, connections, args.warm_seconds)
            runs = {name: [] for name, _ in turns}
            for _ in range(args.repeats):
                for name, run in turns:
                    before = gateway_seconds(nimbus.endpoint, api_id) if name == "Nimbus" else None
                    runs[name].append(run(connections, args.seconds))
                    if before:
                        after = gateway_seconds(nimbus.endpoint, api_id)
                        n = after[0] - before[0]
                        if n:
                            own = ((after[1] - before[1]) - (after[2] - before[2])) / n * 1e6
                            gateway_means.setdefault(connections, []).append(own)
            for name, _ in turns:
                row = {"target": name, "connections": connections, "warm_runs": warmups[(name, connections)],
                       **median_of(runs[name])}
                (invokes if name == "Nimbus direct Invoke" else results).append(row)
                print(json.dumps(row), flush=True)
        status_counts = stage_metrics(nimbus.endpoint, api_id, "nimbus_apigateway_4xx_total",
                                      "nimbus_apigateway_5xx_total")
    finally:
        nimbus.stop()
        if sls:
            sls.stop()

    report = render(args, started, load_before, load(), results, invokes, gateway_means, status_counts)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)


def render(args, started, load_before, load_after, results, invokes, gateway_means, status_counts):
    lines = [
        "# API Gateway: HTTP API → seed handler, Nimbus vs serverless-offline",
        "",
        f"Run {started} at commit {commit()}; {machine()}; load average {load_before} before, "
        f"{load_after} after. `bench/apigateway/run --seconds {args.seconds} --repeats {args.repeats}`: "
        f"wrk (2 threads, timeout {WRK_TIMEOUT_S} s), {args.seconds} s per run, each cell the median of "
        f"{args.repeats} runs taken in turns with the other target(s); warm-up runs of {args.warm_seconds} s "
        "until one completed without errors and with p99 under 1 s.",
        "",
        "| connections | target | requests/s | p50 | p99 | non-2xx | socket errors | warm-up runs |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]

    def us(v):
        return f"{v / 1000:.2f} ms" if v >= 10_000 else f"{v:.0f} µs"

    for r in results + invokes:
        warm = r["warm_runs"] if r["warm_runs"] is not None else f"{WARM_TRIES} (not settled)"
        lines.append(f"| {r['connections']} | {r['target']} | {r['rps']:,.0f} | {us(r['p50_us'])} | "
                     f"{us(r['p99_us'])} | {r['errors']} | {r['socket_errors']} | {warm} |")
    lines += ["", "| connections | Nimbus ÷ serverless-offline, requests/s | serverless-offline p50 ÷ Nimbus p50 |",
              "|---:|---:|---:|"]
    for c in CONNECTIONS:
        n = next(r for r in results if r["target"] == "Nimbus" and r["connections"] == c)
        s = next(r for r in results if r["target"] == "serverless-offline" and r["connections"] == c)
        rps = f"**{n['rps'] / s['rps']:.1f}×**" if s["rps"] else "∞ (serverless-offline answered nothing)"
        p50 = f"{s['p50_us'] / n['p50_us']:.1f}×" if n["p50_us"] and s["p50_us"] else "n/a"
        lines.append(f"| {c} | {rps} | {p50} |")
    gateway = next(r for r in results if r["target"] == "Nimbus" and r["connections"] == 1)
    lines.append("")
    if invokes:
        invoke = invokes[0]
        lines.append(f"Gateway overhead at one connection: HTTP API p50 {us(gateway['p50_us'])} − direct Invoke p50 "
                     f"{us(invoke['p50_us'])} = **{gateway['p50_us'] - invoke['p50_us']:.0f} µs**.")
    if gateway_means:
        own = ", ".join(f"{statistics.median(v):.1f} µs at {c} connection{'s' if c > 1 else ''}"
                        for c, v in sorted(gateway_means.items()))
        lines.append(f"Gateway time inside Nimbus (mean Latency − IntegrationLatency of the measured requests, "
                     f"from its own AWS/ApiGateway metrics; median over runs): {own}.")
    lines.append(f"Nimbus's own metrics counted {status_counts[0]:.0f} 4xx and {status_counts[1]:.0f} 5xx answers "
                 "over the whole run (warm-up included).")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
