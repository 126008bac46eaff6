"""Lambda event source mappings on DynamoDB streams, through boto3: a real
function is invoked with the stream's records and writes every batch it
receives into a second table, which the tests read back."""

import json
import time

import pytest

from conftest import Server, make_client
from lambda_helpers import ROLE, create_python
from test_dynamodb_helpers import create_table, error_of, unique

# The function records each batch it gets (in a sink table) and then, by
# its MODE, fails on records carrying a `poison` attribute, or reports the
# first record carrying `flaky` as failed the first time it sees it.
RECORDER = """import json, os, time, uuid
import boto3

ddb = boto3.client("dynamodb")
SINK = os.environ["SINK"]
MODE = os.environ.get("MODE", "")


def lambda_handler(event, context):
    records = event["Records"]
    ddb.put_item(TableName=SINK, Item={
        "pk": {"S": "batch-" + uuid.uuid4().hex},
        "at": {"N": str(time.time_ns())},
        "batch": {"S": json.dumps(records)},
    })
    images = [r["dynamodb"].get("NewImage", {}) for r in records]
    if MODE == "poison" and any("poison" in image for image in images):
        raise Exception("poison record")
    if MODE == "report":
        for record, image in zip(records, images):
            if "flaky" not in image:
                continue
            seq = record["dynamodb"]["SequenceNumber"]
            try:
                ddb.put_item(TableName=SINK, Item={"pk": {"S": "seen-" + seq}},
                             ConditionExpression="attribute_not_exists(pk)")
            except ddb.exceptions.ConditionalCheckFailedException:
                continue
            return {"batchItemFailures": [{"itemIdentifier": seq}]}
    return {"batchItemFailures": []}
"""

WAIT_SECONDS = 60


@pytest.fixture
def lam(client):
    return client("lambda")


def stream_table(ddb, view_type="NEW_AND_OLD_IMAGES"):
    name = create_table(ddb, StreamSpecification={"StreamEnabled": True, "StreamViewType": view_type})
    return name, ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


def recorder(lam, ddb, mode=""):
    """A recording function and its sink table."""
    sink = create_table(ddb)
    fn = create_python(lam, RECORDER, Environment={"Variables": {"SINK": sink, "MODE": mode}}, Timeout=30)
    return fn, sink


def batches(ddb, sink):
    """Every batch the function received, in the order it received them."""
    items = ddb.scan(TableName=sink, ConsistentRead=True)["Items"]
    got = [i for i in items if i["pk"]["S"].startswith("batch-")]
    got.sort(key=lambda i: int(i["at"]["N"]))
    return [json.loads(i["batch"]["S"]) for i in got]


def keys_of(batch):
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in batch]


def wait_for(ddb, sink, done, what):
    deadline = time.time() + WAIT_SECONDS
    while time.time() < deadline:
        got = batches(ddb, sink)
        if done(got):
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; got {got}")


def delivered(ddb, sink, count):
    return wait_for(ddb, sink, lambda got: sum(map(len, got)) >= count, f"{count} records")


def map_stream(lam, fn, arn, **extra):
    extra.setdefault("StartingPosition", "TRIM_HORIZON")
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, **extra)
    return mapping["UUID"], mapping


def wait_mapping(lam, uuid, field, value):
    deadline = time.time() + WAIT_SECONDS
    while time.time() < deadline:
        m = lam.get_event_source_mapping(UUID=uuid)
        if m[field] == value:
            return m
        time.sleep(0.05)
    raise AssertionError(f"mapping's {field} never became {value}: {m}")


def wait_state(lam, uuid, state):
    return wait_mapping(lam, uuid, "State", state)


def put(ddb, table, key, **attrs):
    item = {"pk": {"S": key}, **{k: {"S": v} for k, v in attrs.items()}}
    ddb.put_item(TableName=table, Item=item)


