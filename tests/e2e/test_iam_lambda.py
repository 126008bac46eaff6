"""Least privilege for functions: each environment acts with its execution
role's temporary credentials, CreateFunction checks the role (iam:PassRole,
assumable by Lambda), and AddPermission's resource policy grants Invoke."""

import json
import subprocess
import time

import botocore
import pytest

from conftest import Server, make_client, nimbus_binary
from lambda_helpers import make_zip, unique

ACCOUNT = "000000000000"
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."

READ_THEN_WRITE = """import os
import boto3

def handler(event, context):
    ddb = boto3.client("dynamodb")
    out = {"key_id": os.environ["AWS_ACCESS_KEY_ID"], "has_token": bool(os.environ.get("AWS_SESSION_TOKEN"))}
    out["item"] = ddb.get_item(TableName=event["table"], Key={"pk": {"S": "1"}}).get("Item")
    try:
        ddb.put_item(TableName=event["table"], Item={"pk": {"S": "2"}})
        out["write"] = "allowed"
    except Exception as e:
        out["write"] = {"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"]}
    return out
"""


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def make_role(iam, trust=LAMBDA_TRUST, policy_arn=None):
    name = unique("fnrole")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    if policy_arn:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return name, arn


def create_function(lam, name, role_arn, code=READ_THEN_WRITE):
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=role_arn, Handler="app.handler",
                               Code={"ZipFile": make_zip({"app.py": code})}, Timeout=30)


def new_user(client, iam, policy, name=None):
    name = name or unique("user")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    as_user = lambda service: client(service, aws_access_key_id=key["AccessKeyId"],  # noqa: E731
                                     aws_secret_access_key=key["SecretAccessKey"])
    return f"arn:aws:iam::{ACCOUNT}:user/{name}", as_user


