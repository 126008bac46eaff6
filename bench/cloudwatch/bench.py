"""CloudWatch Logs workload: PutLogEvents events/s into a fresh server, then
FilterLogEvents latency over everything stored (1 million events by default).

Runs against a `nimbus serve` it starts itself (release build, data dir on
disk), through boto3 — the whole path a client sees: HTTP, SigV4, JSON,
validation, the store's group commit.
"""

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary, data_dir):
    port = free_port()
    log = open(os.path.join(data_dir, "server.log"), "wb")
    proc = subprocess.Popen([binary, "serve", "--port", str(port), "--data-dir", data_dir],
                            stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{endpoint}/_nimbus/health", timeout=1):
                return proc, endpoint
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("nimbus did not start")


def client(endpoint):
    return boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}, max_pool_connections=64, read_timeout=300))


def message(rng, i):
    kind = i % 4
    if kind == 0:
        level = "ERROR" if i % 1000 == 0 else "INFO"
        return f"{level} request {i} handled by worker-{rng.randrange(16)} in {rng.randrange(1, 900)} ms"
    if kind == 1:
        return json.dumps({"level": "ERROR" if i % 1000 == 1 else "INFO", "latency": rng.randrange(1, 1000),
                           "requestId": f"r-{i}", "path": "/api/items"})
    if kind == 2:
        status = 503 if i % 1000 == 2 else 200
        return f'10.0.{i % 256}.{rng.randrange(256)} - user{i % 97} [27/Nov/2026:05:00:00 +0000] "GET /items/{i} HTTP/1.1" {status} {rng.randrange(100, 5000)}'
    return f"DEBUG cache {'miss' if rng.random() < 0.1 else 'hit'} for key item-{i}"


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--queries", type=int, default=10)
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="nimbus-bench-cloudwatch-", dir=args.data_dir)
    proc, endpoint = start_server(args.binary, data_dir)
    try:
        logs = client(endpoint)
        group = "/bench/app"
        logs.create_log_group(logGroupName=group)
        streams = [f"stream-{s:02}" for s in range(args.streams)]
        for s in streams:
            logs.create_log_stream(logGroupName=group, logStreamName=s)

        # Prepare every batch up front so the clock measures the server.
        rng = random.Random(7)
        per_stream = args.events // args.streams
        start_ts = int(time.time() * 1000) - 3_600_000
        batches = []
        for si, s in enumerate(streams):
            for first in range(0, per_stream, args.batch):
                n = min(args.batch, per_stream - first)
                events = [{"timestamp": start_ts + (first + k) * 3, "message": message(rng, si * per_stream + first + k)}
                          for k in range(n)]
                batches.append((s, events))
        total = sum(len(e) for _, e in batches)
        clients = [client(endpoint) for _ in range(args.writers)]
        lock = threading.Lock()
        latencies = []

        def put(index):
            s, events = batches[index]
            c = clients[index % len(clients)]
            t = time.perf_counter()
            c.put_log_events(logGroupName=group, logStreamName=s, logEvents=events)
            with lock:
                latencies.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.writers) as pool:
            list(pool.map(put, range(len(batches))))
        put_secs = time.perf_counter() - t0

        queries = [
            ("no pattern, first page (10,000 events)", {}),
            ("term `ERROR` (0.1% match)", {"filterPattern": "ERROR"}),
            ("JSON `{ $.level = \"ERROR\" && $.latency > 100 }`", {"filterPattern": '{ $.level = "ERROR" && $.latency > 100 }'}),
            ("space-delimited `[ip, id, user, ts, request, status=5*, size]`",
             {"filterPattern": "[ip, id, user, ts, request, status=5*, size]"}),
            ("term, one stream, 1-minute window",
             {"filterPattern": "ERROR", "logStreamNames": [streams[0]], "startTime": start_ts + 10_000,
              "endTime": start_ts + 70_000}),
        ]
        results = []
        for label, params in queries:
            times, matched = [], 0
            for _ in range(args.queries):
                t = time.perf_counter()
                reply = logs.filter_log_events(logGroupName=group, **params)
                times.append(time.perf_counter() - t)
                matched = len(reply["events"])
            results.append((label, matched, statistics.median(times), percentile(times, 99)))

        print(f"Stored {total:,} events in {args.streams} streams, {len(batches)} PutLogEvents batches of "
              f"up to {args.batch:,} events, {args.writers} concurrent clients.")
        print()
        print("| PutLogEvents | value |")
        print("|---|---|")
        print(f"| events/s | {total / put_secs:,.0f} |")
        print(f"| batches/s | {len(batches) / put_secs:,.1f} |")
        print(f"| batch latency p50 / p99 | {statistics.median(latencies) * 1000:,.0f} ms / "
              f"{percentile(latencies, 99) * 1000:,.0f} ms |")
        print()
        print(f"FilterLogEvents over all {total:,} events, {args.queries} runs each (first page):")
        print()
        print("| query | events returned | p50 | p99 |")
        print("|---|---|---|---|")
        for label, matched, p50, p99 in results:
            print(f"| {label} | {matched:,} | {p50 * 1000:,.0f} ms | {p99 * 1000:,.0f} ms |")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
