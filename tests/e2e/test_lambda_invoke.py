"""Lambda Invoke: the seed handler, Python/Node/custom runtimes through the
Runtime API, the context object and environment, logs, payload limits,
failures as Lambda reports them, concurrency throttling."""

import base64
import json
import os
import re
import threading
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambda_helpers import ROLE, SEED_HANDLER, create_python, make_zip, unique


@pytest.fixture
def lam(client):
    return client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=120))


def invoke_json(lam, name, payload=None, **kwargs):
    args = {"FunctionName": name, **kwargs}
    if payload is not None:
        args["Payload"] = json.dumps(payload)
    result = lam.invoke(**args)
    return result, json.loads(result["Payload"].read() or b"null")


def test_seed_handler_returns_hello_from_lambda(lam):
    name = create_python(lam, SEED_HANDLER, runtime="python3.12")
    result, body = invoke_json(lam, name, {"key": "value"})
    assert result["StatusCode"] == 200
    assert result["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in result
    assert body == {"statusCode": 200, "body": "\"Hello from Lambda!\""}


def test_log_tail_has_start_end_report_and_output(lam):
    code = "def lambda_handler(event, context):\n    print('hello from', context.aws_request_id)\n    return 1\n"
    name = create_python(lam, code)
    result = lam.invoke(FunctionName=name, LogType="Tail")
    request_id = result["ResponseMetadata"]["RequestId"]
    log = base64.b64decode(result["LogResult"]).decode()
    lines = log.splitlines()
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert f"hello from {request_id}" in lines
    assert f"END RequestId: {request_id}" in lines
    report = lines[-1]
    assert report.startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert "\tBilled Duration: " in report and "\tMemory Size: 128 MB\tMax Memory Used: " in report
    assert "\tInit Duration: " in report  # a cold start
    assert "INIT_START" not in log  # CloudWatch Logs only
    warm = base64.b64decode(lam.invoke(FunctionName=name, LogType="Tail")["LogResult"]).decode()
    assert "Init Duration" not in warm  # warm reuse


def test_init_start_line_in_cloudwatch_once_per_environment(lam, client, nimbus):
    name = create_python(lam, "def lambda_handler(event, context):\n    return 1\n", runtime="python3.12")
    for _ in range(2):  # one cold start, one warm reuse
        lam.invoke(FunctionName=name)
    logs = client("logs")
    deadline = time.time() + 10
    messages = []
    while time.time() < deadline:
        try:  # function logs reach CloudWatch Logs in batches, as on AWS
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}").get("events", [])
        except logs.exceptions.ResourceNotFoundException:
            events = []
        messages = [e["message"] for e in events]
        if sum(m.startswith("REPORT ") for m in messages) == 2:
            break
        time.sleep(0.2)
    init_lines = [m for m in messages if m.startswith("INIT_START ")]
    assert len(init_lines) == 1, messages
    assert re.fullmatch(
        r"INIT_START Runtime Version: python:3\.12\.v\d+\tRuntime Version ARN: "
        rf"arn:aws:lambda:{re.escape(nimbus.region)}::runtime:[0-9a-f]{{64}}\n?",
        init_lines[0],
    ), init_lines[0]
    # It opens the environment's log: before the first START.
    assert messages.index(init_lines[0]) < next(i for i, m in enumerate(messages) if m.startswith("START "))


def test_max_memory_used_grows_with_the_environment(lam):
    code = "held = []\n\ndef lambda_handler(event, context):\n    held.append(bytearray(event['mb'] << 20))\n    return len(held)\n"
    name = create_python(lam, code, MemorySize=256)

    def max_used(mb):
        result = lam.invoke(FunctionName=name, Payload=json.dumps({"mb": mb}), LogType="Tail")
        report = base64.b64decode(result["LogResult"]).decode().splitlines()[-1]
        return int(re.search(r"\tMax Memory Used: (\d+) MB", report).group(1))

    first = max_used(1)
    assert first > 0
    # Same warm environment, 60 MB more held: the peak is read afresh.
    assert max_used(60) >= first + 55


