"""Lambda: warm Invoke latency and throughput at 1 and 16 callers, and cold
starts, for the seed handler — Nimbus against serverless-offline serving the
same Python handler, same machine, same run."""

import argparse
import base64
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import NO_IMPORTS, SEED, Nimbus, ServerlessOffline, machine, median_of, wrk  # noqa: E402


def report(lam, name):
    """Invoke once with LogType=Tail; return (client latency µs, REPORT fields)."""
    t = time.perf_counter()
    out = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    latency = (time.perf_counter() - t) * 1e6
    tail = base64.b64decode(out.get("LogResult", "")).decode(errors="replace")
    fields = {}
    for key in ("Duration", "Init Duration"):
        m = re.search(rf"\t{key}: ([\d.]+) ms", tail) or re.search(rf"{key}: ([\d.]+) ms", tail)
        if m:
            fields[key] = float(m.group(1))
    return latency, fields


def cold_starts(nimbus, name, n, baseline=None):
    """Force a fresh environment n times (a configuration change replaces
    environments) and collect Init Duration and first-invoke latency. With
    `baseline` (argv), run it right after each cold start and time it too, so
    both see the same machine load (on a shared machine it swings by 10× within
    minutes); returns medians of Init Duration, first invoke, baseline, and of
    the paired differences Init Duration minus baseline."""
    inits, firsts, bases, diffs = [], [], [], []
    for i in range(n):
        nimbus.lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"ROUND": str(i)}})
        nimbus.lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        latency, fields = report(nimbus.lam, name)
        firsts.append(latency / 1000)
        if "Init Duration" in fields:
            inits.append(fields["Init Duration"])
        if baseline:
            t = time.perf_counter()
            subprocess.run(baseline, check=True)
            bases.append((time.perf_counter() - t) * 1000)
            if "Init Duration" in fields:
                diffs.append(fields["Init Duration"] - bases[-1])

    def median(xs):
        return statistics.median(xs) if xs else None

    return median(inits), median(firsts), median(bases), median(diffs)


