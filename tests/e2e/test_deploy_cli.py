"""`nimbus deploy`, `nimbus delete` and `nimbus stacks` as child processes
against a running `nimbus serve`: create, update (changed resources updated,
removed ones deleted, in dependency order), a failed update rolled back, the
roles SAM functions get, and public SAM sample applications deployed unchanged.
"""

import json
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import Server, make_client, nimbus_binary

FIXTURES = Path(__file__).resolve().parent / "fixtures"

TEMPLATE_V1 = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  Notes:
    Type: AWS::Serverless::SimpleTable
  GreetFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.greet
      Runtime: python3.12
      Environment:
        Variables:
          GREETING: !Ref Greeting
          TABLE: !Ref Notes
      Policies:
        - DynamoDBReadPolicy:
            TableName: !Ref Notes
      Events:
        Greet:
          Type: HttpApi
          Properties:
            Path: /greet
            Method: get
Outputs:
  NotesTable:
    Value: !Ref Notes
"""

# v2: the table and the function's use of it are gone, a second function
# and route are new, the greeting comes from an override.
TEMPLATE_V2 = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  GreetFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.greet
      Runtime: python3.12
      Environment:
        Variables:
          GREETING: !Ref Greeting
      Events:
        Greet:
          Type: HttpApi
          Properties:
            Path: /greet
            Method: get
  ByeFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.bye
      Runtime: python3.12
      Events:
        Bye:
          Type: HttpApi
          Properties:
            Path: /bye
            Method: get
"""

# v3 breaks: a table whose key is not among its attribute definitions, which
# DynamoDB refuses only when it is created.
BROKEN_TABLE = """
  Broken:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: other, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
"""

HANDLER = """
import os


def greet(event, context):
    return {"greeting": os.environ.get("GREETING"), "table": os.environ.get("TABLE")}


def bye(event, context):
    return {"bye": True}
"""


@pytest.fixture(scope="module")
def server():
    """A server of our own: the CLI shares stack records with it through its data dir."""
    s = Server()
    yield s
    assert s.stop() == 0, s.output()


def nimbus_cli(server, *args, cwd=None):
    result = subprocess.run(
        [nimbus_binary(), *args, "--endpoint-url", server.endpoint, "--data-dir", server.data_dir],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
    )
    return result


def progress(output):
    """The progress lines as (status, type, logical id), in order."""
    lines = []
    for line in output.splitlines():
        m = re.match(r"^\s+([A-Z_]+_(?:IN_PROGRESS|COMPLETE|FAILED))\s+(AWS::\S+)\s+(\S+)", line)
        if m:
            lines.append(m.groups())
    return lines


def position(lines, status, logical_id):
    for i, (s, _, lid) in enumerate(lines):
        if s == status and lid == logical_id:
            return i
    raise AssertionError(f"no {status} {logical_id} in {lines}")


def api_url(output, name):
    """The printed URL of an API, e.g. http://abc.execute-api.localhost:4566/."""
    m = re.search(rf"^\s+{name}\s+(http://\S+)$", output, re.M)
    assert m, output
    return m.group(1)


