"""The AWS SDK for JavaScript v3 in the nodejs runtimes.

On AWS, nodejs18.x and later include the SDK v3, so a handler imports
@aws-sdk/* without bundling it. Nimbus installs the packages a function's code
names with npm, once per package set, under its cache dir (shared between
servers and CI runs), and functions reach Nimbus through AWS_ENDPOINT_URL with
their role's credentials. Setup is boto3; the handlers use the real SDK."""

import base64
import json
import os
import tempfile
import time
from pathlib import Path

import pytest
from botocore.config import Config

from conftest import Server, make_client
from lambda_helpers import make_zip, unique

# Where the server below keeps the installations: the same default as
# scripts/test's venv, so CI installs once and later runs reuse it.
CACHE_DIR = Path(os.environ.get("NIMBUS_CACHE_DIR") or Path.home() / ".cache" / "nimbus")
SDK_SETS = CACHE_DIR / "lambda" / "node-sdk"
PACKAGES = ["@aws-sdk/client-dynamodb", "@aws-sdk/lib-dynamodb"]
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})

# The handler's body, the same in every module style: a PutCommand and a
# GetCommand through DynamoDBDocumentClient; SDK errors come back as data.
ROUND_TRIP = """
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
async function roundTrip(event) {
  try {
    await doc.send(new PutCommand({ TableName: event.table, Item: { pk: event.pk, n: 42, tags: ["a", "b"] } }));
    const got = await doc.send(new GetCommand({ TableName: event.table, Key: { pk: event.pk } }));
    return { item: got.Item };
  } catch (err) {
    return { error: err.name, message: err.message, status: err.$metadata && err.$metadata.httpStatusCode };
  }
}
"""

COMMONJS = """
const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
const { DynamoDBDocumentClient, PutCommand, GetCommand } = require("@aws-sdk/lib-dynamodb");
""" + ROUND_TRIP + "exports.handler = roundTrip;\n"

ES_MODULE = """
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, GetCommand } from "@aws-sdk/lib-dynamodb";
""" + ROUND_TRIP + "export const handler = roundTrip;\n"

# Module style -> (runtime, files).
STYLES = {
    "commonjs": ("nodejs20.x", {"index.js": COMMONJS}),
    "mjs": ("nodejs22.x", {"index.mjs": ES_MODULE}),
    "type-module": ("nodejs20.x", {"index.js": ES_MODULE, "package.json": '{"type": "module"}'}),
}


@pytest.fixture(scope="module")
def server():
    s = Server(extra_args=["--cache-dir", str(CACHE_DIR)])
    yield s
    s.stop()


def clients(server, service):
    # The first cold start may wait for npm: allow it minutes, not 60 s.
    return make_client(server, service, config=Config(retries={"max_attempts": 1}, read_timeout=600))


@pytest.fixture(scope="module")
def table(server):
    ddb = clients(server, "dynamodb")
    name = unique("sdk")
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    return name


def make_role(server, table=None):
    """A role Lambda can assume; with `table`, allowed to put and get its items."""
    iam = clients(server, "iam")
    name = unique("sdkrole")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    if table:
        policy = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:GetItem"],
            "Resource": f"arn:aws:dynamodb:us-east-1:000000000000:table/{table}"}]}
        iam.put_role_policy(RoleName=name, PolicyName="items", PolicyDocument=json.dumps(policy))
    return name, arn


def create(lam, style, role_arn):
    runtime, files = STYLES[style]
    name = unique(f"sdk-{style}")
    lam.create_function(FunctionName=name, Runtime=runtime, Role=role_arn, Handler="index.handler",
                        Code={"ZipFile": make_zip(files)}, Timeout=30, MemorySize=256)
    return name


def invoke(lam, name, event):
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event), LogType="Tail")
    log = base64.b64decode(out["LogResult"]).decode()
    return out.get("FunctionError"), json.loads(out["Payload"].read()), log


