"""Shared pieces of the side-by-side benchmarks: starting Nimbus and
serverless-offline with the seed handler, and driving wrk (GET, or a fixed
signed POST through a generated Lua script)."""

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import zipfile

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SEED = """import json
import boto3

def lambda_handler(event, context):
    return {'statusCode': 200, 'body': json.dumps('Hello from Lambda!')}
"""

NO_IMPORTS = """def handler(event, context):
    return {'statusCode': 200, 'body': 'ok'}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, host=None, timeout=60, method="GET", data=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            req = urllib.request.Request(url, headers={"Host": host} if host else {}, method=method, data=data)
            with urllib.request.urlopen(req, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200")


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}"


class Nimbus:
    def __init__(self, binary):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.data_dir = tempfile.mkdtemp(prefix="nimbus-bench-")
        self.proc = subprocess.Popen([binary, "serve", "--port", str(self.port), "--data-dir", self.data_dir],
                                     env={**os.environ, "RUST_LOG": "warn"},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"{self.endpoint}/_nimbus/health")
        kw = dict(endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="test",
                  aws_secret_access_key="test")
        self.lam = boto3.client("lambda", **kw)
        self.apigw = boto3.client("apigatewayv2", **kw)
        self.role = self.execution_role(boto3.client("iam", **kw))

    @staticmethod
    def execution_role(iam):
        """A role Lambda can assume (it must exist and trust lambda.amazonaws.com, as on AWS)."""
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        try:
            return iam.create_role(RoleName="bench-lambda", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:
            return iam.get_role(RoleName="bench-lambda")["Role"]["Arn"]

    def function(self, name, source, handler, **config):
        """Create a python3.12 function (extra CreateFunction fields in `config`) and wait until it is active."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("lambda_function.py", source)
        fn = self.lam.create_function(FunctionName=name, Runtime="python3.12", Role=self.role,
                                      Handler=handler, Code={"ZipFile": buf.getvalue()}, **config)
        self.lam.get_waiter("function_active_v2").wait(FunctionName=name)
        return fn["FunctionArn"]

    def signed_invoke(self, name, body=b"{}"):
        """Headers of a SigV4-signed Invoke; valid for minutes, so wrk can replay it."""
        path = f"/2015-03-31/functions/{name}/invocations"
        request = AWSRequest(method="POST", url=self.endpoint + path, data=body)
        SigV4Auth(Credentials("test", "test"), "lambda", "us-east-1").add_auth(request)
        return path, dict(request.prepare().headers)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        # Each server's data dir holds its store and function code (tens to
        # hundreds of MB): a bench that starts dozens must not fill the disk.
        shutil.rmtree(self.data_dir, ignore_errors=True)


class ServerlessOffline:
    def __init__(self, sls_modules, handler_source=SEED, wait=True):
        self.port, self.lambda_port = free_port(), free_port()
        app = tempfile.mkdtemp(prefix="nimbus-bench-sls-")
        with open(os.path.join(app, "handler.py"), "w") as f:
            f.write(handler_source)
        with open(os.path.join(app, "serverless.yml"), "w") as f:
            f.write(f"""service: bench
frameworkVersion: '3'
provider:
  name: aws
  runtime: python3.12
  region: us-east-1
plugins:
  - serverless-offline
functions:
  hello:
    handler: handler.lambda_handler
    events:
      - httpApi:
          path: /hello
          method: get
custom:
  serverless-offline:
    httpPort: {self.port}
    lambdaPort: {self.lambda_port}
    noPrependStageInUrl: true
""")
        os.symlink(sls_modules, os.path.join(app, "node_modules"))
        env = {**os.environ, "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off",
               "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
        self.started = time.time()
        self.proc = subprocess.Popen(["node", os.path.join(sls_modules, "serverless/bin/serverless.js"), "offline", "start"],
                                     cwd=app, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        self.http_url = f"http://127.0.0.1:{self.port}/hello"
        self.invoke_url = f"http://127.0.0.1:{self.lambda_port}/2015-03-31/functions/bench-dev-hello/invocations"
        if wait:
            self.wait()

    def wait(self):
        # serverless-offline names functions {service}-{stage}-{function}.
        wait_http(f"http://127.0.0.1:{self.lambda_port}/2015-03-31/functions/bench-dev-hello/invocations", timeout=120,
                  method="POST", data=b"{}")

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def wrk(url, connections, seconds, headers=None, method="GET", body=None, timeout_s=None):
    """Run wrk; return requests/s, p50/p99 in µs, non-2xx count and socket
    errors (connect/read/write errors and requests unanswered within
    `timeout_s`, wrk's default 2 s if None)."""
    cmd = ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    if timeout_s:
        cmd += ["--timeout", f"{timeout_s}s"]
    script = None
    if method != "GET" or body is not None or headers:
        lines = [f"wrk.method = {json.dumps(method)}"]
        if body is not None:
            lines.append(f"wrk.body = {json.dumps(body.decode() if isinstance(body, bytes) else body)}")
        for k, v in (headers or {}).items():
            if k.lower() not in ("content-length",):
                lines.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write("\n".join(lines) + "\n")
        script.close()
        cmd += ["-s", script.name]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    if script:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\b", out, re.M)
        return float(m.group(1)) * {"us": 1, "ms": 1000, "s": 1_000_000}[m.group(2)]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": rps, "p50_us": pct(50), "p99_us": pct(99), "errors": int(errors.group(1)) if errors else 0,
            "socket_errors": sum(int(n) for n in socket.groups()) if socket else 0}


def median_of(runs):
    import statistics
    out = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_us", "p99_us")}
    out["errors"] = sum(r["errors"] for r in runs)
    out["socket_errors"] = sum(r.get("socket_errors", 0) for r in runs)
    return out