def test_python_logging_is_configured_as_on_aws(lam):
    # The runtime configures the root logger before the handler module runs,
    # so basicConfig() is a no-op and records carry the request id.
    code = """import logging
import os
import re
import sys
logging.basicConfig(format='%(message)s')
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def lambda_handler(event, context):
    logger.info('info line')
    paths = [p for p in sys.path if p]
    stdlib = next(i for i, p in enumerate(paths) if re.search(r'lib/python3\\.\\d+$', p))
    site = [i for i, p in enumerate(paths) if p.endswith('site-packages')]
    return {'handlers': len(logger.handlers), 'first': paths[0], 'task_root': os.environ['LAMBDA_TASK_ROOT'],
            'site_packages_after_stdlib': bool(site) and min(site) > stdlib}
"""
    name = create_python(lam, code)
    result, body = invoke_json(lam, name, LogType="Tail")
    request_id = result["ResponseMetadata"]["RequestId"]
    assert body["handlers"] == 1
    assert body["first"] == body["task_root"]
    assert body["site_packages_after_stdlib"] is True
    log = base64.b64decode(result["LogResult"]).decode()
    assert re.search(rf"^\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{request_id}\tinfo line$", log, re.M), log


def test_context_object_and_environment(lam, nimbus):
    code = """import os
def lambda_handler(event, context):
    keys = ['AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_VERSION',
            'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_LAMBDA_LOG_STREAM_NAME', 'AWS_REGION', 'AWS_DEFAULT_REGION',
            '_HANDLER', 'LAMBDA_TASK_ROOT', 'AWS_EXECUTION_ENV', 'AWS_LAMBDA_INITIALIZATION_TYPE', 'TZ',
            'AWS_LAMBDA_RUNTIME_API', 'AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'MY_VAR']
    return {
        'env': {k: os.environ.get(k) for k in keys},
        'ctx': {
            'aws_request_id': context.aws_request_id,
            'function_name': context.function_name,
            'function_version': context.function_version,
            'invoked_function_arn': context.invoked_function_arn,
            'memory_limit_in_mb': context.memory_limit_in_mb,
            'log_group_name': context.log_group_name,
            'log_stream_name': context.log_stream_name,
            'remaining': context.get_remaining_time_in_millis(),
            'client_context': context.client_context.custom if context.client_context else None,
        },
    }
"""
    name = create_python(lam, code, MemorySize=256, Timeout=30, Environment={"Variables": {"MY_VAR": "mine"}})
    client_context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    result, body = invoke_json(lam, name, {}, ClientContext=client_context)
    env, ctx = body["env"], body["ctx"]
    assert ctx["aws_request_id"] == result["ResponseMetadata"]["RequestId"]
    assert ctx["function_name"] == name
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert ctx["memory_limit_in_mb"] == "256"
    assert ctx["log_group_name"] == f"/aws/lambda/{name}"
    assert ctx["log_stream_name"].split("/")[3].startswith("[$LATEST]")
    assert 25_000 < ctx["remaining"] <= 30_000
    assert ctx["client_context"] == {"k": "v"}
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == ctx["log_stream_name"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "lambda_function.lambda_handler"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["TZ"] == ":UTC"
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert env["AWS_ENDPOINT_URL"] == nimbus.endpoint
    assert env["MY_VAR"] == "mine"


def test_boto3_inside_a_function_talks_to_nimbus(lam):
    code = """import boto3
def lambda_handler(event, context):
    names = [f['FunctionName'] for f in boto3.client('lambda').list_functions()['Functions']]
    return context.function_name in names
"""
    name = create_python(lam, code, Timeout=30)
    result, body = invoke_json(lam, name)
    assert "FunctionError" not in result, body
    assert body is True


def test_handled_exception_has_aws_error_shape(lam):
    code = "def lambda_handler(event, context):\n    raise ValueError('boom')\n"
    name = create_python(lam, code)
    result, body = invoke_json(lam, name)
    assert result["StatusCode"] == 200
    assert result["FunctionError"] == "Unhandled"
    assert body["errorMessage"] == "boom"
    assert body["errorType"] == "ValueError"
    assert body["requestId"] == result["ResponseMetadata"]["RequestId"]
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
    # The environment survives a handled error.
    result, body = invoke_json(lam, name)
    assert body["errorMessage"] == "boom"


def test_init_errors(lam):
    name = create_python(lam, "import not_a_module\ndef lambda_handler(e, c):\n    return 1\n")
    result, body = invoke_json(lam, name)
    assert result["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'lambda_function': No module named 'not_a_module'"
    name = create_python(lam, "def other(e, c):\n    return 1\n")
    result, body = invoke_json(lam, name)
    assert body["errorType"] == "Runtime.HandlerNotFound"
    assert body["errorMessage"] == "Handler 'lambda_handler' missing on module 'lambda_function'"


def test_timeout_kills_the_environment(lam):
    code = "import time\ncalls = []\ndef lambda_handler(event, context):\n    calls.append(1)\n    if event.get('sleep'):\n        time.sleep(5)\n    return len(calls)\n"
    name = create_python(lam, code, Timeout=1)
    started = time.time()
    result, body = invoke_json(lam, name, {"sleep": True})
    assert time.time() - started < 4
    request_id = result["ResponseMetadata"]["RequestId"]
    assert result["FunctionError"] == "Unhandled"
    assert body == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds",
    }
    # A fresh environment serves the next call (module state starts over).
    result, body = invoke_json(lam, name, {})
    assert body == 1


def test_crash_is_runtime_exit_error(lam):
    code = "import os\ndef lambda_handler(event, context):\n    os._exit(3)\n"
    name = create_python(lam, code)
    result, body = invoke_json(lam, name)
    request_id = result["ResponseMetadata"]["RequestId"]
    assert result["FunctionError"] == "Unhandled"
    assert body == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 3",
    }