def test_records_arrive_in_order_with_their_images(lam, ddb):
    table, arn = stream_table(ddb)
    fn, sink = recorder(lam, ddb)
    uuid, created = map_stream(lam, fn, arn)
    assert created["State"] == "Creating"
    assert created["StateTransitionReason"] == "User action"
    assert created["LastProcessingResult"] == "No records processed"
    assert created["BatchSize"] == 100
    assert created["MaximumRetryAttempts"] == -1
    assert created["MaximumRecordAgeInSeconds"] == -1
    assert created["BisectBatchOnFunctionError"] is False
    assert created["StartingPosition"] == "TRIM_HORIZON"
    assert created["EventSourceArn"] == arn
    assert created["FunctionArn"].endswith(f":function:{fn}")
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{uuid}")
    wait_state(lam, uuid, "Enabled")

    put(ddb, table, "a", colour="red")
    ddb.update_item(TableName=table, Key={"pk": {"S": "a"}}, UpdateExpression="SET colour = :c",
                    ExpressionAttributeValues={":c": {"S": "blue"}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "a"}})
    records = [r for b in delivered(ddb, sink, 3) for r in b]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    for r in records:
        assert r["eventSource"] == "aws:dynamodb"
        assert r["eventSourceARN"] == arn
        assert r["awsRegion"] == "us-east-1"
        assert r["eventVersion"] == "1.1"
        assert r["eventID"]
        assert r["dynamodb"]["Keys"] == {"pk": {"S": "a"}}
        assert r["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    insert, modify, remove = records
    assert insert["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "colour": {"S": "red"}}
    assert "OldImage" not in insert["dynamodb"]
    assert modify["dynamodb"]["OldImage"]["colour"] == {"S": "red"}
    assert modify["dynamodb"]["NewImage"]["colour"] == {"S": "blue"}
    assert remove["dynamodb"]["OldImage"]["colour"] == {"S": "blue"}
    assert "NewImage" not in remove["dynamodb"]
    # The function wrote its batch before its invocation ended; the result follows.
    wait_mapping(lam, uuid, "LastProcessingResult", "OK")


def test_batch_size_is_respected(lam, ddb):
    table, arn = stream_table(ddb)
    for i in range(7):
        put(ddb, table, f"k{i}")
    fn, sink = recorder(lam, ddb)
    map_stream(lam, fn, arn, BatchSize=3)
    got = delivered(ddb, sink, 7)
    assert [len(b) for b in got] == [3, 3, 1]
    assert [k for b in got for k in keys_of(b)] == [f"k{i}" for i in range(7)]


def test_latest_skips_what_was_written_before(lam, ddb):
    table, arn = stream_table(ddb)
    put(ddb, table, "old")
    fn, sink = recorder(lam, ddb)
    uuid, _ = map_stream(lam, fn, arn, StartingPosition="LATEST")
    wait_state(lam, uuid, "Enabled")
    put(ddb, table, "new")
    got = delivered(ddb, sink, 1)
    time.sleep(0.5)
    assert [k for b in batches(ddb, sink) for k in keys_of(b)] == ["new"], got


def test_a_failing_batch_is_retried_then_dropped(lam, ddb):
    table, arn = stream_table(ddb)
    put(ddb, table, "bad", poison="yes")
    fn, sink = recorder(lam, ddb, mode="poison")
    uuid, _ = map_stream(lam, fn, arn, MaximumRetryAttempts=2)
    # One try and two retries, then the stream moves on.
    wait_for(ddb, sink, lambda got: len(got) >= 3, "three attempts")
    wait_mapping(lam, uuid, "LastProcessingResult", "PROBLEM: Function call failed")
    put(ddb, table, "good")
    got = wait_for(ddb, sink, lambda got: any(keys_of(b) == ["good"] for b in got), "the next record")
    assert [keys_of(b) for b in got] == [["bad"], ["bad"], ["bad"], ["good"]]


def test_bisection_isolates_the_poison_record(lam, ddb):
    table, arn = stream_table(ddb)
    for key in ["a", "b", "c", "d"]:
        put(ddb, table, key, **({"poison": "yes"} if key == "b" else {}))
    fn, sink = recorder(lam, ddb, mode="poison")
    map_stream(lam, fn, arn, BatchSize=4, BisectBatchOnFunctionError=True, MaximumRetryAttempts=1)
    put_after = "e"
    got = wait_for(ddb, sink, lambda got: any("d" in keys_of(b) and "b" not in keys_of(b) for b in got),
                   "c and d delivered without b")
    put(ddb, table, put_after)
    got = wait_for(ddb, sink, lambda got: any(put_after in keys_of(b) for b in got), "the record after")
    shapes = [keys_of(b) for b in got]
    # [a b c d] fails; halves [a b] (fails; [a] ok, [b] fails twice) and [c d] ok.
    assert shapes == [["a", "b", "c", "d"], ["a", "b"], ["a"], ["b"], ["b"], ["c", "d"], ["e"]]


def test_report_batch_item_failures_resumes_from_the_failed_record(lam, ddb):
    table, arn = stream_table(ddb)
    for key in ["a", "b", "c", "d"]:
        put(ddb, table, key, **({"flaky": "yes"} if key == "c" else {}))
    fn, sink = recorder(lam, ddb, mode="report")
    uuid, created = map_stream(lam, fn, arn, FunctionResponseTypes=["ReportBatchItemFailures"])
    assert created["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    got = wait_for(ddb, sink, lambda got: len(got) >= 2, "the retry")
    time.sleep(0.5)
    assert [keys_of(b) for b in batches(ddb, sink)] == [["a", "b", "c", "d"], ["c", "d"]], got


def test_filter_criteria_deliver_only_matching_records(lam, ddb):
    table, arn = stream_table(ddb)
    fn, sink = recorder(lam, ddb)
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": [{"prefix": "ship"}]}}}}
    uuid, created = map_stream(lam, fn, arn, FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    assert json.loads(created["FilterCriteria"]["Filters"][0]["Pattern"]) == pattern
    put(ddb, table, "p1", status="pending")
    put(ddb, table, "s1", status="shipped")
    put(ddb, table, "n1")
    ddb.update_item(TableName=table, Key={"pk": {"S": "p1"}}, UpdateExpression="SET #s = :v",
                    ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":v": {"S": "shipping"}})
    put(ddb, table, "s2", status="shipping")
    got = delivered(ddb, sink, 2)
    time.sleep(0.5)
    assert [k for b in batches(ddb, sink) for k in keys_of(b)] == ["s1", "s2"], got

    # anything-but and exists, after an update of the filter.
    other = {"dynamodb": {"NewImage": {"status": [{"exists": False}], "pk": {"S": [{"anything-but": ["n2"]}]}}}}
    lam.update_event_source_mapping(UUID=uuid, FilterCriteria={"Filters": [{"Pattern": json.dumps(other)}]})
    wait_state(lam, uuid, "Enabled")
    put(ddb, table, "n2")
    put(ddb, table, "n3")
    put(ddb, table, "s3", status="shipped")
    wait_for(ddb, sink, lambda got: any("n3" in keys_of(b) for b in got), "n3")
    time.sleep(0.5)
    assert [k for b in batches(ddb, sink) for k in keys_of(b)] == ["s1", "s2", "n3"]


def test_malformed_filter_is_refused(lam, ddb):
    _, arn = stream_table(ddb)
    fn, _ = recorder(lam, ddb)
    code, message = error_of(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=fn,
                             StartingPosition="LATEST", FilterCriteria={"Filters": [{"Pattern": "{\"a\": \"b\"}"}]})
    assert code == "InvalidParameterValueException"
    assert message == "Invalid filter pattern definition."


def test_disable_enable_and_delete(lam, ddb):
    table, arn = stream_table(ddb)
    fn, sink = recorder(lam, ddb)
    uuid, _ = map_stream(lam, fn, arn)
    wait_state(lam, uuid, "Enabled")
    updated = lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert updated["State"] == "Disabling"
    wait_state(lam, uuid, "Disabled")
    put(ddb, table, "while-disabled")
    time.sleep(1)
    assert batches(ddb, sink) == []

    assert lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    wait_state(lam, uuid, "Enabled")
    got = delivered(ddb, sink, 1)
    assert keys_of(got[0]) == ["while-disabled"]

    deleted = lam.delete_event_source_mapping(UUID=uuid)
    assert deleted["State"] == "Deleting"
    code, _ = error_of(lam.get_event_source_mapping, UUID=uuid)
    assert code == "ResourceNotFoundException"
    put(ddb, table, "after-delete")
    time.sleep(1)
    assert [k for b in batches(ddb, sink) for k in keys_of(b)] == ["while-disabled"]


def test_list_filters_and_pages(lam, ddb):
    _, arn = stream_table(ddb)
    _, other_arn = stream_table(ddb)
    fn, _ = recorder(lam, ddb)
    fn2, _ = recorder(lam, ddb)
    mine = {map_stream(lam, fn, arn)[0], map_stream(lam, fn2, arn)[0]}
    map_stream(lam, fn, other_arn)
    by_source = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert {m["UUID"] for m in by_source} == mine
    by_both = lam.list_event_source_mappings(EventSourceArn=arn, FunctionName=fn)["EventSourceMappings"]
    assert len(by_both) == 1 and by_both[0]["FunctionArn"].endswith(f":function:{fn}")
    first = lam.list_event_source_mappings(EventSourceArn=arn, MaxItems=1)
    assert len(first["EventSourceMappings"]) == 1 and first["NextMarker"]
    second = lam.list_event_source_mappings(EventSourceArn=arn, MaxItems=1, Marker=first["NextMarker"])
    assert len(second["EventSourceMappings"]) == 1 and "NextMarker" not in second
    paged = {first["EventSourceMappings"][0]["UUID"], second["EventSourceMappings"][0]["UUID"]}
    assert paged == mine
    # boto3's paginator follows NextMarker too.
    pages = lam.get_paginator("list_event_source_mappings").paginate(EventSourceArn=arn, MaxItems=1)
    assert {m["UUID"] for p in pages for m in p["EventSourceMappings"]} == mine


def test_alias_qualified_function(lam, ddb):
    table, arn = stream_table(ddb)
    fn, sink = recorder(lam, ddb)
    version = lam.publish_version(FunctionName=fn)["Version"]
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion=version)
    uuid, created = map_stream(lam, fn + ":live", arn)
    assert created["FunctionArn"].endswith(f":function:{fn}:live")
    put(ddb, table, "x")
    assert keys_of(delivered(ddb, sink, 1)[0]) == ["x"]


def test_validation_errors(lam, ddb):
    table, arn = stream_table(ddb)
    fn, _ = recorder(lam, ddb)
    code, message = error_of(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=fn)
    assert code == "InvalidParameterValueException"
    assert message == ("1 validation error detected: Value null at 'startingPosition' failed to satisfy "
                       "constraint: Member must not be null.")
    code, message = error_of(lam.create_event_source_mapping, FunctionName=fn, StartingPosition="LATEST")
    assert (code, message) == ("InvalidParameterValueException", "Unrecognized event source.")
    code, message = error_of(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=fn,
                             StartingPosition="LATEST", BatchSize=10001)
    assert code == "ValidationException"
    assert "Value '10001' at 'batchSize' failed to satisfy constraint" in message
    code, _ = error_of(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName="no-such-fn",
                       StartingPosition="LATEST")
    assert code == "ResourceNotFoundException"
    missing = arn.rsplit("/stream/", 1)[0] + "/stream/2000-01-01T00:00:00.000"
    code, message = error_of(lam.create_event_source_mapping, EventSourceArn=missing, FunctionName=fn,
                             StartingPosition="LATEST")
    assert code == "InvalidParameterValueException"
    uuid, _ = map_stream(lam, fn, arn)
    code, message = error_of(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=fn,
                             StartingPosition="LATEST")
    assert code == "ResourceConflictException"
    assert uuid in message
    code, _ = error_of(lam.get_event_source_mapping, UUID="00000000-0000-0000-0000-000000000000")
    assert code == "ResourceNotFoundException"


def test_the_role_must_be_able_to_read_the_stream(lam, client, ddb):
    iam = client("iam")
    _, arn = stream_table(ddb)
    role = unique("esm-role")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    fn = create_python(lam, RECORDER, Environment={"Variables": {"SINK": "unused"}})
    lam.update_function_configuration(FunctionName=fn, Role=role_arn)
    code, message = error_of(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=fn,
                             StartingPosition="LATEST")
    assert code == "InvalidParameterValueException"
    assert message == (f"Cannot access stream {arn}. Please ensure the role can perform the GetRecords, "
                       "GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": arn, "Action": [
        "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream", "dynamodb:ListStreams"]}]}
    iam.put_role_policy(RoleName=role, PolicyName="read-stream", PolicyDocument=json.dumps(policy))
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, StartingPosition="LATEST")
    assert created["State"] == "Creating"


