"""Asynchronous invocation (durable queue, retries, destinations), event
invoke configs, resource policies and tags."""

import json
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import Server, ensure_lambda_role, free_port, make_client, nimbus_binary
from lambda_helpers import create_python, unique


@pytest.fixture(scope="module")
def fast_retries():
    """A server whose async retries come after 100 ms instead of minutes."""
    server = Server(extra_args=["--lambda-async-retry-delay-ms", "100"])
    yield server
    server.stop()


@pytest.fixture
def lam(client):
    return client("lambda")


def wait_for(check, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def test_async_failure_reaches_on_failure_destination_after_retries(fast_retries):
    lam = make_client(fast_retries, "lambda")
    ddb = make_client(fast_retries, "dynamodb")
    table = unique("records")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    failing = create_python(
        lam,
        f"""import boto3
def lambda_handler(event, context):
    boto3.client('dynamodb').update_item(TableName='{table}', Key={{'pk': {{'S': 'attempts'}}}},
        UpdateExpression='ADD n :one', ExpressionAttributeValues={{':one': {{'N': '1'}}}})
    raise RuntimeError('always fails')
""",
        Timeout=30,
    )
    destination = create_python(
        lam,
        f"""import boto3, json
def lambda_handler(event, context):
    boto3.client('dynamodb').put_item(TableName='{table}', Item={{'pk': {{'S': 'record'}}, 'body': {{'S': json.dumps(event)}}}})
""",
        Timeout=30,
    )
    dest_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{destination}"
    config = lam.put_function_event_invoke_config(
        FunctionName=failing,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dest_arn}},
    )
    assert config["MaximumRetryAttempts"] == 1
    assert config["FunctionArn"].endswith(f":{failing}:$LATEST")
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": dest_arn}, "OnSuccess": {}} or config[
        "DestinationConfig"
    ] == {"OnFailure": {"Destination": dest_arn}}

    accepted = lam.invoke(FunctionName=failing, InvocationType="Event", Payload=json.dumps({"order": 7}))
    assert accepted["StatusCode"] == 202
    request_id = accepted["ResponseMetadata"]["RequestId"]

    item = wait_for(lambda: ddb.get_item(TableName=table, Key={"pk": {"S": "record"}}).get("Item"))
    record = json.loads(item["body"]["S"])
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{failing}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 2,
    }
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "always fails"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    attempts = ddb.get_item(TableName=table, Key={"pk": {"S": "attempts"}})["Item"]["n"]["N"]
    assert attempts == "2"  # the first try and MaximumRetryAttempts=1 retry


def test_event_invoke_config_crud_and_validation(lam):
    name = create_python(lam, "def lambda_handler(e, c):\n    return 1\n")
    with pytest.raises(ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0, MaximumEventAgeInSeconds=60)
    updated = lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (2, 60)
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert len(listed) == 1
    lam.delete_function_event_invoke_config(FunctionName=name)
    assert lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"] == []


def test_permissions_and_policy(lam):
    name = create_python(lam, "def lambda_handler(e, c):\n    return 1\n")
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    added = lam.add_permission(
        FunctionName=name,
        StatementId="apigw",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn="arn:aws:execute-api:us-east-1:000000000000:abc/*",
    )
    assert json.loads(added["Statement"]) == {
        "Sid": "apigw",
        "Effect": "Allow",
        "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": arn,
        "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:000000000000:abc/*"}},
    }
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName=name, StatementId="apigw", Action="lambda:InvokeFunction", Principal="*")
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert policy["Version"] == "2012-10-17"
    assert [s["Sid"] for s in policy["Statement"]] == ["apigw"]
    lam.remove_permission(FunctionName=name, StatementId="apigw")
    with pytest.raises(ClientError) as e:
        lam.remove_permission(FunctionName=name, StatementId="apigw")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_tags(lam, aws_cli):
    name = create_python(lam, "def lambda_handler(e, c):\n    return 1\n", Tags={"a": "1"})
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    lam.tag_resource(Resource=arn, Tags={"b": "2", "c": "3"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "1", "b": "2", "c": "3"}
    lam.untag_resource(Resource=arn, TagKeys=["a", "c"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    assert aws_cli("lambda", "list-tags", "--resource", arn) == {"Tags": {"b": "2"}}


def test_async_queue_survives_a_restart(tmp_path):
    """An event waiting for its retry is still retried by the next server on
    the same data directory."""

    class SameDir(Server):
        def __init__(self, data_dir):
            # Server makes a fresh data dir; reuse one instead.
            self.port = free_port()
            self.endpoint = f"http://127.0.0.1:{self.port}"
            self.region = "us-east-1"
            self.data_dir = str(data_dir)
            self.log_path = data_dir / f"server-{self.port}.log"
            self.log = open(self.log_path, "wb")
            self.process = subprocess.Popen(
                [nimbus_binary(), "serve", "--port", str(self.port), "--data-dir", self.data_dir,
                 "--lambda-async-retry-delay-ms", "3000"],
                stdout=self.log, stderr=subprocess.STDOUT,
            )
            self.wait_ready()
            ensure_lambda_role(self.endpoint)

    first = SameDir(tmp_path)
    lam, ddb = make_client(first, "lambda"), make_client(first, "dynamodb")
    table = unique("restart")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    failing = create_python(
        lam,
        f"""import boto3
def lambda_handler(event, context):
    boto3.client('dynamodb').update_item(TableName='{table}', Key={{'pk': {{'S': 'attempts'}}}},
        UpdateExpression='ADD n :one', ExpressionAttributeValues={{':one': {{'N': '1'}}}})
    raise RuntimeError('fails')
""",
        Timeout=30,
    )
    destination = create_python(
        lam,
        f"""import boto3, json
def lambda_handler(event, context):
    boto3.client('dynamodb').put_item(TableName='{table}', Item={{'pk': {{'S': 'record'}}, 'body': {{'S': json.dumps(event)}}}})
""",
        Timeout=30,
    )
    lam.put_function_event_invoke_config(
        FunctionName=failing,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:lambda:us-east-1:000000000000:function:{destination}"}},
    )
    lam.invoke(FunctionName=failing, InvocationType="Event", Payload=b'{"k": 1}')
    wait_for(lambda: ddb.get_item(TableName=table, Key={"pk": {"S": "attempts"}}).get("Item"))
    assert first.stop() == 0  # the retry is due in 3 s: it waits in the store

    second = SameDir(tmp_path)
    try:
        ddb = make_client(second, "dynamodb")
        item = wait_for(lambda: ddb.get_item(TableName=table, Key={"pk": {"S": "record"}}).get("Item"))
        record = json.loads(item["body"]["S"])
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 2
        assert record["requestPayload"] == {"k": 1}
    finally:
        second.stop()
