"""Lambda control plane: CreateFunction, GetFunction(Configuration),
ListFunctions, UpdateFunctionCode/Configuration, DeleteFunction, waiters,
account settings, with boto3 and the AWS CLI."""

import base64
import hashlib
import json
import urllib.error
import urllib.request

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambda_helpers import ROLE, SEED_HANDLER, create_python, make_zip, unique


@pytest.fixture
def lam(client):
    return client("lambda")


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_create_function_returns_aws_configuration(lam, nimbus):
    name = unique()
    package = make_zip({"lambda_function.py": SEED_HANDLER})
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": package},
        Description="seed",
        Environment={"Variables": {"STAGE": "test"}},
        Tags={"team": "nimbus"},
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionName"] == name
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert created["Runtime"] == "python3.12"
    assert created["Handler"] == "lambda_function.lambda_handler"
    assert created["Role"] == ROLE
    assert created["Timeout"] == 3
    assert created["MemorySize"] == 128
    assert created["Version"] == "$LATEST"
    assert created["PackageType"] == "Zip"
    assert created["Architectures"] == ["x86_64"]
    assert created["EphemeralStorage"] == {"Size": 512}
    assert created["Environment"] == {"Variables": {"STAGE": "test"}}
    assert created["CodeSize"] == len(package)
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert created["State"] == "Pending"
    assert created["StateReasonCode"] == "Creating"
    assert created["LastModified"].endswith("+0000")
    assert created["RevisionId"]

    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"
    assert got["Tags"] == {"team": "nimbus"}
    assert got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"]) as r:
        assert r.read() == package
    # Like a presigned URL: without its signature the link is refused.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(got["Code"]["Location"].split("?")[0])
    assert e.value.code == 403

    config = lam.get_function_configuration(FunctionName=name)
    assert config["FunctionArn"] == created["FunctionArn"]
    assert config["RevisionId"] == created["RevisionId"]
    # Full ARN and partial forms name the same function.
    assert lam.get_function(FunctionName=created["FunctionArn"])["Configuration"]["FunctionName"] == name


def test_validation_errors_are_worded_as_aws(client):
    # The server's own validation, not botocore's.
    lam = client("lambda", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        create_python(lam, SEED_HANDLER, Timeout=0)
    assert error_of(e) == (
        "ValidationException",
        "1 validation error detected: Value '0' at 'timeout' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
        400,
    )
    with pytest.raises(ClientError) as e:
        create_python(lam, SEED_HANDLER, Timeout=901, MemorySize=64)
    code, message, status = error_of(e)
    assert code == "ValidationException" and status == 400
    assert message.startswith("2 validation errors detected: ")
    assert "Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900" in message
    assert "Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128" in message
    with pytest.raises(ClientError) as e:
        create_python(lam, SEED_HANDLER, runtime="python2.8")
    code, message, _ = error_of(e)
    assert code == "ValidationException"
    assert "Value 'python2.8' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [" in message
    with pytest.raises(ClientError) as e:
        lam.create_function(
            FunctionName=unique(), Runtime="python3.12", Role="not-a-role", Handler="a.b", Code={"ZipFile": b"x"}
        )
    assert error_of(e)[0] == "ValidationException"
    assert "at 'role' failed to satisfy constraint" in error_of(e)[1]
    with pytest.raises(ClientError) as e:
        lam.create_function(
            FunctionName=unique(), Runtime="python3.12", Role=ROLE, Handler="a.b", Code={"ZipFile": b"not a zip"}
        )
    assert error_of(e) == (
        "InvalidParameterValueException",
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
        400,
    )
    with pytest.raises(ClientError) as e:
        create_python(lam, SEED_HANDLER, Environment={"Variables": {"AWS_REGION": "x"}})
    assert error_of(e)[0] == "InvalidParameterValueException"
    assert error_of(e)[1].endswith("Reserved keys used in this request: AWS_REGION")


def test_conflict_and_not_found(lam):
    name = create_python(lam, SEED_HANDLER)
    with pytest.raises(ClientError) as e:
        create_python(lam, SEED_HANDLER, name=name)
    assert error_of(e) == ("ResourceConflictException", f"Function already exist: {name}", 409)
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="nope-missing")
    assert error_of(e) == (
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope-missing",
        404,
    )
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="nope-missing")
    assert error_of(e)[0] == "ResourceNotFoundException"
    lam.delete_function(FunctionName=name)
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName=name)
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_list_functions_paginates(lam):
    prefix = unique("page")
    names = sorted(create_python(lam, SEED_HANDLER, name=f"{prefix}-{i}") for i in range(5))
    first = lam.list_functions(MaxItems=2)
    assert len(first["Functions"]) == 2
    assert "NextMarker" in first
    seen = []
    for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
        seen += [f["FunctionName"] for f in page["Functions"]]
    assert [n for n in seen if n.startswith(prefix)] == names
    assert len(seen) == len(set(seen))


def test_update_code_and_configuration(lam):
    name = create_python(lam, "def lambda_handler(e, c):\n    return 'v1'\n")
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "v1"
    updated = lam.update_function_code(
        FunctionName=name, ZipFile=make_zip({"lambda_function.py": "def lambda_handler(e, c):\n    return 'v2'\n"})
    )
    assert updated["LastUpdateStatus"] == "InProgress"
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    # Stale code is never served after an update.
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "v2"

    code = "import os\ndef lambda_handler(e, c):\n    return [os.environ.get('COLOR'), c.memory_limit_in_mb]\n"
    lam.update_function_code(FunctionName=name, ZipFile=make_zip({"lambda_function.py": code}))
    config = lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"COLOR": "blue"}}, MemorySize=256, Timeout=10, Description="d"
    )
    assert (config["MemorySize"], config["Timeout"], config["Description"]) == (256, 10, "d")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == ["blue", "256"]

    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName=name, Timeout=1, RevisionId="stale")
    assert error_of(e)[0] == "PreconditionFailedException"
    assert error_of(e)[2] == 412


def test_account_settings(lam):
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountLimit"]["CodeSizeZipped"] == 52428800
    assert settings["AccountLimit"]["CodeSizeUnzipped"] == 262144000
    assert settings["AccountUsage"]["FunctionCount"] >= 0


def test_aws_cli_create_invoke_delete(aws_cli, tmp_path):
    name = unique("cli")
    package = tmp_path / "fn.zip"
    package.write_bytes(make_zip({"lambda_function.py": SEED_HANDLER}))
    created = aws_cli(
        "lambda", "create-function", "--function-name", name, "--runtime", "python3.12", "--role", ROLE,
        "--handler", "lambda_function.lambda_handler", "--zip-file", f"fileb://{package}",
    )
    assert created["FunctionName"] == name
    aws_cli("lambda", "wait", "function-active-v2", "--function-name", name)
    out = tmp_path / "out.json"
    result = aws_cli("lambda", "invoke", "--function-name", name, str(out))
    assert result == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert json.loads(out.read_text()) == {"statusCode": 200, "body": "\"Hello from Lambda!\""}
    listed = aws_cli("lambda", "list-functions")
    assert name in [f["FunctionName"] for f in listed["Functions"]]
    aws_cli("lambda", "delete-function", "--function-name", name)
    missing = aws_cli("lambda", "get-function", "--function-name", name, check=False)
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
