"""Requests/s and latency through an HTTP API to the seed handler: Nimbus
against serverless-offline, same machine, same run, wrk at 1, 16 and 64
connections. Also the gateway's own overhead: HTTP API p50 minus direct
Invoke p50, both from wrk at one connection."""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import SEED, Nimbus, ServerlessOffline, machine, median_of, wait_http, wrk  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--sls", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    nimbus = Nimbus(args.nimbus)
    sls = None
    try:
        arn = nimbus.function("seed", SEED, "lambda_function.lambda_handler")
        api_id = nimbus.apigw.create_api(Name="bench", ProtocolType="HTTP", Target=arn, RouteKey="GET /hello")["ApiId"]
        host = f"{api_id}.execute-api.localhost:{nimbus.port}"
        url = f"{nimbus.endpoint}/hello"
        wait_http(url, host)
        sls = ServerlessOffline(args.sls)
        results = []
        for connections in (1, 16, 64):
            for name, target_url, headers in (("Nimbus", url, {"Host": host}), ("serverless-offline", sls.http_url, None)):
                wrk(target_url, connections, 2, headers)
                runs = [wrk(target_url, connections, args.seconds, headers) for _ in range(args.repeats)]
                results.append({"target": name, "connections": connections, **median_of(runs)})
                print(json.dumps(results[-1]), flush=True)
        path, signed = nimbus.signed_invoke("seed")
        invoke = median_of([wrk(nimbus.endpoint + path, 1, args.seconds, signed, "POST", b"{}") for _ in range(args.repeats)])
        gateway = next(r for r in results if r["target"] == "Nimbus" and r["connections"] == 1)
        overhead = gateway["p50_us"] - invoke["p50_us"]
        print(json.dumps({"direct_invoke_1conn": invoke, "gateway_overhead_p50_us": overhead}), flush=True)
    finally:
        nimbus.stop()
        if sls:
            sls.stop()

    print(f"\nMachine: {machine()}; wrk, {args.seconds} s per run, median of {args.repeats} runs.\n")
    print("| connections | target | requests/s | p50 | p99 | non-2xx |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['connections']} | {r['target']} | {r['rps']:.0f} | {r['p50_us']:.0f} µs | {r['p99_us']:.0f} µs | {r['errors']} |")
    for c in (1, 16, 64):
        n = next(r for r in results if r["target"] == "Nimbus" and r["connections"] == c)
        s = next(r for r in results if r["target"] == "serverless-offline" and r["connections"] == c)
        print(f"| {c} | Nimbus ÷ serverless-offline | **{n['rps'] / s['rps']:.1f}×** | | | |")
    print(f"\nDirect Invoke at 1 connection: p50 {invoke['p50_us']:.0f} µs; HTTP API p50 {gateway['p50_us']:.0f} µs; "
          f"gateway overhead at p50: **{overhead:.0f} µs**.")


if __name__ == "__main__":
    sys.exit(main())
