"""Lambda versions and aliases: PublishVersion, ListVersionsByFunction,
qualified invokes, aliases with weighted routing."""

import json

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import create_python, make_zip


@pytest.fixture
def lam(client):
    return client("lambda")


def code_returning(value):
    return f"def lambda_handler(event, context):\n    return [{value!r}, context.function_version, context.invoked_function_arn]\n"


def call(lam, name, qualifier=None):
    args = {"FunctionName": name}
    if qualifier:
        args["Qualifier"] = qualifier
    result = lam.invoke(**args)
    return result["ExecutedVersion"], json.loads(result["Payload"].read())


def test_publish_and_invoke_versions(lam):
    name = create_python(lam, code_returning("one"))
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == "1"
    assert v1["FunctionArn"] == f"{arn}:1"
    assert v1["Description"] == "first"
    # Nothing changed: publishing again returns the same version.
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    lam.update_function_code(FunctionName=name, ZipFile=make_zip({"lambda_function.py": code_returning("two")}))
    v2 = lam.update_function_code(
        FunctionName=name, ZipFile=make_zip({"lambda_function.py": code_returning("two")}), Publish=True
    )
    assert v2["Version"] == "2"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]

    assert call(lam, name, "1") == ("1", ["one", "1", f"{arn}:1"])
    assert call(lam, name, "2") == ("2", ["two", "2", f"{arn}:2"])
    assert call(lam, name) == ("$LATEST", ["two", "$LATEST", arn])
    assert call(lam, f"{name}:1")[0] == "1"
    assert lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]["Version"] == "1"
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Qualifier="9")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == f"Function not found: {arn}:9"
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName=name, CodeSha256="wrong")
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"

    lam.delete_function(FunctionName=name, Qualifier="1")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "2"]


def test_aliases_with_weighted_routing(lam):
    name = create_python(lam, code_returning("one"), Publish=True)
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    lam.update_function_code(
        FunctionName=name, ZipFile=make_zip({"lambda_function.py": code_returning("two")}), Publish=True
    )
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1", Description="prod")
    assert alias["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert alias["AliasArn"] == f"{arn}:live"
    assert (alias["Name"], alias["FunctionVersion"], alias["Description"]) == ("live", "1", "prod")
    assert call(lam, name, "live") == ("1", ["one", "1", f"{arn}:live"])
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    assert e.value.response["Error"]["Message"] == f"Alias already exists: {arn}:live"

    updated = lam.update_alias(
        FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}
    )
    assert updated["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.5}}
    executed = {call(lam, name, "live")[0] for _ in range(40)}
    assert executed == {"1", "2"}

    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["live"]
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName=name, Qualifier="2")
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    lam.delete_alias(FunctionName=name, Name="live")
    with pytest.raises(ClientError) as e:
        lam.get_alias(FunctionName=name, Name="live")
    assert e.value.response["Error"]["Message"] == f"Alias not found: {arn}:live"
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName=name, Name="x", FunctionVersion="7")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