def test_position_survives_a_restart():
    server = Server()
    try:
        lam, ddb = make_client(server, "lambda"), make_client(server, "dynamodb")
        table, arn = stream_table(ddb)
        fn, sink = recorder(lam, ddb)
        uuid, _ = map_stream(lam, fn, arn)
        put(ddb, table, "before")
        delivered(ddb, sink, 1)
        lam.update_event_source_mapping(UUID=uuid, Enabled=False)
        wait_state(lam, uuid, "Disabled")
        put(ddb, table, "while-down-1")
        put(ddb, table, "while-down-2")
        assert server.stop() == 0
        server = Server(data_dir=server.data_dir)
        lam, ddb = make_client(server, "lambda"), make_client(server, "dynamodb")
        assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
        lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        got = delivered(ddb, sink, 3)
        time.sleep(0.5)
        # Nothing skipped, and the checkpoint kept "before" from coming again.
        assert [k for b in batches(ddb, sink) for k in keys_of(b)] == ["before", "while-down-1", "while-down-2"], got
    finally:
        server.stop()


SAM_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Seen:
    Type: AWS::Serverless::SimpleTable
    Properties:
      PrimaryKey: {Name: pk, Type: String}
  OnOrder:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Policies:
        - DynamoDBCrudPolicy: {TableName: !Ref Seen}
      Environment:
        Variables:
          SEEN: !Ref Seen
      InlineCode: |
        import os, boto3
        ddb = boto3.client("dynamodb")
        def handler(event, context):
            for r in event["Records"]:
                ddb.put_item(TableName=os.environ["SEEN"], Item={"pk": r["dynamodb"]["Keys"]["pk"]})
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            FilterCriteria:
              Filters:
                - Pattern: '{"eventName": ["INSERT"]}'
