"""TagResource/UntagResource/ListTagsOfResource, UpdateTimeToLive/DescribeTimeToLive
and DescribeEndpoints: AWS's validation and state rules."""

import boto3
import pytest
from botocore.config import Config

from test_dynamodb_helpers import create_table, error_of, unique

INVALID = "One or more parameter values were invalid: "


@pytest.fixture
def unchecked(client):
    return client("dynamodb", config=Config(parameter_validation=False, retries={"max_attempts": 1}))


@pytest.fixture
def table_arn(ddb):
    name = create_table(ddb, range_key=("sk", "S"), extra_attributes={"g": "S"},
                        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    return ddb.describe_table(TableName=name)["Table"]["TableArn"]


def tags_of(ddb, arn):
    return {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}


def test_tags_accept_any_script_and_empty_values(ddb, table_arn):
    tags = [{"Key": "ключ", "Value": "表 значение"}, {"Key": "a+b-c=d.e_f:g/h@i", "Value": ""}, {"Key": "k" * 128, "Value": "v" * 256}]
    ddb.tag_resource(ResourceArn=table_arn, Tags=tags)
    assert tags_of(ddb, table_arn) == {t["Key"]: t["Value"] for t in tags}
    ddb.tag_resource(ResourceArn=table_arn, Tags=[{"Key": "ключ", "Value": "new"}])
    assert tags_of(ddb, table_arn)["ключ"] == "new"
    ddb.untag_resource(ResourceArn=table_arn, TagKeys=["ключ", "never-set"])
    assert set(tags_of(ddb, table_arn)) == {"a+b-c=d.e_f:g/h@i", "k" * 128}


def test_tag_validation(unchecked, table_arn):
    def tag(*tags):
        return error_of(unchecked.tag_resource, ResourceArn=table_arn, Tags=list(tags))

    assert tag() == ("ValidationException", "Atleast one Tag needs to be provided as Input.")
    assert tag({"Key": "k" * 129, "Value": "v"}) == ("ValidationException", f"The Tag Key provided is invalid, Key: {'k' * 129}")
    assert tag({"Key": "k", "Value": "v" * 257}) == ("ValidationException", f"The Tag Value provided is invalid, Value: {'v' * 257}")
    assert tag({"Key": "dog"}) == ("ValidationException", "The Tag Value provided is invalid, Value: null")
    assert tag({"Value": "dog"}) == ("ValidationException", "The Tag Key provided is invalid, Key: null")
    for bad in ["hi!", "d%g", '"q"', "a,b", "🔑"]:
        assert tag({"Key": bad, "Value": "v"}) == ("ValidationException", f"The Tag Key provided is invalid, Key: {bad}")
        assert tag({"Key": "k", "Value": bad}) == ("ValidationException", f"The Tag Value provided is invalid, Value: {bad}")
    assert tag({"Key": "aws:owner", "Value": "v"}) == ("ValidationException", "Tag Key cannot be prefixed with aws:, Key: aws:owner")
    assert tag({"Key": "d", "Value": "1"}, {"Key": "d", "Value": "2"}) == (
        "ValidationException", "Duplicate Tag Keys provided as input: Duplicate Tag Key found d")
    assert error_of(unchecked.untag_resource, ResourceArn=table_arn, TagKeys=[]) == (
        "ValidationException", "Atleast one Tag Key needs to be provided as Input.")
    # Nothing above was stored.
    assert unchecked.list_tags_of_resource(ResourceArn=table_arn)["Tags"] == []


def test_tag_limit_is_fifty(ddb, table_arn):
    ddb.tag_resource(ResourceArn=table_arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(30)])
    ddb.tag_resource(ResourceArn=table_arn, Tags=[{"Key": f"k{i}", "Value": "w"} for i in range(20, 50)])
    assert len(tags_of(ddb, table_arn)) == 50
    assert error_of(ddb.tag_resource, ResourceArn=table_arn, Tags=[{"Key": "one-more", "Value": "v"}]) == (
        "ValidationException", "Number of Tags exceed the current limit for the provided ResourceArn")
    name = unique()
    assert error_of(ddb.create_table, TableName=name, BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                    Tags=[{"Key": str(i), "Value": "v"} for i in range(51)]) == (
        "ValidationException", "Number of Tags exceed the current limit for the provided ResourceArn")
    assert error_of(ddb.describe_table, TableName=name)[0] == "ResourceNotFoundException"


