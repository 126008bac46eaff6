"""Scaling: idle environments reaped after the keep-alive, the account
concurrency limit."""

import base64
import threading
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Server, make_client
from lambda_helpers import create_python


@pytest.fixture(scope="module")
def small_server():
    server = Server(extra_args=["--lambda-keep-alive", "1", "--lambda-concurrency", "2"])
    yield server
    server.stop()


def cold(lam, name):
    log = base64.b64decode(lam.invoke(FunctionName=name, LogType="Tail")["LogResult"]).decode()
    return "Init Duration" in log


def test_idle_environments_are_reaped(small_server):
    lam = make_client(small_server, "lambda")
    name = create_python(lam, "def lambda_handler(e, c):\n    return 1\n")
    assert cold(lam, name)
    assert not cold(lam, name)
    time.sleep(3)
    assert cold(lam, name)


def test_account_limit_throttles_beyond_it(small_server):
    # No client retries: a retried throttle could land after the first calls ended.
    lam = make_client(small_server, "lambda", config=Config(retries={"max_attempts": 0}, read_timeout=120))
    assert lam.get_account_settings()["AccountLimit"]["ConcurrentExecutions"] == 2
    name = create_python(lam, "import time\ndef lambda_handler(e, c):\n    time.sleep(1)\n    return 1\n")
    outcomes = []

    def call():
        try:
            lam.invoke(FunctionName=name)
            outcomes.append("ok")
        except ClientError as e:
            outcomes.append((e.response["Error"]["Code"], e.response.get("Reason")))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 2
    assert outcomes.count(("TooManyRequestsException", "ConcurrentInvocationLimitExceeded")) == 2


def test_a_caller_giving_up_does_not_waste_the_cold_start(nimbus, client):
    from botocore.config import Config
    from botocore.exceptions import ReadTimeoutError

    lam = client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=60))
    impatient = client("lambda", config=Config(retries={"max_attempts": 0}, read_timeout=1))
    name = create_python(lam, "import time\ntime.sleep(3)\n\ndef lambda_handler(e, c):\n    return 1\n")
    with pytest.raises(ReadTimeoutError):
        impatient.invoke(FunctionName=name)
    # The environment finished its init without the caller and waits warm.
    time.sleep(3)
    assert not cold(lam, name)