Outputs:
  Orders:
    Value: !Ref Orders
  Seen:
    Value: !Ref Seen
  Mapping:
    Value: !Ref OnOrderChanges
"""


def test_sam_dynamodb_event_deploys_and_triggers(client, lam, ddb):
    cf = client("cloudformation")
    stack = unique("esm-stack")
    cf.create_stack(StackName=stack, TemplateBody=SAM_TEMPLATE, Capabilities=["CAPABILITY_IAM"])
    cf.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}
    mapping = lam.get_event_source_mapping(UUID=outputs["Mapping"])
    assert mapping["BatchSize"] == 10
    assert mapping["EventSourceArn"] == ddb.describe_table(TableName=outputs["Orders"])["Table"]["LatestStreamArn"]
    put(ddb, outputs["Orders"], "order-1")
    deadline = time.time() + WAIT_SECONDS
    while time.time() < deadline:
        if ddb.get_item(TableName=outputs["Seen"], Key={"pk": {"S": "order-1"}}).get("Item"):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the stack's function never saw the order")
    cf.delete_stack(StackName=stack)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    code, _ = error_of(lam.get_event_source_mapping, UUID=outputs["Mapping"])
    assert code == "ResourceNotFoundException"


def test_batching_window_gathers_records(lam, ddb):
    table, arn = stream_table(ddb)
    fn, sink = recorder(lam, ddb)
    uuid, created = map_stream(lam, fn, arn, MaximumBatchingWindowInSeconds=2)
    assert created["MaximumBatchingWindowInSeconds"] == 2
    wait_state(lam, uuid, "Enabled")
    for key in ["w1", "w2", "w3"]:
        put(ddb, table, key)
    got = delivered(ddb, sink, 3)
    assert [keys_of(b) for b in got] == [["w1", "w2", "w3"]]


def test_aws_cli_manages_mappings(lam, ddb, aws_cli):
    table, arn = stream_table(ddb)
    fn, sink = recorder(lam, ddb)
    created = aws_cli("lambda", "create-event-source-mapping", "--function-name", fn, "--event-source-arn", arn,
                      "--starting-position", "LATEST", "--batch-size", "5", "--maximum-retry-attempts", "3",
                      "--bisect-batch-on-function-error",
                      "--destination-config", "OnFailure={Destination=arn:aws:sqs:us-east-1:000000000000:dlq}")
    assert created["BatchSize"] == 5 and created["MaximumRetryAttempts"] == 3
    assert created["BisectBatchOnFunctionError"] is True
    assert created["DestinationConfig"]["OnFailure"]["Destination"] == "arn:aws:sqs:us-east-1:000000000000:dlq"
    listed = aws_cli("lambda", "list-event-source-mappings", "--function-name", fn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [created["UUID"]]
    wait_state(lam, created["UUID"], "Enabled")
    put(ddb, table, "via-cli")
    assert keys_of(delivered(ddb, sink, 1)[0]) == ["via-cli"]
    updated = aws_cli("lambda", "update-event-source-mapping", "--uuid", created["UUID"], "--no-enabled")
    assert updated["State"] == "Disabling"
    aws_cli("lambda", "delete-event-source-mapping", "--uuid", created["UUID"])
    assert aws_cli("lambda", "list-event-source-mappings", "--function-name", fn)["EventSourceMappings"] == []