def test_tag_resource_arns(ddb, table_arn):
    tags = [{"Key": "k", "Value": "v"}]
    assert error_of(ddb.tag_resource, ResourceArn="not-an-arn", Tags=tags) == (
        "ValidationException", INVALID + "ARNs must start with 'arn:': not-an-arn")
    index_arn = f"{table_arn}/index/by-g"
    assert error_of(ddb.list_tags_of_resource, ResourceArn=index_arn) == (
        "ValidationException",
        INVALID + f"Invalid resource arn provided, only table or stream is accepted. Provided resource arn: {index_arn}",
    )
    code, _ = error_of(ddb.tag_resource, ResourceArn=table_arn + "x", Tags=tags)
    assert code == "ResourceNotFoundException"


def test_ttl_state_rules(ddb, unchecked):
    name = create_table(ddb)
    spec = lambda attr, on: {"AttributeName": attr, "Enabled": on}
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    assert error_of(ddb.update_time_to_live, TableName=name, TimeToLiveSpecification=spec("exp", False)) == (
        "ValidationException", "TimeToLive is already disabled")
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=spec("exp", True))
    assert error_of(ddb.update_time_to_live, TableName=name, TimeToLiveSpecification=spec("exp", True)) == (
        "ValidationException", "TimeToLive is already enabled")
    for on in [True, False]:
        assert error_of(ddb.update_time_to_live, TableName=name, TimeToLiveSpecification=spec("other", on)) == (
            "ValidationException", "TimeToLive is active on a different AttributeName: current AttributeName is exp")
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=spec("exp", False))
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    field = "'timeToLiveSpecification.attributeName'"
    assert error_of(unchecked.update_time_to_live, TableName=name, TimeToLiveSpecification=spec("", True)) == (
        "ValidationException",
        f"1 validation error detected: Value '' at {field} failed to satisfy constraint: Member must have length greater than or equal to 1",
    )
    long = "x" * 256
    assert error_of(unchecked.update_time_to_live, TableName=name, TimeToLiveSpecification=spec(long, True)) == (
        "ValidationException",
        f"1 validation error detected: Value '{long}' at {field} failed to satisfy constraint: Member must have length less than or equal to 255",
    )
    assert error_of(unchecked.update_time_to_live, TableName=name, TimeToLiveSpecification={"AttributeName": "a"}) == (
        "ValidationException",
        "1 validation error detected: Value null at 'timeToLiveSpecification.enabled' failed to satisfy constraint: Member must not be null",
    )
    assert error_of(unchecked.update_time_to_live, TableName=name, TimeToLiveSpecification={"AttributeName": "a", "Enabled": "yes"}) == (
        "SerializationException", "STRING_VALUE cannot be converted to Boolean")


def test_expired_items_are_deleted_in_the_background(ddb):
    """AWS deletes expired items eventually (within days); Nimbus sweeps every few seconds."""
    import time

    name = create_table(ddb, range_key=("sk", "S"), extra_attributes={"g": "S"},
                        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                                 "Projection": {"ProjectionType": "ALL"}}])
    now = int(time.time())

    def put(sk, expiry=None):
        item = {"pk": {"S": "p"}, "sk": {"S": sk}, "g": {"S": "gsi"}}
        if expiry is not None:
            item["exp"] = expiry
        ddb.put_item(TableName=name, Item=item)

    put("before-enabling", {"N": str(now - 60)})
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"AttributeName": "exp", "Enabled": True})
    put("past", {"N": str(now - 60)})
    put("past-fraction", {"N": f"{now - 60}.25"})
    put("past-exponent", {"N": f"{(now - 60) // 10}e1"})
    put("no-expiry")
    put("string", {"S": str(now - 60)})
    put("ancient", {"N": str(now - 6 * 365 * 86400)})
    put("future", {"N": str(now + 3600)})
    expiring = {"before-enabling", "past", "past-fraction", "past-exponent"}
    remaining = {"no-expiry", "string", "ancient", "future"}

    def keys(**index):
        return {i["sk"]["S"] for i in ddb.scan(TableName=name, **index)["Items"]}

    deadline = time.time() + 60
    while keys() != remaining and time.time() < deadline:
        time.sleep(0.5)
    assert keys() == remaining
    assert keys(IndexName="by-g") == remaining
    assert not expiring & keys()


def test_describe_endpoints_names_a_usable_endpoint(ddb, nimbus):
    [endpoint] = ddb.describe_endpoints()["Endpoints"]
    assert endpoint["CachePeriodInMinutes"] == 1440
    # The address has no scheme; a client sent to it reaches the same service
    # (credentials come from the environment conftest sets).
    again = boto3.client("dynamodb", endpoint_url=f"http://{endpoint['Address']}", region_name=nimbus.region)
    assert again.describe_endpoints()["Endpoints"] == [endpoint]