def test_payload_limits_and_bad_json(lam):
    name = create_python(lam, "def lambda_handler(e, c):\n    return len(e['x'])\n")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=json.dumps({"x": "a" * (6 * 1024 * 1024)}))
    err = e.value.response
    assert err["Error"]["Code"] == "RequestTooLargeException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert err["Error"]["Message"] == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"x": "a" * 300_000}))
    assert e.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert "262144 bytes" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=b"{not json")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
    # Just under the synchronous limit is fine.
    _, body = invoke_json(lam, name, {"x": "a" * (5 * 1024 * 1024)})
    assert body == 5 * 1024 * 1024


def test_oversized_responses_fail_and_the_environment_serves_on(lam):
    # The function answers through Nimbus's own Runtime API socket: a body
    # over 6291556 bytes is refused whether it is read (just over) or not
    # (over twice the limit, where the connection is closed), and the same
    # warm environment then serves the next invocation.
    code = "import os\ndef lambda_handler(e, c):\n    return {'pid': os.getpid(), 'fill': 'a' * e['n']}\n"
    name = create_python(lam, code, MemorySize=512)
    _, first = invoke_json(lam, name, {"n": 10})
    for size in (6_300_000, 13_000_000):
        result, body = invoke_json(lam, name, {"n": size})
        assert result["FunctionError"] == "Unhandled"
        assert body["errorType"] == "Function.ResponseSizeTooLarge"
        assert "6291556 bytes" in body["errorMessage"]
        _, after = invoke_json(lam, name, {"n": 10})
        assert after == {"pid": first["pid"], "fill": "a" * 10}


def test_dry_run_and_event(lam):
    code = "import boto3\ndef lambda_handler(event, context):\n    return event\n"
    name = create_python(lam, code)
    dry = lam.invoke(FunctionName=name, InvocationType="DryRun")
    assert dry["StatusCode"] == 204
    event = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"a": 1}')
    assert event["StatusCode"] == 202
    assert event["Payload"].read() == b""


def test_reserved_concurrency_zero_throttles(lam):
    name = create_python(lam, SEED_HANDLER)
    assert lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)[
        "ReservedConcurrentExecutions"
    ] == 0
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 0
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 0}
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name)
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err["Error"]["Code"] == "TooManyRequestsException"
    assert err["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000
    lam.delete_function_concurrency(FunctionName=name)
    assert lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") is None
    _, body = invoke_json(lam, name)
    assert body["statusCode"] == 200
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=901)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "below its minimum value of [100]" in e.value.response["Error"]["Message"]


