"""How long a DynamoDB write takes to reach a function through an event
source mapping: the time from just before PutItem is sent to the moment the
handler starts (its first line reads the same wall clock), one write at a
time. For reference, in the same run: PutItem alone, and a synchronous
Invoke of the same warm function.

    python bench/lambda/esm_latency.py --nimbus target/debug/nimbus [--nimbus other/nimbus] [-n 200] [--rounds 2]

Several binaries (say, before and after a change) run in turn, round after
round, so they share the machine's load.
"""

import argparse
import json
import os
import statistics
import sys
import time

import boto3

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import Nimbus, machine  # noqa: E402

HANDLER = """import os, time, boto3
ddb = boto3.client("dynamodb")

def handler(event, context):
    started = time.time_ns()
    for r in event.get("Records", []):
        ddb.put_item(TableName=os.environ["SINK"], Item={
            "pk": r["dynamodb"]["Keys"]["pk"], "started": {"N": str(started)}})
    return {}
"""


def table(ddb, name, stream):
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}} if stream else {}
    ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST", **extra)
    return ddb.describe_table(TableName=name)["Table"].get("LatestStreamArn")


def summary(name, samples_ms):
    s = sorted(samples_ms)
    p = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
    return f"{name:<34} median {statistics.median(s):7.2f} ms   p90 {p(0.9):7.2f} ms   max {s[-1]:7.2f} ms   (n={len(s)})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", action="append", required=True)
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    results = {binary: ([], [], []) for binary in args.nimbus}
    for _ in range(args.rounds):
        for binary in args.nimbus:
            print(f"load average: {os.getloadavg()}")
            for mine, new in zip(results[binary], measure(binary, args.n)):
                mine.extend(new)
    for binary, (to_handler, put_only, invoke) in results.items():
        print(binary)
        print(summary("write -> handler start (mapping)", to_handler))
        print(summary("PutItem alone (no stream)", put_only))
        print(summary("Invoke round trip (warm)", invoke))
    print(f"load average after: {os.getloadavg()}")


def measure(binary, n):
    server = Nimbus(binary)
    try:
        kw = dict(endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="test",
                  aws_secret_access_key="test")
        ddb, iam = boto3.client("dynamodb", **kw), boto3.client("iam", **kw)
        iam.attach_role_policy(RoleName="bench-lambda", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        arn = table(ddb, "esm-source", stream=True)
        table(ddb, "esm-sink", stream=False)
        table(ddb, "esm-plain", stream=False)
        server.function("esm-fn", HANDLER, "lambda_function.handler", Environment={"Variables": {"SINK": "esm-sink"}})
        server.lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="esm-fn", StartingPosition="LATEST")
        # Warm the environment through the mapping itself.
        ddb.put_item(TableName="esm-source", Item={"pk": {"S": "warm"}})
        while "Item" not in ddb.get_item(TableName="esm-sink", Key={"pk": {"S": "warm"}}):
            time.sleep(0.05)

        to_handler, put_only, invoke = [], [], []
        for i in range(n):
            key = f"k{i}"
            sent = time.time_ns()
            ddb.put_item(TableName="esm-source", Item={"pk": {"S": key}})
            while True:
                item = ddb.get_item(TableName="esm-sink", Key={"pk": {"S": key}}).get("Item")
                if item:
                    break
                time.sleep(0.002)
            to_handler.append((int(item["started"]["N"]) - sent) / 1e6)

            t = time.perf_counter()
            ddb.put_item(TableName="esm-plain", Item={"pk": {"S": key}})
            put_only.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            server.lam.invoke(FunctionName="esm-fn", Payload=json.dumps({"Records": []}))
            invoke.append((time.perf_counter() - t) * 1e3)
        return to_handler, put_only, invoke
    finally:
        server.stop()


if __name__ == "__main__":
    main()
