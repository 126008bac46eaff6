"""`nimbus logs <function> [--follow] [--since]`: a real child process reading
a function's log group from the running server."""

import os
import subprocess
import threading
import time

from botocore.config import Config

from conftest import ACCESS_KEY, SECRET_KEY, nimbus_binary
from lambda_helpers import create_python

CODE = "def lambda_handler(event, context):\n    print('line for', event['n'])\n    return event['n']\n"


def logs_command(nimbus, *args):
    env = {**os.environ, "NIMBUS_ACCESS_KEY_ID": ACCESS_KEY, "NIMBUS_SECRET_ACCESS_KEY": SECRET_KEY,
           "NIMBUS_REGION": nimbus.region}
    return [nimbus_binary(), "logs", *args, "--endpoint", nimbus.endpoint], env


def wait_for_reports(logs, name, n):
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        if sum(e["message"].startswith("REPORT ") for e in events) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"{n} REPORT lines never reached the log group")


def test_logs_prints_the_function_log_in_time_order(nimbus, client):
    lam = client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=60))
    name = create_python(lam, CODE)
    for n in (1, 2):
        lam.invoke(FunctionName=name, Payload=f'{{"n": {n}}}')
    wait_for_reports(client("logs"), name, 2)
    argv, env = logs_command(nimbus, name)
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    messages = [line.split(" ", 1)[1] for line in lines]
    assert messages[0].startswith("INIT_START Runtime Version: python:")
    assert messages.index("line for 1") < messages.index("line for 2")
    assert sum(m.startswith("START RequestId: ") for m in messages) == 2
    assert sum(m.startswith("REPORT RequestId: ") for m in messages) == 2
    # Every line starts with the event's timestamp.
    assert all(line[:4].isdigit() and line[10] == "T" and line.split(" ", 1)[0].endswith("Z") for line in lines)

    # --since excludes older events.
    argv, env = logs_command(nimbus, name, "--since", "0s")
    time.sleep(0.05)
    assert subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30).stdout == ""


def test_logs_follow_prints_new_events_as_they_arrive(nimbus, client):
    lam = client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=60))
    name = create_python(lam, CODE)
    argv, env = logs_command(nimbus, name, "--follow")
    # Started before the function has any log group: it waits for one.
    child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(iter(child.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        for n in (7, 8):
            lam.invoke(FunctionName=name, Payload=f'{{"n": {n}}}')
            deadline = time.time() + 15
            while time.time() < deadline and not any(line.endswith(f" line for {n}\n") for line in seen):
                time.sleep(0.1)
            assert any(line.endswith(f" line for {n}\n") for line in seen), (seen, child.poll())
        deadline = time.time() + 15
        while time.time() < deadline and sum(" REPORT RequestId: " in line for line in seen) < 2:
            time.sleep(0.1)
        assert child.poll() is None  # still following
    finally:
        child.terminate()
        child.wait(timeout=10)
    # Each event exactly once, although polls overlap at the last timestamp.
    assert sum(" REPORT RequestId: " in line for line in seen) == 2
    assert sum(line.endswith(" line for 7\n") for line in seen) == 1


def test_logs_of_a_function_without_logs_is_an_error(nimbus):
    argv, env = logs_command(nimbus, "never-invoked-function")
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "does not exist" in result.stderr