def installed_sets(cache_dir=CACHE_DIR):
    """{set dir: (inode, mtime_ns, manifest mtime_ns)} of the complete sets holding PACKAGES."""
    found = {}
    for manifest in (cache_dir / "lambda" / "node-sdk").glob("*/packages.txt"):
        if set(PACKAGES) <= set(manifest.read_text().split()):
            st = manifest.parent.stat()
            found[manifest.parent] = (st.st_ino, st.st_mtime_ns, manifest.stat().st_mtime_ns)
    return found


def test_the_sdk_is_installed_once_and_reused_by_later_cold_starts_and_servers(server, table):
    installing = "installing the AWS SDK for JavaScript v3"  # the server's log line
    lam = clients(server, "lambda")
    _, role_arn = make_role(server, table)
    before = installed_sets()
    fn = create(lam, "commonjs", role_arn)
    error, payload, log = invoke(lam, fn, {"table": table, "pk": "first"})
    assert error is None and payload["item"]["pk"] == "first", (payload, log)
    sets = installed_sets()
    installs = server.output().count(installing)
    if before:
        # Installed by an earlier run sharing the cache dir (CI's cache, a developer's machine).
        assert installs == 0 and sets == before, server.output()
    else:
        # Installed once, from CreateFunction (or this cold start, whichever came first).
        assert installs == 1 and len(sets) == 1, server.output()
    # Every later cold start reuses it: another function with the same
    # imports, and the first one's new configuration.
    esm = create(lam, "mjs", role_arn)
    lam.update_function_configuration(FunctionName=fn, Environment={"Variables": {"AGAIN": "1"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    for name in (esm, fn):
        error, payload, log = invoke(lam, name, {"table": table, "pk": name})
        assert error is None and payload["item"]["pk"] == name, (payload, log)
        assert "Init Duration:" in log, log  # a cold start (INIT_START goes to CloudWatch only)
        assert "Nimbus: installed" not in log and "could not install" not in log, log
    assert server.output().count(installing) == installs
    # So does another server sharing the cache dir.
    second = Server(extra_args=["--cache-dir", str(CACHE_DIR)])
    try:
        lam = clients(second, "lambda")
        _, role_arn = make_role(second)
        error, payload, log = invoke(lam, create(lam, "commonjs", role_arn), {"table": "none", "pk": "x"})
        assert error is None and payload["error"] == "AccessDeniedException", (payload, log)
        assert installing not in second.output()
    finally:
        second.stop()
    # The same directories, untouched.
    assert installed_sets() == sets
    # The versions installed honour AWS_ENDPOINT_URL (SDK v3 3.4xx and later).
    for set_dir in sets:
        package = set_dir / "node_modules" / "@aws-sdk" / "client-dynamodb" / "package.json"
        major, minor, _ = (int(p) for p in json.loads(package.read_text())["version"].split("."))
        assert (major, minor) >= (3, 400)


@pytest.mark.parametrize("style", list(STYLES))
def test_a_handler_writes_and_reads_an_item_through_the_included_sdk(server, table, style):
    lam = clients(server, "lambda")
    _, role_arn = make_role(server, table)
    fn = create(lam, style, role_arn)
    pk = unique(style)
    error, payload, log = invoke(lam, fn, {"table": table, "pk": pk})
    assert error is None, (payload, log)
    assert payload == {"item": {"pk": pk, "n": 42, "tags": ["a", "b"]}}, log
    # The SDK talked to this server (AWS_ENDPOINT_URL), as DynamoDB shows.
    item = clients(server, "dynamodb").get_item(TableName=table, Key={"pk": {"S": pk}})["Item"]
    assert item == {"pk": {"S": pk}, "n": {"N": "42"}, "tags": {"L": [{"S": "a"}, {"S": "b"}]}}
    assert installed_sets(), f"no installation of {PACKAGES} under {SDK_SETS}"


def test_without_the_sandbox_both_module_styles_find_the_sdk():
    # Plain processes: no mounts, so ES modules resolve through the bootstrap's hook.
    plain = Server(extra_args=["--cache-dir", str(CACHE_DIR), "--lambda-sandbox", "false"])
    try:
        ddb = clients(plain, "dynamodb")
        table = unique("sdk")
        ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        _, role_arn = make_role(plain, table)
        lam = clients(plain, "lambda")
        for style in STYLES:
            error, payload, log = invoke(lam, create(lam, style, role_arn), {"table": table, "pk": style})
            assert error is None and payload == {"item": {"pk": style, "n": 42, "tags": ["a", "b"]}}, (payload, log)
    finally:
        plain.stop()


def test_packages_a_function_bundles_win_over_the_provided_ones(server):
    # A stand-in @aws-sdk/client-dynamodb in the function's node_modules: the
    # handler must get it, not the SDK Nimbus provides, in both module styles.
    bundled = {
        "node_modules/@aws-sdk/client-dynamodb/package.json": '{"name": "@aws-sdk/client-dynamodb", "main": "index.js"}',
        "node_modules/@aws-sdk/client-dynamodb/index.js": "exports.origin = 'bundled';\n",
    }
    lam = clients(server, "lambda")
    _, role_arn = make_role(server)
    for file, code in [
        ("index.js", 'const { origin } = require("@aws-sdk/client-dynamodb");\nexports.handler = async () => origin;\n'),
        ("index.mjs", 'import { origin } from "@aws-sdk/client-dynamodb";\nexport const handler = async () => origin;\n'),
    ]:
        name = unique("bundled")
        lam.create_function(FunctionName=name, Runtime="nodejs20.x", Role=role_arn, Handler="index.handler",
                            Code={"ZipFile": make_zip({file: code, **bundled})})
        error, payload, log = invoke(lam, name, {})
        assert (error, payload) == (None, "bundled"), log


def test_a_role_without_the_permission_gets_access_denied_from_the_sdk(server, table):
    lam = clients(server, "lambda")
    role, role_arn = make_role(server)
    fn = create(lam, "mjs", role_arn)
    error, payload, log = invoke(lam, fn, {"table": table, "pk": "denied"})
    assert error is None, (payload, log)
    assert payload["error"] == "AccessDeniedException", payload
    assert payload["status"] == 400, payload
    assert f"assumed-role/{role}/{fn} is not authorized to perform: dynamodb:PutItem" in payload["message"], payload


def test_an_unreachable_registry_is_a_clear_init_error_not_a_hang():
    with tempfile.TemporaryDirectory(prefix="nimbus-offline-") as scratch:
        # A fresh cache and npm cache, and a registry nobody listens on.
        offline = Server(extra_args=["--cache-dir", f"{scratch}/cache"], env={
            "npm_config_registry": "http://127.0.0.1:9/", "npm_config_cache": f"{scratch}/npm"})
        try:
            lam = clients(offline, "lambda")
            _, role_arn = make_role(offline)
            fn = create(lam, "commonjs", role_arn)
            started = time.monotonic()
            error, payload, log = invoke(lam, fn, {"table": "t", "pk": "x"})
            elapsed = time.monotonic() - started
            assert error == "Unhandled", (payload, log)
            assert payload["errorType"] == "Runtime.ImportModuleError", payload
            assert "@aws-sdk/client-dynamodb" in payload["errorMessage"], payload
            assert ("Nimbus: could not install the AWS SDK for JavaScript v3 "
                    "(@aws-sdk/client-dynamodb, @aws-sdk/lib-dynamodb)") in log, log
            assert "ECONNREFUSED" in log, log
            assert not list(Path(scratch, "cache").glob("lambda/node-sdk/*/packages.txt"))
            # A function that imports no SDK does not wait for npm at all.
            plain = unique("plain")
            lam.create_function(FunctionName=plain, Runtime="nodejs20.x", Role=role_arn, Handler="index.handler",
                                Code={"ZipFile": make_zip({"index.js": "exports.handler = async () => 'ok';"})})
            assert invoke(lam, plain, {})[:2] == (None, "ok")
            print(f"offline install failed after {elapsed:.1f} s")
        finally:
            offline.stop()
