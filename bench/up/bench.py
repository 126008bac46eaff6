"""Time from launching `nimbus up examples/hello` to the first successful
`GET /hello`, N times with a fresh copy (fresh data dir) each time, next to
serverless-offline started on the same handler in the same run.

For Nimbus it also splits the time, from `nimbus up`'s own output: process
start to the first line (listening), the deploy as `up` reports it, and the
first request (the function's cold start) after the URL is printed; then
the time from editing the handler to the first answer from the new code."""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import SEED, ServerlessOffline, free_port, machine  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
POLL_S = 0.002  # how often the client retries: small next to what is measured


def get_ok(url, body=None):
    """200, and (if given) `body` in the answer."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200 and (body is None or body in r.read().decode())
    except OSError:
        return False


def nimbus_up_once(binary):
    """One launch: returns seconds to first 200 and the parts."""
    work = tempfile.mkdtemp(prefix="nimbus-bench-up-")
    app = os.path.join(work, "hello")
    shutil.copytree(os.path.join(ROOT, "examples", "hello"), app, ignore=shutil.ignore_patterns(".nimbus"))
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([binary, "up", app, "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env={**os.environ, "RUST_LOG": "warn"})
    parts = {}
    try:
        url = None
        for line in proc.stdout:
            now = time.perf_counter() - started
            if "listening on" in line and "listening" not in parts:
                parts["listening"] = now
            m = re.match(r"Deployed in (\d+) ms", line)
            if m:
                parts["deploy (as reported)"] = int(m.group(1)) / 1000
            m = re.match(r"\s+ServerlessHttpApi\s+http://([a-z0-9]+)\.execute-api\.localhost:\d+/", line)
            if m:
                parts["url printed"] = now
                url = f"http://127.0.0.1:{port}/_aws/execute-api/{m.group(1)}/hello"
                break
        if url is None:
            raise RuntimeError("nimbus up printed no API URL")
        while not get_ok(url):
            time.sleep(POLL_S)
        total = time.perf_counter() - started
        parts["first request"] = total - parts["url printed"]
        # Hot reload: edit the handler, poll until the answer changes.
        handler = os.path.join(app, "hello_world", "app.py")
        with open(handler) as f:
            code = f.read()
        edited = time.perf_counter()
        with open(handler, "w") as f:
            f.write(code.replace("Hello from Lambda!", "Hello again!"))
        while not get_ok(url, "Hello again!"):
            time.sleep(POLL_S)
        parts["hot reload: edit → new answer"] = time.perf_counter() - edited
        return total, parts
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def sls_once(sls_modules):
    offline = ServerlessOffline(sls_modules, SEED, wait=False)
    try:
        url = f"http://127.0.0.1:{offline.port}/hello"
        deadline = time.time() + 120
        while not get_ok(url):
            if time.time() > deadline:
                raise RuntimeError("serverless-offline did not answer")
            time.sleep(POLL_S)
        return time.time() - offline.started
    finally:
        offline.stop()


def boto3_import_s():
    """How long the host's python takes to `import boto3` (the seed handler's
    first line, so the floor of its cold start), with the interpreter Lambda resolves."""
    exe = subprocess.run(["python3", "-c", "import os, sys; print(os.path.realpath(sys.executable))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    started = time.perf_counter()
    subprocess.run([exe, "-c", "import boto3"], check=True)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nimbus", required=True)
    parser.add_argument("--sls", help="node_modules with serverless and serverless-offline")
    parser.add_argument("-n", type=int, default=10)
    args = parser.parse_args()

    print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.2f}")
    totals, parts = [], {}
    sls, imports = [], []
    for i in range(args.n):
        total, p = nimbus_up_once(args.nimbus)
        totals.append(total)
        for k, v in p.items():
            parts.setdefault(k, []).append(v)
        line = f"run {i + 1}: nimbus up {total * 1000:.0f} ms"
        if args.sls:
            sls.append(sls_once(args.sls))
            line += f", serverless-offline {sls[-1] * 1000:.0f} ms"
        imports.append(boto3_import_s())
        print(line, flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print()
    print("| | median | min | max |")
    print("|---|---:|---:|---:|")
    ms = lambda xs: f"{statistics.median(xs) * 1000:.0f} ms | {min(xs) * 1000:.0f} ms | {max(xs) * 1000:.0f} ms"  # noqa: E731
    print(f"| `nimbus up examples/hello` → first 200 | {ms(totals)} |")
    for k in ("listening", "deploy (as reported)", "url printed", "first request"):
        print(f"| &nbsp;&nbsp;{k} | {ms(parts[k])} |")
    print(f"| hot reload: edit → new answer | {ms(parts['hot reload: edit → new answer'])} |")
    print(f"| `python -c 'import boto3'` alone (cold-start floor) | {ms(imports)} |")
    if sls:
        print(f"| serverless-offline (same handler) → first 200 | {ms(sls)} |")
        print(f"\nratio (serverless-offline / nimbus, medians): {statistics.median(sls) / statistics.median(totals):.1f}x")


if __name__ == "__main__":
    main()
