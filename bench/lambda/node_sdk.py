"""What the AWS SDK v3 of the nodejs runtimes costs in Nimbus.

1. The one-time install: CreateFunction of a function importing
   @aws-sdk/client-dynamodb and @aws-sdk/lib-dynamodb, then its first invoke,
   each time with a fresh cache dir (npm's own download cache stays warm
   after the first round).
2. Cold starts (REPORT Init Duration) of the same handler, CommonJS and ES
   module, with the SDK Nimbus provides next to the SDK bundled in the
   function's own node_modules (what one does without it), plus a handler
   importing nothing. Variants alternate within each round.

    python bench/lambda/node_sdk.py --nimbus target/release/nimbus [--cold 7] [--installs 3]
"""

import argparse
import base64
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import free_port, machine, wait_http  # noqa: E402

CJS = """const { DynamoDBClient, ListTablesCommand } = require("@aws-sdk/client-dynamodb");
const { DynamoDBDocumentClient } = require("@aws-sdk/lib-dynamodb");
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
exports.handler = async () => (await doc.send(new ListTablesCommand({}))).TableNames.length;
"""
ESM = """import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
export const handler = async () => (await doc.send(new ListTablesCommand({}))).TableNames.length;
"""
PLAIN = "exports.handler = async () => 0;\n"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


class Server:
    def __init__(self, binary, cache_dir):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.data_dir = tempfile.mkdtemp(prefix="nimbus-bench-sdk-")
        self.proc = subprocess.Popen([binary, "serve", "--port", str(self.port), "--data-dir", self.data_dir,
                                      "--cache-dir", str(cache_dir)], env={**os.environ, "RUST_LOG": "warn"},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"{self.endpoint}/_nimbus/health")
        kw = dict(endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="test",
                  aws_secret_access_key="test", config=Config(read_timeout=600, retries={"max_attempts": 1}))
        self.lam = boto3.client("lambda", **kw)
        iam = boto3.client("iam", **kw)
        self.role = iam.create_role(RoleName="bench-sdk", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        iam.attach_role_policy(RoleName="bench-sdk", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")

    def function(self, name, files):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for path, data in files.items():
                z.writestr(path, data)
        self.lam.create_function(FunctionName=name, Runtime="nodejs20.x", Role=self.role, Handler="index.handler",
                                 Code={"ZipFile": buf.getvalue()}, Timeout=30, MemorySize=512)
        return name

    def invoke(self, name):
        out = self.lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
        log = base64.b64decode(out["LogResult"]).decode()
        assert "FunctionError" not in out, (out["Payload"].read(), log)
        return log

    def cold_init_ms(self, name, round_no):
        """Init Duration of a fresh environment (new configuration, new environment)."""
        self.lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"ROUND": str(round_no)}})
        self.lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        log = self.invoke(name)
        return float(log.split("Init Duration: ")[1].split(" ms")[0])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def loadavg():
    return os.getloadavg()[0]


def bundle(set_dir):
    """The set's node_modules as zip entries, as a function would bundle them."""
    files = {}
    for path in (set_dir / "node_modules").rglob("*"):
        if path.is_file():
            files[str(path.relative_to(set_dir))] = path.read_bytes()
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--cold", type=int, default=7)
    ap.add_argument("--installs", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {machine()}; load {loadavg():.1f} at start")

    installs = []
    for i in range(args.installs):
        with tempfile.TemporaryDirectory(prefix="nimbus-bench-cache-") as cache:
            server = Server(args.nimbus, cache)
            try:
                # CreateFunction starts the install; the invoke right after waits for it.
                started = time.monotonic()
                server.invoke(server.function(f"install{i}", {"index.js": CJS}))
                installs.append((time.monotonic() - started) * 1000)
                assert list(Path(cache).glob("lambda/node-sdk/*/packages.txt")), "nothing installed"
            finally:
                server.stop()
    print(f"CreateFunction + first invoke, with the install into a fresh cache dir: median {statistics.median(installs):.0f} ms "
          f"(runs: {', '.join(f'{ms:.0f}' for ms in installs)})")

    with tempfile.TemporaryDirectory(prefix="nimbus-bench-cache-") as cache:
        server = Server(args.nimbus, cache)
        try:
            server.invoke(server.function("warmup", {"index.js": CJS}))
            set_dir = next(Path(cache).glob("lambda/node-sdk/*/packages.txt")).parent
            bundled = bundle(set_dir)
            variants = {
                "cjs, SDK provided": {"index.js": CJS},
                "cjs, SDK bundled": {"index.js": CJS, **bundled},
                "mjs, SDK provided": {"index.mjs": ESM},
                "mjs, SDK bundled": {"index.mjs": ESM, **bundled},
                "no SDK import": {"index.js": PLAIN},
            }
            names = {v: server.function(f"v{i}", files) for i, (v, files) in enumerate(variants.items())}
            inits = {v: [] for v in variants}
            loads = []
            for r in range(args.cold):
                for v, name in names.items():
                    inits[v].append(server.cold_init_ms(name, r))
                loads.append(loadavg())
            print(f"cold starts, {args.cold} per variant, load {min(loads):.1f}-{max(loads):.1f}:")
            for v, values in inits.items():
                print(f"  {v:34s} Init Duration median {statistics.median(values):7.1f} ms "
                      f"(min {min(values):.1f}, max {max(values):.1f})")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