def test_function_reads_with_a_read_only_role_and_is_denied_a_write(nimbus, client):
    iam, lam, ddb = client("iam"), client("lambda"), client("dynamodb")
    table = unique("Catalog")
    ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName=table, Item={"pk": {"S": "1"}, "title": {"S": "Dune"}})
    table_arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table}"
    role, role_arn = make_role(iam, policy_arn="arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess")
    fn = unique("reader")
    create_function(lam, fn, role_arn)

    reply = lam.invoke(FunctionName=fn, Payload=json.dumps({"table": table}))
    out = json.loads(reply["Payload"].read())
    assert "FunctionError" not in reply, out
    # Temporary credentials of the role, not root's.
    assert out["key_id"].startswith("ASIA") and out["has_token"]
    assert out["item"] == {"pk": {"S": "1"}, "title": {"S": "Dune"}}
    assert out["write"] == {
        "code": "AccessDeniedException",
        "message": f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{fn} is not authorized to perform: "
                   f"dynamodb:PutItem on resource: {table_arn} because no identity-based policy allows the "
                   f"dynamodb:PutItem action",
    }
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "2"}})

    # What the function did, and nothing else, as the smallest policy.
    result = subprocess.run([nimbus_binary(), "iam", "suggest-policy", fn, "--endpoint", nimbus.endpoint],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    policy = json.loads(result.stdout)
    used = sorted((action, s["Resource"]) for s in policy["Statement"] for action in s["Action"])
    assert used == [("dynamodb:GetItem", table_arn), ("dynamodb:PutItem", table_arn)]


def test_create_function_needs_a_role_lambda_can_assume(client):
    iam, lam = client("iam"), client("lambda")
    _, ec2_only = make_role(iam, trust=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    for role_arn in [f"arn:aws:iam::{ACCOUNT}:role/{unique('missing')}", ec2_only]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            create_function(lam, unique("fn"), role_arn)
        assert error_of(e) == ("InvalidParameterValueException", NOT_ASSUMABLE, 400)

    # A role changed to one Lambda cannot assume is refused too.
    _, good = make_role(iam)
    fn = unique("fn")
    create_function(lam, fn, good)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.update_function_configuration(FunctionName=fn, Role=ec2_only)
    assert error_of(e) == ("InvalidParameterValueException", NOT_ASSUMABLE, 400)


def test_invoke_of_a_function_whose_role_was_deleted_fails(client):
    iam, lam = client("iam"), client("lambda")
    role, role_arn = make_role(iam)
    fn = unique("orphan")
    create_function(lam, fn, role_arn, code="def handler(event, context):\n    return 'ok'\n")
    iam.delete_role(RoleName=role)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.invoke(FunctionName=fn, Payload=b"{}")
    assert error_of(e) == ("InvalidParameterValueException", NOT_ASSUMABLE, 400)


def test_create_function_needs_pass_role(client):
    iam = client("iam")
    _, role_arn = make_role(iam)
    user_arn, as_user = new_user(client, iam, doc({"Effect": "Allow", "Action": "lambda:CreateFunction",
                                                   "Resource": "*"}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        create_function(as_user("lambda"), unique("fn"), role_arn)
    assert error_of(e) == (
        "AccessDeniedException",
        f"User: {user_arn} is not authorized to perform: iam:PassRole on resource: {role_arn} "
        f"because no identity-based policy allows the iam:PassRole action",
        403,
    )
    # PassRole only for Lambda: the iam:PassedToService condition matches.
    iam.put_user_policy(UserName=user_arn.rsplit("/", 1)[1], PolicyName="pass", PolicyDocument=doc({
        "Effect": "Allow", "Action": "iam:PassRole", "Resource": role_arn,
        "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}))
    created = create_function(as_user("lambda"), unique("fn"), role_arn)
    assert created["Role"] == role_arn


def test_add_permission_grants_invoke_to_a_user_of_the_account(client):
    iam, lam = client("iam"), client("lambda")
    _, role_arn = make_role(iam)
    fn = unique("shared")
    fn_arn = create_function(lam, fn, role_arn, code="def handler(event, context):\n    return 'hi'\n")["FunctionArn"]
    user_arn, as_user = new_user(client, iam, doc({"Effect": "Allow", "Action": "lambda:GetAccountSettings",
                                                   "Resource": "*"}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_user("lambda").invoke(FunctionName=fn, Payload=b"{}")
    assert error_of(e) == (
        "AccessDeniedException",
        f"User: {user_arn} is not authorized to perform: lambda:InvokeFunction on resource: {fn_arn} "
        f"because no identity-based policy allows the lambda:InvokeFunction action",
        403,
    )
    # Within one account, a resource-based policy naming the user is enough.
    lam.add_permission(FunctionName=fn, StatementId="user", Action="lambda:InvokeFunction", Principal=user_arn)
    reply = as_user("lambda").invoke(FunctionName=fn, Payload=b"{}")
    assert json.loads(reply["Payload"].read()) == "hi"
    lam.remove_permission(FunctionName=fn, StatementId="user")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_user("lambda").invoke(FunctionName=fn, Payload=b"{}")
    assert error_of(e)[0] == "AccessDeniedException"


def test_resource_policies_hold_after_a_restart():
    server = Server()
    fn, user = unique("kept"), unique("caller")
    try:
        iam, lam = make_client(server, "iam"), make_client(server, "lambda")
        _, role_arn = make_role(iam)
        create_function(lam, fn, role_arn, code="def handler(event, context):\n    return 'kept'\n")
        client = lambda service, **kw: make_client(server, service, **kw)  # noqa: E731
        user_arn, _ = new_user(client, iam, doc({"Effect": "Allow", "Action": "lambda:GetAccountSettings",
                                                 "Resource": "*"}), name=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        lam.add_permission(FunctionName=fn, StatementId="user", Action="lambda:InvokeFunction", Principal=user_arn)
    finally:
        assert server.stop() == 0
    again = Server(data_dir=server.data_dir)
    try:
        as_user = make_client(again, "lambda", aws_access_key_id=key["AccessKeyId"],
                              aws_secret_access_key=key["SecretAccessKey"])
        reply = as_user.invoke(FunctionName=fn, Payload=b"{}")
        assert json.loads(reply["Payload"].read()) == "kept"
    finally:
        assert again.stop() == 0


def test_environments_retire_before_their_role_credentials_expire():
    """With 65-second role sessions and a 2-second timeout, an environment
    takes work for 3 seconds (65 - 2 - a 60-second margin); then a new one
    starts with fresh credentials."""
    server = Server(env={"NIMBUS_STS_MIN_DURATION_SECONDS": "1", "NIMBUS_LAMBDA_ROLE_SESSION_SECONDS": "65"})
    try:
        iam, lam = make_client(server, "iam"), make_client(server, "lambda")
        _, role_arn = make_role(iam, policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess")
        fn = unique("rotating")
        code = ("import os, boto3\n"
                "def handler(event, context):\n"
                "    boto3.client('iam').list_roles(MaxItems=1)\n"
                "    return os.environ['AWS_ACCESS_KEY_ID']\n")
        lam.create_function(FunctionName=fn, Runtime="python3.12", Role=role_arn, Handler="app.handler",
                            Code={"ZipFile": make_zip({"app.py": code})}, Timeout=2)

        def key_id():
            reply = lam.invoke(FunctionName=fn, Payload=b"{}")
            out = json.loads(reply["Payload"].read())
            assert "FunctionError" not in reply, out
            return out

        first = key_id()
        assert first.startswith("ASIA")
        time.sleep(4)
        second = key_id()
        assert second.startswith("ASIA") and second != first
    finally:
        assert server.stop() == 0
