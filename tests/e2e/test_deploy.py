"""Stacks: CloudFormation's API, EventBridge schedules and `nimbus up`.

Each test runs once the server registers what it needs (seen in
/_nimbus/health) or the binary has the command; until then it is skipped.
"""

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, nimbus_binary

TABLE_TEMPLATE = """
Parameters:
  Billing:
    Type: String
    Default: PAY_PER_REQUEST
    AllowedValues: [PAY_PER_REQUEST, PROVISIONED]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: !Ref Billing
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
Outputs:
  TableName:
    Value: !Ref Table
  TableArn:
    Value: !GetAtt Table.Arn
"""


def served(nimbus):
    with urllib.request.urlopen(f"{nimbus.endpoint}/_nimbus/health", timeout=5) as r:
        return set(json.load(r).get("services", {}))


def need(nimbus, *services):
    missing = [s for s in services if s not in served(nimbus)]
    if missing:
        pytest.skip(f"this server does not run {', '.join(missing)} yet")


def test_stack_lifecycle_through_cloudformation_api(nimbus, client, ddb):
    need(nimbus, "cloudformation", "dynamodb")
    cf = client("cloudformation")
    stack_id = cf.create_stack(StackName="e2e-table", TemplateBody=TABLE_TEMPLATE)["StackId"]
    assert stack_id.startswith("arn:aws:cloudformation:us-east-1:")
    cf.get_waiter("stack_create_complete").wait(StackName="e2e-table", WaiterConfig={"Delay": 1})
    stack = cf.describe_stacks(StackName="e2e-table")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["TableName"].startswith("e2e-table-Table-")
    ddb.put_item(TableName=outputs["TableName"], Item={"id": {"S": "1"}})
    assert ddb.get_item(TableName=outputs["TableName"], Key={"id": {"S": "1"}})["Item"]["id"] == {"S": "1"}

    with pytest.raises(cf.exceptions.ClientError, match="No updates are to be performed"):
        cf.update_stack(StackName="e2e-table", UsePreviousTemplate=True)
    with pytest.raises(cf.exceptions.ClientError, match="AllowedValues"):
        cf.update_stack(
            StackName="e2e-table",
            UsePreviousTemplate=True,
            Parameters=[{"ParameterKey": "Billing", "ParameterValue": "FREE"}],
        )
    resources = cf.list_stack_resources(StackName="e2e-table")["StackResourceSummaries"]
    assert [(r["LogicalResourceId"], r["ResourceType"]) for r in resources] == [("Table", "AWS::DynamoDB::Table")]

    cf.delete_stack(StackName="e2e-table")
    with pytest.raises(cf.exceptions.ClientError, match="does not exist"):
        cf.describe_stacks(StackName="e2e-table")
    assert outputs["TableName"] not in ddb.list_tables()["TableNames"]


def test_unsupported_resource_type_creates_nothing(nimbus, client, ddb):
    need(nimbus, "cloudformation", "dynamodb")
    cf = client("cloudformation")
    before = ddb.list_tables()["TableNames"]
    body = TABLE_TEMPLATE.replace("Outputs:", "  Queue:\n    Type: AWS::SQS::Queue\nOutputs:")
    with pytest.raises(cf.exceptions.ClientError, match=r"line \d+: resource type AWS::SQS::Queue \(Queue\) is not supported"):
        cf.create_stack(StackName="e2e-unsupported", TemplateBody=body)
    assert ddb.list_tables()["TableNames"] == before


def test_schedule_rules(nimbus, client):
    need(nimbus, "events")
    events = client("events")
    arn = events.put_rule(Name="e2e-tick", ScheduleExpression="rate(5 minutes)")["RuleArn"]
    assert arn.endswith(":rule/e2e-tick")
    target = {"Id": "fn", "Arn": "arn:aws:lambda:us-east-1:000000000000:function:nothing"}
    assert events.put_targets(Rule="e2e-tick", Targets=[target])["FailedEntryCount"] == 0
    assert events.describe_rule(Name="e2e-tick")["ScheduleExpression"] == "rate(5 minutes)"
    with pytest.raises(events.exceptions.ClientError, match="has targets"):
        events.delete_rule(Name="e2e-tick")
    with pytest.raises(events.exceptions.ClientError, match="ScheduleExpression is not valid"):
        events.put_rule(Name="e2e-bad", ScheduleExpression="rate(5 minute)")
    events.remove_targets(Rule="e2e-tick", Ids=["fn"])
    events.delete_rule(Name="e2e-tick")
    assert "e2e-tick" not in [r["Name"] for r in events.list_rules()["Rules"]]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            text = r.read().decode()
            return r.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code, (json.loads(text) if text else None)


def test_nimbus_up_todo_api(tmp_path):
    """`nimbus up examples/todo-api`: CRUD over HTTP, hot reload, nothing left on Ctrl-C."""
    if subprocess.run([nimbus_binary(), "up", "--help"], capture_output=True).returncode != 0:
        pytest.skip("this binary has no `nimbus up` yet")
    app = tmp_path / "todo-api"
    shutil.copytree(ROOT / "examples" / "todo-api", app)
    port = free_port()
    log = open(tmp_path / "up.log", "wb")
    started = time.time()
    proc = subprocess.Popen([nimbus_binary(), "up", str(app), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        api = None
        deadline = time.time() + 60
        while time.time() < deadline and api is None:
            text = (tmp_path / "up.log").read_text(errors="replace")
            for line in text.splitlines():
                if "execute-api.localhost" in line and "ServerlessHttpApi" in line:
                    api_id = line.split("http://", 1)[1].split(".execute-api", 1)[0]
                    api = f"http://127.0.0.1:{port}/_aws/execute-api/{api_id}"
            if proc.poll() is not None:
                pytest.fail(f"nimbus up exited:\n{text}")
            time.sleep(0.1)
        assert api, (tmp_path / "up.log").read_text(errors="replace")

        status, todo = http("POST", f"{api}/todos", {"title": "write tests"})
        print(f"time from `nimbus up` to the first response: {time.time() - started:.2f}s")
        assert status == 201, todo
        status, listed = http("GET", f"{api}/todos")
        assert status == 200 and [t["id"] for t in listed["items"]] == [todo["id"]]
        assert http("GET", f"{api}/todos/{todo['id']}") == (200, todo)
        status, done = http("PUT", f"{api}/todos/{todo['id']}", {"done": True})
        assert status == 200 and done["done"] is True
        assert http("DELETE", f"{api}/todos/{todo['id']}")[0] == 204
        assert http("GET", f"{api}/todos/{todo['id']}")[0] == 404

        # Hot reload: the next request after an edit gets the new code.
        handler = app / "src" / "app.py"
        handler.write_text(handler.read_text().replace('"todo not found"', '"no such todo"'))
        deadline = time.time() + 10
        while time.time() < deadline:
            if http("GET", f"{api}/todos/missing")[1] == {"message": "no such todo"}:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the edited handler was not deployed")
    finally:
        proc.send_signal(2)
        assert proc.wait(timeout=30) == 0, (tmp_path / "up.log").read_text(errors="replace")
