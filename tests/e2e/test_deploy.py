"""Stacks: CloudFormation's API and EventBridge schedules (`nimbus up` is
in test_deploy_up.py, `nimbus deploy` in test_deploy_cli.py).

Each test runs once the server registers what it needs (seen in
/_nimbus/health); until then it is skipped.
"""

import json
import urllib.request

import pytest

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


TTL_TEMPLATE = """
Parameters:
  TtlAttribute:
    Type: String
  TtlOn:
    Type: String
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      DeletionProtectionEnabled: false
      TimeToLiveSpecification: {AttributeName: !Ref TtlAttribute, Enabled: !Ref TtlOn}
Outputs:
  TableName:
    Value: !Ref Table
"""


def test_stack_updates_move_table_settings_one_change_at_a_time(nimbus, client, ddb):
    """DynamoDB takes a TTL attribute change only from the disabled state, and
    deletion protection only alone: stack updates that change them succeed."""
    need(nimbus, "cloudformation", "dynamodb")
    cf = client("cloudformation")

    def deploy(action, attribute, on, template=TTL_TEMPLATE):
        params = [{"ParameterKey": "TtlAttribute", "ParameterValue": attribute},
                  {"ParameterKey": "TtlOn", "ParameterValue": on}]
        action(StackName="e2e-ttl", TemplateBody=template, Parameters=params)
        waiter = "stack_create_complete" if action == cf.create_stack else "stack_update_complete"
        cf.get_waiter(waiter).wait(StackName="e2e-ttl", WaiterConfig={"Delay": 1})
        outputs = cf.describe_stacks(StackName="e2e-ttl")["Stacks"][0]["Outputs"]
        name = outputs[0]["OutputValue"]
        return name, ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]

    name, ttl = deploy(cf.create_stack, "expires", "true")
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    _, ttl = deploy(cf.update_stack, "deadline", "true")
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "deadline"}
    _, ttl = deploy(cf.update_stack, "deadline", "false")
    assert ttl == {"TimeToLiveStatus": "DISABLED"}
    # Deletion protection and TTL changed together.
    protected = TTL_TEMPLATE.replace("DeletionProtectionEnabled: false", "DeletionProtectionEnabled: true")
    _, ttl = deploy(cf.update_stack, "expires", "true", template=protected)
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    assert ddb.describe_table(TableName=name)["Table"]["DeletionProtectionEnabled"] is True
    deploy(cf.update_stack, "expires", "true")
    cf.delete_stack(StackName="e2e-ttl")
    assert name not in ddb.list_tables()["TableNames"]
