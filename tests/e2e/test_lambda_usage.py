"""`GET /_nimbus/lambda/usage`: the usage records every invocation leaves,
read back per function with what Lambda would bill for them (root only)."""

import time

import pytest
from botocore.config import Config

import raw
from lambda_helpers import create_python

PER_REQUEST = 0.20 / 1_000_000
PER_GB_SECOND = 0.0000166667


def usage(nimbus, **kwargs):
    reply = raw.signed(nimbus.endpoint, "lambda", method="GET", **kwargs)
    return reply


def test_usage_counts_requests_cold_starts_and_gb_seconds(nimbus, client):
    lam = client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=60))
    since = int(time.time() * 1000)
    small = create_python(lam, "def lambda_handler(event, context):\n    return 1\n")
    big = create_python(lam, "def lambda_handler(event, context):\n    raise ValueError('no')\n")
    lam.update_function_configuration(FunctionName=big, MemorySize=1024)
    lam.get_waiter("function_updated_v2").wait(FunctionName=big)
    for _ in range(3):
        lam.invoke(FunctionName=small)
    lam.invoke(FunctionName=big)

    reply = usage(nimbus, path=f"/_nimbus/lambda/usage?since={since}")
    assert reply.status == 200, reply.text
    body = reply.json()
    by_name = {f["function"]: f for f in body["functions"]}
    assert set(by_name) == {small, big}
    s, b = by_name[small], by_name[big]
    assert (s["requests"], s["cold_starts"], s["errors"]) == (3, 1, 0)
    assert (b["requests"], b["cold_starts"], b["errors"]) == (1, 1, 1)
    for f, memory_mb in ((s, 128), (b, 1024)):
        assert f["billed_ms"] >= f["requests"]  # at least 1 ms each
        assert f["gb_seconds"] == pytest.approx(f["billed_ms"] / 1000 * memory_mb / 1024)
        assert f["cost_usd"] == pytest.approx(f["requests"] * PER_REQUEST + f["gb_seconds"] * PER_GB_SECOND)
    assert body["total"]["requests"] == 4
    assert body["total"]["cost_usd"] == pytest.approx(s["cost_usd"] + b["cost_usd"])
    assert body["prices"] == {"architecture": "x86_64", "per_request_usd": pytest.approx(PER_REQUEST),
                              "per_gb_second_usd": PER_GB_SECOND}
    # A later window holds none of them.
    later = usage(nimbus, path=f"/_nimbus/lambda/usage?since={int(time.time() * 1000) + 60_000}").json()
    assert later["functions"] == [] and later["total"]["requests"] == 0


def test_usage_is_root_only_and_validates_since(nimbus, client):
    iam = client("iam")
    iam.create_user(UserName="usage-reader")
    key = iam.create_access_key(UserName="usage-reader")["AccessKey"]
    denied = usage(nimbus, path="/_nimbus/lambda/usage", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert denied.status == 403
    bad = usage(nimbus, path="/_nimbus/lambda/usage?since=yesterday")
    assert bad.status == 400
    assert "since" in bad.text
