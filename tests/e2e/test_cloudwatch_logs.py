"""CloudWatch Logs through boto3 and the AWS CLI: groups, streams, events,
filter patterns, retention, tags — asserting AWS's exact responses."""

import datetime
import json
import os
import subprocess
import threading
import time
import uuid

import botocore
import pytest

DAY_MS = 86_400_000


def now_ms():
    return int(time.time() * 1000)


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"]


@pytest.fixture
def logs(client):
    return client("logs")


@pytest.fixture
def group(logs):
    name = f"/nimbus/test/{uuid.uuid4().hex[:12]}"
    logs.create_log_group(logGroupName=name)
    yield name
    try:
        logs.delete_log_group(logGroupName=name)
    except botocore.exceptions.ClientError:
        pass


def put(logs, group, stream, messages, start=None, step=1):
    start = now_ms() - 60_000 if start is None else start
    events = [{"timestamp": start + i * step, "message": m} for i, m in enumerate(messages)]
    return logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def test_cloudwatch_log_group_lifecycle_and_errors(logs, group):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.create_log_group(logGroupName=group)
    assert error_of(e) == ("ResourceAlreadyExistsException", "The specified log group already exists")
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert len(described) == 1
    g = described[0]
    assert g["logGroupName"] == group
    assert g["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:*"
    assert g["logGroupArn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    assert g["storedBytes"] == 0 and g["metricFilterCount"] == 0
    assert abs(g["creationTime"] - now_ms()) < 60_000
    assert "retentionInDays" not in g
    logs.delete_log_group(logGroupName=group)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.delete_log_group(logGroupName=group)
    assert error_of(e) == ("ResourceNotFoundException", "The specified log group does not exist.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.create_log_group(logGroupName="bad name!")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


def test_cloudwatch_describe_log_groups_paginates(logs):
    prefix = f"/nimbus/page/{uuid.uuid4().hex[:8]}/"
    names = [f"{prefix}{i:02}" for i in range(7)]
    for name in names:
        logs.create_log_group(logGroupName=name)
    first = logs.describe_log_groups(logGroupNamePrefix=prefix, limit=3)
    assert [g["logGroupName"] for g in first["logGroups"]] == names[:3]
    assert "nextToken" in first
    by_id = logs.describe_log_groups(logGroupIdentifiers=[names[1], f"arn:aws:logs:us-east-1:000000000000:log-group:{names[4]}"])
    assert [g["logGroupName"] for g in by_id["logGroups"]] == [names[1], names[4]]
    seen = [g["logGroupName"] for page in logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=prefix, PaginationConfig={"PageSize": 2}) for g in page["logGroups"]]
    assert seen == names
    for name in names:
        logs.delete_log_group(logGroupName=name)


def test_cloudwatch_log_streams_order_and_errors(logs, group):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.create_log_stream(logGroupName=group + "-missing", logStreamName="s")
    assert error_of(e) == ("ResourceNotFoundException", "The specified log group does not exist.")
    for name in ["b", "a", "c"]:
        logs.create_log_stream(logGroupName=group, logStreamName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.create_log_stream(logGroupName=group, logStreamName="a")
    assert error_of(e) == ("ResourceAlreadyExistsException", "The specified log stream already exists")
    base = now_ms() - 10_000
    put(logs, group, "a", ["x"], start=base + 300)
    put(logs, group, "b", ["x"], start=base + 100)
    put(logs, group, "c", ["x"], start=base + 200)
    by_name = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["a", "b", "c"]
    assert by_name[0]["firstEventTimestamp"] == base + 300 and by_name[0]["lastEventTimestamp"] == base + 300
    assert by_name[0]["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:log-stream:a"
    by_time = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)["logStreams"]
    assert [s["logStreamName"] for s in by_time] == ["a", "c", "b"]
    page = logs.describe_log_streams(logGroupName=group, limit=2)
    assert [s["logStreamName"] for s in page["logStreams"]] == ["a", "b"]
    rest = logs.describe_log_streams(logGroupName=group, limit=2, nextToken=page["nextToken"])
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["c"] and "nextToken" not in rest
    logs.delete_log_stream(logGroupName=group, logStreamName="a")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.delete_log_stream(logGroupName=group, logStreamName="a")
    assert error_of(e) == ("ResourceNotFoundException", "The specified log stream does not exist.")


def test_cloudwatch_put_log_events_rules(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put(logs, group, "missing", ["x"])
    assert error_of(e) == ("ResourceNotFoundException", "The specified log stream does not exist.")
    t = now_ms()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
            {"timestamp": t, "message": "b"}, {"timestamp": t - 1, "message": "a"}])
    assert error_of(e) == ("InvalidParameterException",
                           "Log events in a single PutLogEvents request must be in chronological order.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.put_log_events(logGroupName=group, logStreamName="s",
                            logEvents=[{"timestamp": t, "message": "x" * 1_048_551}])
    assert error_of(e) == ("InvalidParameterException", "Upload too large: 1048577 bytes exceeds limit of 1048576")
    reply = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": t - 15 * DAY_MS, "message": "old"},
        {"timestamp": t - 15 * DAY_MS + 1, "message": "old"},
        {"timestamp": t, "message": "ok"},
        {"timestamp": t + 3 * 3_600_000, "message": "new"},
    ])
    assert reply["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 3}
    assert reply["nextSequenceToken"]
    events = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["ok"]
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    reply = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": t - 2 * DAY_MS, "message": "expired"}, {"timestamp": t, "message": "ok2"}])
    assert reply["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}


def test_cloudwatch_get_log_events_tokens(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    base = now_ms() - 100_000
    put(logs, group, "s", [f"m{i}" for i in range(10)], start=base, step=1000)
    latest = logs.get_log_events(logGroupName=group, logStreamName="s", limit=3)
    assert [e["message"] for e in latest["events"]] == ["m7", "m8", "m9"]
    older = logs.get_log_events(logGroupName=group, logStreamName="s", limit=3, nextToken=latest["nextBackwardToken"])
    assert [e["message"] for e in older["events"]] == ["m4", "m5", "m6"]
    head = logs.get_log_events(logGroupName=group, logStreamName="s", limit=4, startFromHead=True)
    assert [e["message"] for e in head["events"]] == ["m0", "m1", "m2", "m3"]
    assert head["nextForwardToken"].startswith("f/") and head["nextBackwardToken"].startswith("b/")
    more = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=head["nextForwardToken"],
                               startFromHead=True)
    assert [e["message"] for e in more["events"]] == [f"m{i}" for i in range(4, 10)]
    end = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=more["nextForwardToken"],
                              startFromHead=True)
    assert end["events"] == [] and end["nextForwardToken"] == more["nextForwardToken"]
    window = logs.get_log_events(logGroupName=group, logStreamName="s", startTime=base + 2000,
                                 endTime=base + 5000, startFromHead=True)
    assert [e["message"] for e in window["events"]] == ["m2", "m3", "m4"]
    assert all(set(e) == {"timestamp", "message", "ingestionTime"} for e in window["events"])


def test_cloudwatch_filter_log_events_interleaves_and_paginates(logs, group):
    for s in ["web-1", "web-2", "db-1"]:
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    base = now_ms() - 100_000
    put(logs, group, "web-1", ["w1-a", "w1-b", "w1-c"], start=base, step=10)
    put(logs, group, "web-2", ["w2-a", "w2-b"], start=base + 5, step=10)
    put(logs, group, "db-1", ["d-a"], start=base + 1)
    every = logs.filter_log_events(logGroupName=group)["events"]
    assert [e["message"] for e in every] == ["w1-a", "d-a", "w2-a", "w1-b", "w2-b", "w1-c"]
    assert every[0]["logStreamName"] == "web-1" and len({e["eventId"] for e in every}) == 6
    web = logs.filter_log_events(logGroupName=group, logStreamNamePrefix="web")["events"]
    assert [e["message"] for e in web] == ["w1-a", "w2-a", "w1-b", "w2-b", "w1-c"]
    named = logs.filter_log_events(logGroupName=group, logStreamNames=["db-1", "web-2"])["events"]
    assert [e["message"] for e in named] == ["d-a", "w2-a", "w2-b"]
    ranged = logs.filter_log_events(logGroupName=group, startTime=base + 5, endTime=base + 10)["events"]
    assert [e["message"] for e in ranged] == ["w2-a", "w1-b"]
    pages = list(logs.get_paginator("filter_log_events").paginate(logGroupName=group,
                                                                  PaginationConfig={"PageSize": 4}))
    assert [len(p["events"]) for p in pages] == [4, 2]
    assert [e["message"] for p in pages for e in p["events"]] == [e["message"] for e in every]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.filter_log_events(logGroupName=group, logStreamNames=["a"], logStreamNamePrefix="w")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


FILTER_EVENTS = [
    "ERROR disk full on /dev/sda",
    "WARN retrying connection",
    "ERROR Retry budget exhausted",
    "INFO all good",
    '{"level": "ERROR", "latency": 150, "user": {"id": "u-1"}, "tags": ["a", "b"]}',
    '{"level": "ERROR", "latency": 50, "user": null}',
    '{"level": "INFO", "latency": 500, "ok": true}',
    '10.0.0.1 - alice [10/Oct/2000:13:55:36 -0700] "GET /index.html HTTP/1.0" 503 2326',
    '10.0.0.2 - bob [10/Oct/2000:13:55:37 -0700] "GET /api HTTP/1.0" 200 512',
    '10.0.0.3 - carol [10/Oct/2000:13:55:38 -0700] "POST /api HTTP/1.0" 500 99',
]


@pytest.mark.parametrize("pattern,expected", [
    ("ERROR", [0, 2, 4, 5]),
    ("ERROR disk", [0]),
    ('"disk full"', [0]),
    ("ERROR -Retry", [0, 4, 5]),
    ("?WARN ?INFO", [1, 3, 6]),
    ('{ $.level = "ERROR" && $.latency > 100 }', [4]),
    ('{ $.level = "INFO" || $.latency < 100 }', [5, 6]),
    ('{ $.user.id = "u-*" }', [4]),
    ("{ $.user IS NULL }", [5]),
    ("{ $.user NOT EXISTS }", [6]),
    ("{ $.ok IS TRUE }", [6]),
    ('{ $.tags[1] = "b" }', [4]),
    ("[ip, dash, user, timestamp, request, status=5*, size>1000]", [7]),
    ("[ip, ..., status=5*, size]", [7, 9]),
    ("[..., status = 200 || status = 500, size < 600]", [8, 9]),
    ("[ip = 10.0.0.2, ...]", [8]),
])
def test_cloudwatch_filter_patterns(logs, group, pattern, expected):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    put(logs, group, "s", FILTER_EVENTS)
    got = logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
    assert [e["message"] for e in got] == [FILTER_EVENTS[i] for i in expected]


def test_cloudwatch_invalid_filter_pattern(logs, group):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.filter_log_events(logGroupName=group, filterPattern="{ $.level = ")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


def test_cloudwatch_retention_removes_old_events(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    old = now_ms() - 5 * DAY_MS
    put(logs, group, "s", ["old-1", "old-2"], start=old)
    put(logs, group, "s", ["fresh"])
    logs.put_retention_policy(logGroupName=group, retentionInDays=3)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 3
    deadline = time.time() + 10
    while time.time() < deadline:
        messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
        if messages == ["fresh"]:
            break
        time.sleep(0.1)
    assert messages == ["fresh"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]


def test_cloudwatch_log_group_tags(logs):
    name = f"/nimbus/tags/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name, tags={"team": "core"})
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{name}"
    logs.tag_resource(resourceArn=arn, tags={"env": "dev"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "core", "env": "dev"}
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_log_group(logGroupName=name)["tags"] == {"env": "dev"}
    logs.tag_log_group(logGroupName=name, tags={"a": "1"})
    logs.untag_log_group(logGroupName=name, tags=["env"])
    assert logs.list_tags_for_resource(resourceArn=arn + ":*")["tags"] == {"a": "1"}
    logs.delete_log_group(logGroupName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.list_tags_for_resource(resourceArn=arn)
    assert error_of(e) == ("ResourceNotFoundException", "The specified log group does not exist.")


def test_cloudwatch_cli_filter_log_events(logs, group, aws_cli):
    logs.create_log_stream(logGroupName=group, logStreamName="2026/01/01/[$LATEST]abc")
    t = now_ms() - 30_000
    put(logs, group, "2026/01/01/[$LATEST]abc",
        ["START RequestId: r1 Version: $LATEST", "hello from the function", "END RequestId: r1",
         "REPORT RequestId: r1\tDuration: 1.23 ms"], start=t)
    out = aws_cli("logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "RequestId")
    assert [e["message"] for e in out["events"]] == [
        "START RequestId: r1 Version: $LATEST", "END RequestId: r1", "REPORT RequestId: r1\tDuration: 1.23 ms"]
    assert out["events"][0]["logStreamName"] == "2026/01/01/[$LATEST]abc"
    out = aws_cli("logs", "get-log-events", "--log-group-name", group, "--log-stream-name",
                  "2026/01/01/[$LATEST]abc", "--start-from-head")
    assert len(out["events"]) == 4
    described = aws_cli("logs", "describe-log-groups", "--log-group-name-prefix", group)
    assert [g["logGroupName"] for g in described["logGroups"]] == [group]


def test_cloudwatch_tail_follow_calls(logs, group):
    """The calls AWS CLI v2's `aws logs tail --follow` makes (v1, the CLI on
    PyPI, has no `tail`): FilterLogEvents from --since with interleaved=True,
    paginated, then polled from the newest timestamp seen, de-duplicated by
    eventId."""
    logs.create_log_stream(logGroupName=group, logStreamName="a")
    logs.create_log_stream(logGroupName=group, logStreamName="b")
    start = now_ms() - 3_600_000
    put(logs, group, "a", ["a1", "a2"], start=now_ms() - 5000, step=100)
    put(logs, group, "b", ["b1"], start=now_ms() - 4950)
    seen, printed = set(), []

    def poll(since):
        newest = since
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=since,
                                                                       interleaved=True):
            for event in page["events"]:
                if event["eventId"] not in seen:
                    seen.add(event["eventId"])
                    printed.append(event["message"])
                newest = max(newest, event["timestamp"])
        return newest

    newest = poll(start)
    assert printed == ["a1", "b1", "a2"]
    put(logs, group, "b", ["b2"], start=now_ms())
    poll(newest)
    assert printed == ["a1", "b1", "a2", "b2"]


def aws_cli_v2():
    """An AWS CLI v2 (the one with `aws logs tail`), if installed: the CLI on
    PyPI is v1. Debian's `awscli` package is v2."""
    import shutil

    for candidate in [os.environ.get("NIMBUS_AWS_CLI_V2"), "/usr/local/bin/aws", "/usr/bin/aws", shutil.which("aws")]:
        if not candidate or not os.path.exists(candidate):
            continue
        version = subprocess.run([candidate, "--version"], capture_output=True, text=True, env=CLI_ENV)
        if version.stdout.startswith("aws-cli/2"):
            return candidate
    return None


# The v2 CLI is a system Python program: keep the test venv out of its way.
CLI_ENV = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
AWS_V2 = aws_cli_v2()


@pytest.fixture
def aws_v2():
    """The AWS CLI v2. scripts/test installs it when missing, so in CI its
    absence fails the test instead of skipping it (a skip would hide a failure)."""
    if AWS_V2 is None:
        message = "AWS CLI v2 not installed (scripts/test installs Debian's awscli package)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return AWS_V2


def test_cloudwatch_aws_logs_tail_prints_function_lines(logs, group, nimbus, aws_v2):
    stream = "2026/11/27/[$LATEST]0123456789abcdef"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    put(logs, group, stream, ["START RequestId: r1 Version: $LATEST", "hello from the function",
                              "END RequestId: r1", "REPORT RequestId: r1\tDuration: 1.23 ms"])
    tail = subprocess.run([aws_v2, "--endpoint-url", nimbus.endpoint, "--region", "us-east-1", "logs", "tail", group,
                           "--since", "1h", "--format", "short"], capture_output=True, text=True, timeout=60,
                          env=CLI_ENV)
    assert tail.returncode == 0, tail.stderr
    lines = tail.stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "START RequestId: r1 Version: $LATEST", "hello from the function", "END RequestId: r1",
        "REPORT RequestId: r1\tDuration: 1.23 ms"]


def test_cloudwatch_aws_logs_tail_follow(logs, group, nimbus, aws_v2):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    put(logs, group, "s", ["before follow"])
    follow = subprocess.Popen([aws_v2, "--endpoint-url", nimbus.endpoint, "--region", "us-east-1", "logs", "tail",
                               group, "--follow", "--since", "1h", "--format", "short"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CLI_ENV)
    # A hung CLI must not hang the suite: kill it after 30 s (readline then ends).
    watchdog = threading.Timer(30, follow.kill)
    watchdog.start()
    try:
        lines = [follow.stdout.readline().rstrip("\n")]
        put(logs, group, "s", ["after follow"], start=now_ms())
        # tail --follow polls every 5 seconds.
        lines.append(follow.stdout.readline().rstrip("\n"))
        assert lines[0].endswith("before follow")
        assert lines[1].endswith("after follow")
    finally:
        watchdog.cancel()
        follow.terminate()
        follow.wait(timeout=10)


def test_cloudwatch_metric_filters_publish_metrics(logs, group, client):
    cw = client("cloudwatch")
    ns = f"Nimbus/Filters/{uuid.uuid4().hex[:8]}"
    logs.put_metric_filter(logGroupName=group, filterName="errors", filterPattern="ERROR",
                           metricTransformations=[{"metricName": "ErrorCount", "metricNamespace": ns,
                                                   "metricValue": "1", "unit": "Count"}])
    logs.put_metric_filter(logGroupName=group, filterName="latency", filterPattern='{ $.latency > 0 }',
                           metricTransformations=[{"metricName": "Latency", "metricNamespace": ns,
                                                   "metricValue": "$.latency", "unit": "Milliseconds",
                                                   "dimensions": {"Route": "$.route"}}])
    described = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [f["filterName"] for f in described] == ["errors", "latency"]
    assert described[0]["metricTransformations"] == [
        {"metricName": "ErrorCount", "metricNamespace": ns, "metricValue": "1", "unit": "Count"}]
    assert described[0]["logGroupName"] == group
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["metricFilterCount"] == 2
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    put(logs, group, "s", ["ERROR one", "fine", "ERROR two", '{"latency": 120, "route": "/a"}',
                           '{"latency": 80, "route": "/a"}'])
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    end = start + datetime.timedelta(minutes=20)
    deadline = time.time() + 10
    while True:
        errors = cw.get_metric_statistics(Namespace=ns, MetricName="ErrorCount", StartTime=start, EndTime=end,
                                          Period=1200, Statistics=["Sum"])["Datapoints"]
        latency = cw.get_metric_statistics(Namespace=ns, MetricName="Latency", StartTime=start, EndTime=end,
                                           Dimensions=[{"Name": "Route", "Value": "/a"}], Period=1200,
                                           Statistics=["Average", "SampleCount"])["Datapoints"]
        if (errors and latency) or time.time() > deadline:
            break
        time.sleep(0.2)
    assert [p["Sum"] for p in errors] == [2.0] and errors[0]["Unit"] == "Count"
    assert [(p["Average"], p["SampleCount"]) for p in latency] == [(100.0, 2.0)]
    tested = logs.test_metric_filter(filterPattern="[ip, user, status=5*]",
                                     logEventMessages=["1.2.3.4 bob 503", "1.2.3.4 bob 200"])["matches"]
    assert tested == [{"eventNumber": 1, "eventMessage": "1.2.3.4 bob 503",
                       "extractedValues": {"$ip": "1.2.3.4", "$user": "bob", "$status": "503"}}]
    logs.delete_metric_filter(logGroupName=group, filterName="errors")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.delete_metric_filter(logGroupName=group, filterName="errors")
    assert error_of(e) == ("ResourceNotFoundException", "The specified metric filter does not exist.")
    assert [f["filterName"] for f in logs.describe_metric_filters(logGroupName=group)["metricFilters"]] == ["latency"]
