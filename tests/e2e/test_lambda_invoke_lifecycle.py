"""Invocations that must end well whatever happens around them: many at once
(each answered with its own payload), an init longer than Lambda's 10 s
init phase, and a caller that hangs up mid-invocation."""

import base64
import json
import threading
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

from lambda_helpers import create_python

ECHO = "def lambda_handler(event, context):\n    return {'echo': event, 'request': context.aws_request_id}\n"


def log_messages(logs, name):
    """Every message in the function's log group (all streams)."""
    try:
        return [e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


def wait_for_log(logs, name, check, timeout=20):
    deadline = time.time() + timeout
    while True:
        messages = log_messages(logs, name)
        if check(messages) or time.time() > deadline:
            return messages
        time.sleep(0.2)


def test_many_concurrent_invokes_each_get_their_own_answer(client):
    lam = client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=120, max_pool_connections=32))
    name = create_python(lam, ECHO, Timeout=60)
    callers, calls_each = 32, 6
    answers, failures = {}, []

    def caller(c):
        for i in range(calls_each):
            key = f"{c}-{i}"
            try:
                out = lam.invoke(FunctionName=name, Payload=json.dumps({"key": key}).encode())
                body = json.loads(out["Payload"].read())
                if "FunctionError" in out:
                    failures.append((key, body))
                else:
                    answers[key] = (body, out["ResponseMetadata"]["RequestId"])
            except Exception as e:  # noqa: BLE001 - every failure is reported below
                failures.append((key, repr(e)))

    threads = [threading.Thread(target=caller, args=(c,)) for c in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(answers) == callers * calls_each
    for key, (body, request_id) in answers.items():
        # The right payload, from the invocation this call started.
        assert body == {"echo": {"key": key}, "request": request_id}


def test_an_init_longer_than_10_seconds_is_retried_under_the_function_timeout(client):
    lam = client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=60))
    logs = client("logs")
    code = "import time\ntime.sleep(11)\n\ndef lambda_handler(event, context):\n    return 'ready'\n"
    name = create_python(lam, code, Timeout=20)
    out = lam.invoke(FunctionName=name)
    assert "FunctionError" not in out
    assert json.loads(out["Payload"].read()) == "ready"
    messages = wait_for_log(logs, name, lambda m: any(x.startswith("REPORT ") for x in m))
    init_reports = [m for m in messages if m.startswith("INIT_REPORT ")]
    assert len(init_reports) == 1
    assert init_reports[0].rstrip("\n").endswith("Phase: init\tStatus: timeout")
    assert not any("Task timed out" in m for m in messages)
    # Still a cold start: its REPORT has the init phase's duration.
    assert "Init Duration: " in next(m for m in messages if m.startswith("REPORT "))


def test_a_retried_init_that_outlasts_the_function_timeout_times_out(client):
    lam = client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=60))
    code = "import time\ntime.sleep(30)\n\ndef lambda_handler(event, context):\n    return 'ready'\n"
    name = create_python(lam, code, Timeout=1)
    out = lam.invoke(FunctionName=name)
    assert out["FunctionError"] == "Unhandled"
    body = json.loads(out["Payload"].read())
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")


def test_a_caller_hanging_up_leaves_the_invocation_running_and_the_environment_warm(client):
    lam = client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=60))
    impatient = client("lambda", config=Config(retries={"max_attempts": 0}, read_timeout=1))
    logs = client("logs")
    code = (
        "import time\n\ndef lambda_handler(event, context):\n"
        "    time.sleep(event.get('sleep', 0))\n"
        "    print('finished', event['n'])\n"
        "    return event['n']\n"
    )
    name = create_python(lam, code, Timeout=30)
    assert json.loads(lam.invoke(FunctionName=name, Payload=b'{"n": 1}')["Payload"].read()) == 1
    with pytest.raises(ReadTimeoutError):
        impatient.invoke(FunctionName=name, Payload=b'{"n": 2, "sleep": 3}')
    # The abandoned invocation runs to its end and logs it.
    messages = wait_for_log(logs, name, lambda m: sum(x.startswith("REPORT ") for x in m) >= 2)
    assert any(m.startswith("finished 2") for m in messages)
    assert sum(m.startswith("END RequestId: ") for m in messages) == 2
    # The same environment serves the next call: warm, no second init.
    out = lam.invoke(FunctionName=name, Payload=b'{"n": 3}', LogType="Tail")
    assert json.loads(out["Payload"].read()) == 3
    assert "Init Duration" not in base64.b64decode(out["LogResult"]).decode()
    messages = wait_for_log(logs, name, lambda m: sum(x.startswith("REPORT ") for x in m) >= 3)
    assert sum(m.startswith("INIT_START ") for m in messages) == 1
    assert sum(m.startswith("REPORT ") for m in messages) == 3
