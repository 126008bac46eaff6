"""Shared fixtures: a live `nimbus serve` and real AWS clients pointed at it.

By default the session starts its own server (the binary in $NIMBUS_BIN, or
target/debug/nimbus) on a free port with a temporary data dir. Set
NIMBUS_ENDPOINT=http://127.0.0.1:PORT to test a server you started yourself.
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REGION = "us-east-1"
ACCESS_KEY = "test"
SECRET_KEY = "test"
ROOT = Path(__file__).resolve().parents[2]

# Clients must not pick up the host's AWS configuration.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_PAGER": "",
    }
)
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ.pop("AWS_PROFILE", None)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nimbus_binary():
    return os.environ.get("NIMBUS_BIN") or str(ROOT / "target" / "debug" / "nimbus")


class Server:
    """A running `nimbus serve` child process."""

    def __init__(self, extra_args=(), env=None, data_dir=None):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.region = REGION
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="nimbus-e2e-")
        self.log_path = Path(self.data_dir) / "server.log"
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [nimbus_binary(), "serve", "--port", str(self.port), "--data-dir", self.data_dir, *extra_args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        self.wait_ready()
        ensure_lambda_role(self.endpoint)

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nimbus exited early:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_nimbus/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"nimbus did not become ready:\n{self.output()}")

    def output(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=timeout)
        self.log.close()
        return self.process.returncode


# The execution role the Lambda tests give their functions. As on AWS, Lambda
# must be able to assume it: it exists and trusts lambda.amazonaws.com.
LAMBDA_ROLE_NAME = "lambda-role"
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def ensure_lambda_role(endpoint):
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                       aws_secret_access_key=SECRET_KEY, config=Config(retries={"max_attempts": 1}))
    try:
        iam.create_role(RoleName=LAMBDA_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    # Handlers of the Lambda tests call whichever service they test;
    # test_iam.py checks least privilege with roles of its own.
    iam.attach_role_policy(RoleName=LAMBDA_ROLE_NAME, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")


class External:
    """A server someone else started (NIMBUS_ENDPOINT)."""

    def __init__(self, endpoint):
        self.endpoint = endpoint.rstrip("/")
        self.region = REGION
        self.port = int(self.endpoint.rsplit(":", 1)[1])


@pytest.fixture(scope="session")
def nimbus():
    endpoint = os.environ.get("NIMBUS_ENDPOINT")
    if endpoint:
        ensure_lambda_role(endpoint)
        yield External(endpoint)
        return
    server = Server()
    yield server
    code = server.stop()
    assert code == 0, f"nimbus did not shut down cleanly (exit {code}):\n{server.output()}"


def make_client(nimbus, service, **kwargs):
    return boto3.client(
        service,
        endpoint_url=nimbus.endpoint,
        region_name=nimbus.region,
        aws_access_key_id=kwargs.pop("aws_access_key_id", ACCESS_KEY),
        aws_secret_access_key=kwargs.pop("aws_secret_access_key", SECRET_KEY),
        config=kwargs.pop("config", Config(retries={"max_attempts": 1})),
        **kwargs,
    )


@pytest.fixture
def client(nimbus):
    """client("lambda", ...) -> a boto3 client for Nimbus."""
    return lambda service, **kwargs: make_client(nimbus, service, **kwargs)


@pytest.fixture
def ddb(nimbus):
    return make_client(nimbus, "dynamodb")


@pytest.fixture
def ddb_resource(nimbus):
    return boto3.resource(
        "dynamodb",
        endpoint_url=nimbus.endpoint,
        region_name=nimbus.region,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}),
    )


class CliError(Exception):
    def __init__(self, result):
        super().__init__(f"aws exited {result.returncode}: {result.stderr}")
        self.result = result
        self.stderr = result.stderr


@pytest.fixture
def aws_cli(nimbus):
    """aws_cli("dynamodb", "list-tables") -> parsed JSON output (raises CliError)."""

    def run(*args, env=None, check=True):
        result = subprocess.run(
            ["aws", "--endpoint-url", nimbus.endpoint, "--region", nimbus.region, "--output", "json", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=120,
        )
        if not check:
            return result
        if result.returncode != 0:
            raise CliError(result)
        return json.loads(result.stdout) if result.stdout.strip() else None

    return run
