"""CloudWatch fed by Lambda through the sinks — the issue's "done when":
after N invocations GetMetricStatistics shows Invocations = N and a Duration
average; the function's START/END/REPORT lines reach its log group (and
`aws logs tail` prints them); the Prometheus endpoint counts them; an alarm
on Errors > 0 goes to ALARM and invokes its action function. Skipped when
the server has no Lambda service."""

import datetime
import io
import json
import subprocess
import time
import urllib.request
import uuid
import zipfile

import pytest
from prometheus_client.parser import text_string_to_metric_families

from test_cloudwatch_logs import CLI_ENV, aws_v2  # noqa: F401 (aws_v2 is a fixture)

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


@pytest.fixture(scope="module", autouse=True)
def needs_lambda(nimbus):
    with urllib.request.urlopen(f"{nimbus.endpoint}/_nimbus/health") as r:
        if "lambda" not in json.load(r).get("services", {}):
            pytest.skip("this server has no Lambda service")


def create_function(lam, code):
    name = f"cw-{uuid.uuid4().hex[:10]}"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", code)
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": buf.getvalue()})
    return name


def wait_for(check, timeout=30):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value or time.time() > deadline:
            return value
        time.sleep(0.3)


def test_cloudwatch_lambda_invocations_metrics_logs_and_prometheus(client, nimbus, aws_v2):
    lam, cw, logs = client("lambda"), client("cloudwatch"), client("logs")
    name = create_function(lam, "def lambda_handler(event, context):\n    print('hello from', context.function_name)\n    return 1\n")
    n = 3
    for _ in range(n):
        assert lam.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200
    dims = [{"Name": "FunctionName", "Value": name}]
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    end = start + datetime.timedelta(minutes=20)

    def invocations():
        points = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=dims,
                                          StartTime=start, EndTime=end, Period=1200, Statistics=["Sum"])["Datapoints"]
        return sum(p["Sum"] for p in points) == n

    assert wait_for(invocations)
    duration = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Duration", Dimensions=dims,
                                        StartTime=start, EndTime=end, Period=1200,
                                        Statistics=["Average", "SampleCount"])["Datapoints"]
    assert duration[0]["SampleCount"] == n and duration[0]["Average"] > 0
    assert duration[0]["Unit"] == "Milliseconds"

    group = f"/aws/lambda/{name}"

    def lines():
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        messages = [e["message"] for e in events]
        return messages if sum(m.startswith("REPORT RequestId:") for m in messages) == n else None

    messages = wait_for(lines)
    assert messages, "the function's logs did not arrive"
    assert sum(m.startswith("START RequestId:") for m in messages) == n
    assert sum(m.startswith("END RequestId:") for m in messages) == n
    assert any(f"hello from {name}" in m for m in messages)
    tail = subprocess.run([aws_v2, "--endpoint-url", nimbus.endpoint, "--region", "us-east-1", "logs", "tail",
                           group, "--since", "1h"], capture_output=True, text=True, timeout=60, env=CLI_ENV)
    assert tail.returncode == 0, tail.stderr
    assert tail.stdout.count("START RequestId:") == n and tail.stdout.count("REPORT RequestId:") == n

    with urllib.request.urlopen(f"{nimbus.endpoint}/_nimbus/metrics") as r:
        families = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
    labels = {"function_name": name}
    invoked = [s for s in families["nimbus_lambda_invocations"].samples if s.labels == labels]
    assert invoked[0].name == "nimbus_lambda_invocations_total" and invoked[0].value == n
    counts = [s for s in families["nimbus_lambda_duration_seconds"].samples
              if s.name.endswith("_count") and s.labels == labels]
    assert counts[0].value == n


def test_cloudwatch_alarm_on_errors_invokes_its_action_function(client):
    lam, cw, logs = client("lambda"), client("cloudwatch"), client("logs")
    failing = create_function(lam, "def lambda_handler(event, context):\n    raise RuntimeError('boom')\n")
    action = create_function(lam, "import json\ndef lambda_handler(event, context):\n    print('ALARM EVENT ' + json.dumps(event))\n")
    action_arn = lam.get_function(FunctionName=action)["Configuration"]["FunctionArn"]
    alarm = f"errors-{failing}"
    cw.put_metric_alarm(AlarmName=alarm, Namespace="AWS/Lambda", MetricName="Errors",
                        Dimensions=[{"Name": "FunctionName", "Value": failing}], Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=[action_arn])
    assert lam.invoke(FunctionName=failing, Payload=b"{}").get("FunctionError") == "Unhandled"

    def in_alarm():
        return cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"] == "ALARM"

    assert wait_for(in_alarm)

    def delivered():
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{action}", filterPattern="ALARM EVENT")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        return events or None

    events = wait_for(delivered)
    assert events, "the alarm action did not run"
    payload = json.loads(events[0]["message"].split("ALARM EVENT ", 1)[1])
    assert payload["source"] == "aws.cloudwatch"
    assert payload["alarmData"]["alarmName"] == alarm
    assert payload["alarmData"]["state"]["value"] == "ALARM"
    history = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="Action")["AlarmHistoryItems"]
    assert history[0]["HistorySummary"] == f"Successfully executed action {action_arn}"