def real_python():
    """The interpreter itself, not a shim in front of it (pyenv's is a bash
    script that would add its own startup to every sample)."""
    out = subprocess.run(["python3", "-c", "import os, sys; print(os.path.realpath(sys.executable))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


HANDLER_TIMER = """
import statistics, sys, timeit
sys.path.insert(0, sys.argv[1])
import lambda_function
handler = getattr(lambda_function, sys.argv[2])
per_call = [min(timeit.repeat(lambda: handler({}, None), number=1000, repeat=5)) / 1000 for _ in range(5)]
print(statistics.median(per_call) * 1e6)
"""


def handler_time_us(python, source, handler):
    """The handler's own time per call, in µs: called in a loop in the same
    interpreter, nothing of any platform around it."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "lambda_function.py"), "w") as f:
            f.write(source)
        out = subprocess.run([python, "-c", HANDLER_TIMER, d, handler], capture_output=True, text=True, check=True)
    return float(out.stdout)


def sls_cold_start(sls_modules, n):
    samples = []
    for _ in range(n):
        sls = ServerlessOffline(sls_modules)
        try:
            # ServerlessOffline waits for the first Invoke to succeed: that first call is the cold one.
            t = time.perf_counter()
            req = urllib.request.Request(sls.invoke_url, data=b"{}", method="POST")
            urllib.request.urlopen(req, timeout=30).read()
            samples.append((time.perf_counter() - t) * 1000)
        finally:
            sls.stop()
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--sls", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cold", type=int, default=15)
    args = ap.parse_args()

    nimbus = Nimbus(args.nimbus)
    sls = None
    try:
        nimbus.function("seed", SEED, "lambda_function.lambda_handler")
        nimbus.function("bare", NO_IMPORTS, "lambda_function.handler")
        sls = ServerlessOffline(args.sls)
        results = []
        for callers in (1, 16):
            path, signed = nimbus.signed_invoke("seed")
            targets = (("Nimbus", nimbus.endpoint + path, signed), ("serverless-offline", sls.invoke_url, {}))
            for name, url, headers in targets:
                # Warm-up: the first calls start environments (16 at once at 16
                # callers); a generous timeout lets those cold starts finish,
                # and on a busy machine they take longer than one 5 s run: warm
                # up until throughput stops rising (at most 6 runs).
                previous = 0.0
                for _ in range(6):
                    rps = wrk(url, callers, 5, headers, "POST", b"{}", timeout_s=30)["rps"]
                    if rps < previous * 1.2:
                        break
                    previous = rps
                runs = [wrk(url, callers, args.seconds, headers, "POST", b"{}", timeout_s=30) for _ in range(args.repeats)]
                results.append({"target": name, "callers": callers, **median_of(runs)})
                print(json.dumps(results[-1]), flush=True)
        durations = [report(nimbus.lam, "seed")[1].get("Duration", 0.0) for _ in range(300)]
        report_p50_us = statistics.median(durations) * 1000
        python = real_python()
        handler_us = handler_time_us(python, SEED, "lambda_handler")
        warm = next(r for r in results if r["target"] == "Nimbus" and r["callers"] == 1)
        overhead = warm["p50_us"] - handler_us
        bare_init, bare_first, py_pass, _ = cold_starts(nimbus, "bare", args.cold, [python, "-c", "pass"])
        seed_init, seed_first, py_boto3, seed_gap = cold_starts(nimbus, "seed", args.cold, [python, "-c", "import boto3"])
        load = os.getloadavg()
    finally:
        nimbus.stop()
        if sls:
            sls.stop()
    sls_cold = sls_cold_start(args.sls, 3)

    print(f"\nMachine: {machine()}; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min) "
          f"when the Nimbus part ended; wrk, {args.seconds} s per run, median of {args.repeats} runs.\n")
    print("| callers | target | invokes/s | p50 | p99 | non-2xx | socket errors |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['callers']} | {r['target']} | {r['rps']:.0f} | {r['p50_us']:.0f} µs | {r['p99_us']:.0f} µs "
              f"| {r['errors']} | {r['socket_errors']} |")
    for c in (1, 16):
        n = next(r for r in results if r["target"] == "Nimbus" and r["callers"] == c)
        s = next(r for r in results if r["target"] == "serverless-offline" and r["callers"] == c)
        ratio = f"{n['rps'] / s['rps']:.1f}×" if s["rps"] else "n/a"
        print(f"| {c} | Nimbus ÷ serverless-offline | **{ratio}** | | | | |")
    def verdict(ok):
        return "met" if ok else "NOT met"

    print(f"\nWarm invoke, 1 caller: p50 {warm['p50_us']:.0f} µs end to end; the handler itself takes {handler_us:.1f} µs "
          f"per call ({python}, timeit); platform overhead at p50 **{overhead:.0f} µs** (target < 200 µs: "
          f"{verdict(overhead < 200)}). REPORT Duration p50 {report_p50_us:.0f} µs (it spans the Runtime API round "
          f"trip and the runtime's loop).")
    print(f"\nCold starts (median of {args.cold}): no-import handler Init Duration **{bare_init} ms** (first invoke "
          f"{bare_first:.1f} ms; target < 50 ms: {verdict(bare_init is not None and bare_init < 50)}); seed handler "
          f"Init Duration **{seed_init} ms** (first invoke {seed_first:.1f} ms). Each cold start paired with a run "
          f"right after it: `{python} -c pass` {py_pass:.1f} ms, `{python} -c 'import boto3'` {py_boto3:.1f} ms; "
          f"median of (seed Init Duration minus that run) **{seed_gap:+.1f} ms** (target within 10 ms: "
          f"{verdict(seed_gap is not None and seed_gap <= 10)}). "
          f"serverless-offline first invoke after start: {sls_cold:.1f} ms (median of 3).")


if __name__ == "__main__":
    sys.exit(main())