def get(url):
    """GET a printed `http://{api}.execute-api.localhost:{port}/…` URL: to
    127.0.0.1 with that Host, as a resolver for *.localhost would send it."""
    m = re.match(r"http://([^/]+):(\d+)(/.*)$", url)
    host, port, path = m.groups()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": f"{host}:{port}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_deploy_update_rollback_delete(server, tmp_path):
    app = tmp_path / "greeter"
    (app / "src").mkdir(parents=True)
    (app / "src" / "app.py").write_text(HANDLER)
    template = app / "template.yaml"
    template.write_text(TEMPLATE_V1)
    cf = make_client(server, "cloudformation")
    ddb = make_client(server, "dynamodb")
    lam = make_client(server, "lambda")

    # Create: the stack is named after the folder; each resource is shown
    # as it is created, each after what it depends on.
    first = nimbus_cli(server, "deploy", cwd=app)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Creating stack greeter" in first.stdout
    steps = progress(first.stdout)
    created = {lid for s, _, lid in steps if s == "CREATE_COMPLETE"}
    assert {"Notes", "GreetFunction", "GreetFunctionRole", "ServerlessHttpApi"} <= created, steps
    assert all(s.startswith("CREATE_") for s, _, _ in steps), steps
    for lid in created:
        assert position(steps, "CREATE_IN_PROGRESS", lid) < position(steps, "CREATE_COMPLETE", lid)
    assert position(steps, "CREATE_COMPLETE", "GreetFunctionRole") < position(steps, "CREATE_IN_PROGRESS", "GreetFunction")
    assert position(steps, "CREATE_COMPLETE", "Notes") < position(steps, "CREATE_IN_PROGRESS", "GreetFunction")
    url = api_url(first.stdout, "ServerlessHttpApi")
    table = re.search(r"NotesTable = (\S+)", first.stdout).group(1)
    assert get(url + "greet") == (200, {"greeting": "hello", "table": table})
    assert table in ddb.list_tables()["TableNames"]

    # The function's role: assumable by Lambda, and its policy template
    # allows reading the table but not writing it.
    iam = make_client(server, "iam")
    function = next(f for f in lam.list_functions()["Functions"] if "GreetFunction" in f["FunctionName"])
    role_arn = function["Role"]
    role = iam.get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(urllib.parse.unquote(trust)) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"]["Service"] in (["lambda.amazonaws.com"], "lambda.amazonaws.com")
    assert trust["Statement"][0]["Action"] in (["sts:AssumeRole"], "sts:AssumeRole")
    table_arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    decisions = iam.simulate_principal_policy(
        PolicySourceArn=role_arn, ActionNames=["dynamodb:GetItem", "dynamodb:PutItem"], ResourceArns=[table_arn]
    )["EvaluationResults"]
    assert {d["EvalActionName"]: d["EvalDecision"] for d in decisions} == {
        "dynamodb:GetItem": "allowed",
        "dynamodb:PutItem": "implicitDeny",
    }
    # Every SAM function role gets AWSLambdaBasicExecutionRole: it may write its logs.
    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" in [p["PolicyArn"] for p in attached]
    decisions = iam.simulate_principal_policy(PolicySourceArn=role_arn, ActionNames=["logs:PutLogEvents"])
    assert decisions["EvaluationResults"][0]["EvalDecision"] == "allowed"

    # Listed by `nimbus stacks` and by CloudFormation's own API.
    listed = nimbus_cli(server, "stacks")
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^greeter\s+CREATE_COMPLETE\s+\d+", listed.stdout, re.M), listed.stdout
    assert cf.describe_stacks(StackName="greeter")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"

    # Update: the function is updated before the table it no longer uses is
    # deleted; the new function and route are created; the URL stays.
    template.write_text(TEMPLATE_V2)
    second = nimbus_cli(server, "deploy", "--parameter-overrides", "Greeting=howdy", cwd=app)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Updating stack greeter" in second.stdout
    steps = progress(second.stdout)
    assert position(steps, "UPDATE_COMPLETE", "GreetFunction") < position(steps, "DELETE_IN_PROGRESS", "Notes")
    assert position(steps, "DELETE_IN_PROGRESS", "Notes") < position(steps, "DELETE_COMPLETE", "Notes")
    assert position(steps, "CREATE_COMPLETE", "ByeFunctionRole") < position(steps, "CREATE_IN_PROGRESS", "ByeFunction")
    assert not [s for s in steps if s[2] == "ServerlessHttpApi" and s[0].startswith("DELETE")], steps
    assert api_url(second.stdout, "ServerlessHttpApi") == url
    assert get(url + "greet") == (200, {"greeting": "howdy", "table": None})
    assert get(url + "bye") == (200, {"bye": True})
    assert table not in ddb.list_tables()["TableNames"]
    assert cf.describe_stacks(StackName="greeter")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"

    # A failed update: nimbus exits non-zero naming the resource and the
    # reason; what was changed is restored and what was made is removed.
    tables_before = ddb.list_tables()["TableNames"]
    template.write_text(TEMPLATE_V2 + BROKEN_TABLE)
    third = nimbus_cli(server, "deploy", "--parameter-overrides", "Greeting=broken", cwd=app)
    assert third.returncode != 0, third.stdout
    assert re.search(r"of Broken \[AWS::DynamoDB::Table\] \(line \d+\) failed: .*", third.stderr), third.stderr
    assert "rolled back" in third.stderr
    steps = progress(third.stdout)
    assert ("CREATE_FAILED", "AWS::DynamoDB::Table", "Broken") in steps, steps
    if ("UPDATE_COMPLETE", "AWS::Lambda::Function", "GreetFunction") in steps:
        assert ("ROLLBACK_COMPLETE", "AWS::Lambda::Function", "GreetFunction") in steps, steps
    assert get(url + "greet") == (200, {"greeting": "howdy", "table": None})
    assert ddb.list_tables()["TableNames"] == tables_before
    assert cf.describe_stacks(StackName="greeter")["Stacks"][0]["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"

    # Delete: everything goes, dependents first.
    functions = [f["FunctionName"] for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith("greeter-")]
    assert len(functions) == 2
    gone = nimbus_cli(server, "delete", "--stack-name", "greeter")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    steps = progress(gone.stdout)
    assert position(steps, "DELETE_COMPLETE", "GreetFunction") < position(steps, "DELETE_IN_PROGRESS", "GreetFunctionRole")
    for name in functions:
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            lam.get_function(FunctionName=name)
    assert get(url + "greet")[0] == 404
    assert "No stacks" in nimbus_cli(server, "stacks").stdout
    again = nimbus_cli(server, "delete", "--stack-name", "greeter")
    assert again.returncode != 0 and "Stack with id greeter does not exist" in again.stderr


def test_deploy_refuses_bad_input(server, tmp_path):
    missing = nimbus_cli(server, "deploy", cwd=tmp_path)
    assert missing.returncode != 0 and "no template.yaml" in missing.stderr
    (tmp_path / "template.yaml").write_text("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n")
    unsupported = nimbus_cli(server, "deploy", "--stack-name", "bad", cwd=tmp_path)
    assert unsupported.returncode != 0
    assert re.search(r"line 3.*AWS::SQS::Queue \(Q\) is not supported", unsupported.stderr), unsupported.stderr
    assert "bad" not in nimbus_cli(server, "stacks").stdout
    # Template errors name their line.
    for text, error in [
        ("Resources:\n  A:\n    Type: [unclosed\n", r"line 4: invalid YAML"),
        (
            "Resources:\n  A:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      LogGroupName: !Ref Nope\n",
            r"line 5: Ref to unknown parameter or resource 'Nope'",
        ),
        (
            "Resources:\n  A:\n    Type: AWS::Logs::LogGroup\n    Properties: {LogGroupName: !Ref B}\n"
            "  B:\n    Type: AWS::Logs::LogGroup\n    Properties: {LogGroupName: !Ref A}\n",
            r"line 2: circular dependency between resources: A -> B -> A",
        ),
    ]:
        (tmp_path / "template.yaml").write_text(text)
        failed = nimbus_cli(server, "deploy", "--stack-name", "bad", cwd=tmp_path)
        assert failed.returncode != 0 and re.search(error, failed.stderr), failed.stderr
    assert "bad" not in nimbus_cli(server, "stacks").stdout
    pair = nimbus_cli(server, "deploy", "--parameter-overrides", "novalue", cwd=tmp_path)
    assert pair.returncode != 0 and "parameter override novalue is not K=V" in pair.stderr
    unreachable = subprocess.run(
        [nimbus_binary(), "stacks", "--endpoint-url", "http://127.0.0.1:9", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unreachable.returncode != 0 and "cannot reach Nimbus at http://127.0.0.1:9" in unreachable.stderr
    assert f"{tmp_path} is not a Nimbus data dir" in unreachable.stderr


@pytest.mark.parametrize("sample", ["sam-init-python-hello", "sam-init-node-hello"])
def test_sam_init_hello_world_deploys_unchanged(server, tmp_path, sample):
    """`sam init`'s Hello World (REST API `GET /hello`), as generated."""
    app = tmp_path / sample
    shutil.copytree(FIXTURES / sample, app)
    result = nimbus_cli(server, "deploy", "--stack-name", sample, cwd=app)
    assert result.returncode == 0, result.stdout + result.stderr
    # The documented Output, made local: .../Prod/hello/
    here = re.search(r"HelloWorldApi = https://\S+\s+\(here: (http://\S+)\)", result.stdout)
    assert here, result.stdout
    assert here.group(1).endswith("/Prod/hello/")
    assert get(here.group(1)) == (200, {"message": "hello world"})
    assert get(here.group(1).rstrip("/")) == (200, {"message": "hello world"})
    # A REST API redeploy (SAM makes a new Deployment when paths change; the
    # old one, and the "Stage" stage SAM's Deployment made, are cleaned up).
    template = app / "template.yaml"
    template.write_text(template.read_text().replace("Path: /hello", "Path: /hi"))
    moved = nimbus_cli(server, "deploy", "--stack-name", sample, cwd=app)
    assert moved.returncode == 0 and "left behind" not in moved.stdout, moved.stdout + moved.stderr
    assert re.search(r"DELETE_COMPLETE\s+AWS::ApiGateway::Deployment", moved.stdout), moved.stdout
    base = here.group(1)[: -len("hello/")]
    assert get(base + "hi") == (200, {"message": "hello world"})
    assert get(base + "hello") == (403, '{"message":"Missing Authentication Token"}')
    api_id = re.match(r"http://([^.]+)\.", here.group(1)).group(1)
    apigateway = make_client(server, "apigateway")
    assert api_id in [a["id"] for a in apigateway.get_rest_apis()["items"]]
    deleted = nimbus_cli(server, "delete", "--stack-name", sample)
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert api_id not in [a["id"] for a in apigateway.get_rest_apis()["items"]]