def test_reserved_concurrency_one_serialises_to_one_environment(lam):
    code = "import time\ndef lambda_handler(e, c):\n    time.sleep(0.5)\n    return 1\n"
    name = create_python(lam, code)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    invoke_json(lam, name)  # warm up
    outcomes = []

    def call():
        try:
            invoke_json(lam, name)
            outcomes.append("ok")
        except ClientError as e:
            outcomes.append(e.response["Error"]["Code"])

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") >= 1
    assert "TooManyRequestsException" in outcomes


def test_node_async_and_callback_handlers(lam):
    name = unique("node")
    code = """
exports.asyncHandler = async (event, context) => {
  console.log('async', context.awsRequestId);
  return { style: 'async', name: context.functionName, remaining: context.getRemainingTimeInMillis() > 0, input: event };
};
exports.callbackHandler = (event, context, callback) => {
  setTimeout(() => callback(null, { style: 'callback', input: event }), 10);
};
exports.failing = async () => { throw new TypeError('bad thing'); };
"""
    lam.create_function(
        FunctionName=name, Runtime="nodejs20.x", Role=ROLE, Handler="index.asyncHandler",
        Code={"ZipFile": make_zip({"index.js": code})},
    )
    result, body = invoke_json(lam, name, {"n": 1}, LogType="Tail")
    assert body == {"style": "async", "name": name, "remaining": True, "input": {"n": 1}}
    log = base64.b64decode(result["LogResult"]).decode()
    assert f"\tINFO\tasync {result['ResponseMetadata']['RequestId']}" in log
    lam.update_function_configuration(FunctionName=name, Handler="index.callbackHandler")
    _, body = invoke_json(lam, name, {"n": 2})
    assert body == {"style": "callback", "input": {"n": 2}}
    lam.update_function_configuration(FunctionName=name, Handler="index.failing")
    result, body = invoke_json(lam, name)
    assert result["FunctionError"] == "Unhandled"
    assert body["errorType"] == "TypeError"
    assert body["errorMessage"] == "bad thing"
    assert isinstance(body["trace"], list)


def test_provided_runtime_runs_the_zip_bootstrap(lam):
    # A custom runtime speaking the Runtime API by itself (here in Python).
    bootstrap = """#!/usr/bin/env python3
import json, os, urllib.request
api = 'http://' + os.environ['AWS_LAMBDA_RUNTIME_API'] + '/2018-06-01/runtime'
while True:
    with urllib.request.urlopen(api + '/invocation/next') as r:
        rid = r.headers['Lambda-Runtime-Aws-Request-Id']
        arn = r.headers['Lambda-Runtime-Invoked-Function-Arn']
        deadline = r.headers['Lambda-Runtime-Deadline-Ms']
        trace = r.headers['Lambda-Runtime-Trace-Id']
        event = json.loads(r.read())
    body = json.dumps({'echo': event, 'arn': arn, 'deadline': int(deadline) > 0, 'trace': trace.startswith('Root=1-'),
                       'handler': os.environ['_HANDLER']}).encode()
    urllib.request.urlopen(urllib.request.Request(api + '/invocation/' + rid + '/response', data=body, method='POST')).read()
"""
    name = unique("custom")
    lam.create_function(
        FunctionName=name, Runtime="provided.al2023", Role=ROLE, Handler="my.handler",
        Code={"ZipFile": make_zip({"bootstrap": (bootstrap, 0o755)})},
    )
    _, body = invoke_json(lam, name, {"hi": True})
    assert body == {
        "echo": {"hi": True},
        "arn": f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
        "deadline": True,
        "trace": True,
        "handler": "my.handler",
    }


@pytest.mark.skipif(
    not (os.access("/sys/fs/cgroup/memory", os.W_OK) or os.path.exists("/sys/fs/cgroup/cgroup.controllers")),
    reason="this host lets nobody create memory cgroups",
)
def test_exceeding_memory_is_out_of_memory(lam):
    code = "def lambda_handler(event, context):\n    hog = bytearray(400 * 1024 * 1024)\n    hog[::4096] = b'x' * len(hog[::4096])\n    return len(hog)\n"
    name = create_python(lam, code, MemorySize=128, Timeout=20)
    result, body = invoke_json(lam, name, LogType="Tail")
    request_id = result["ResponseMetadata"]["RequestId"]
    assert result["FunctionError"] == "Unhandled"
    assert body == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
    }
    assert "Max Memory Used: 128 MB" in base64.b64decode(result["LogResult"]).decode()
