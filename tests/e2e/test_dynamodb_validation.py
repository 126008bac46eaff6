"""Raw DynamoDB requests, for input SDKs refuse to send: missing members,
wrong JSON types, malformed bodies, and AWS's request-validation wording."""

import json

import pytest

from raw import signed
from test_dynamodb_helpers import create_table


def call(nimbus, operation, body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = signed(nimbus.endpoint, "dynamodb", body=raw, headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"DynamoDB_20120810.{operation}",
    })
    return reply.status, reply.json()


@pytest.fixture(scope="module")
def table(nimbus):
    import boto3

    ddb = boto3.client("dynamodb", endpoint_url=nimbus.endpoint, region_name=nimbus.region,
                       aws_access_key_id="test", aws_secret_access_key="test")
    name = create_table(ddb)
    yield name
    ddb.delete_table(TableName=name)


def test_malformed_bodies_and_wrong_types(nimbus, table):
    status, body = call(nimbus, "GetItem", b"{not json")
    assert status == 400
    assert body["__type"] == "com.amazon.coral.service#SerializationException"
    status, body = call(nimbus, "GetItem", {"TableName": 123, "Key": {}})
    assert body["__type"] == "com.amazon.coral.service#SerializationException"
    assert body["message"] == "NUMBER_VALUE cannot be converted to String"
    status, body = call(nimbus, "PutItem", {"TableName": table, "Item": {"pk": {"S": 5}}})
    assert body["__type"] == "com.amazon.coral.service#SerializationException"
    status, body = call(nimbus, "PutItem", {"TableName": table, "Item": {"pk": {"S": "a"}, "b": {"B": "not base64!"}}})
    assert body["__type"] == "com.amazon.coral.service#SerializationException"
    status, body = call(nimbus, "NoSuchOperation", {})
    assert body["__type"] == "com.amazon.coral.service#UnknownOperationException"


def test_missing_members_aggregate_in_member_order(nimbus):
    status, body = call(nimbus, "UpdateItem", {
        "TableName": "", "UpdateExpression": "SET a = :a", "ExpressionAttributeValues": {":a": {"S": "x"}},
        "ReturnConsumedCapacity": "INVALID", "ReturnValues": "INVALID",
    })
    assert status == 400
    assert body["__type"] == "com.amazon.coral.validate#ValidationException"
    assert body["message"] == (
        "4 validation errors detected: "
        "Value 'INVALID' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: "
        "[INDEXES, TOTAL, NONE]; "
        "Value '' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 1; "
        "Value 'INVALID' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: "
        "[ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]; "
        "Value null at 'key' failed to satisfy constraint: Member must not be null"
    )


def test_first_violation_only_when_required_members_are_present(nimbus, table):
    _, body = call(nimbus, "UpdateItem", {"TableName": table, "Key": {"pk": {"S": "x"}}, "ReturnValues": "INVALID",
                                          "ReturnConsumedCapacity": "INVALID"})
    # The new form stops at the first invalid enum, ReturnValues, in AWS's own spelling.
    assert body["message"] == (
        "1 validation error detected: Failed to satisfy constraint: Member must satisfy enum value set: "
        "[ALL_OLD, UPDATED_OLD, ALL_NEW, UPDATE_NEW, NONE]"
    )
    _, body = call(nimbus, "PutItem", {"TableName": "", "Item": {"pk": {"S": "x"}}, "ReturnValues": "INVALID"})
    assert body["message"] == (
        "1 validation error detected: Value at 'TableName' failed to satisfy constraint: Member must have length "
        "greater than or equal to 1"
    )
    _, body = call(nimbus, "PutItem", {"Item": {"pk": {"S": "x"}}})
    assert body["message"] == (
        "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null"
    )
    _, body = call(nimbus, "PutItem", {"TableName": "bad table!@#", "Item": {"pk": {"S": "x"}}})
    assert body["message"] == (
        "1 validation error detected: Value 'bad table!@#' at 'tableName' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    )


def test_value_layers(nimbus, table):
    # PutItem: the current layer, inside the envelope.
    _, body = call(nimbus, "PutItem", {"TableName": table, "Item": {"pk": {"S": "x"}, "n": {"N": ""}}})
    assert body["message"] == "1 validation error detected: The parameter cannot be converted to a numeric value: "
    # GetItem: the current layer, bare.
    _, body = call(nimbus, "GetItem", {"TableName": table, "Key": {"pk": {"NS": ["2", "1", "2"]}}})
    assert body["message"] == "One or more parameter values were invalid: Input collection contains duplicates."
    # BatchWriteItem: the older layer.
    _, body = call(nimbus, "BatchWriteItem", {"RequestItems": {table: [
        {"PutRequest": {"Item": {"pk": {"S": "x"}, "s": {"SS": ["b", "a", "b"]}}}}]}})
    assert body["message"] == "One or more parameter values were invalid: Input collection [b, a, b] contains duplicates."
    _, body = call(nimbus, "BatchWriteItem", {"RequestItems": {table: [
        {"PutRequest": {"Item": {"pk": {"S": "x"}, "n": {"N": "1e2147483647"}}}}]}})
    assert body["message"] == "Number underflow. Attempting to store a number with magnitude smaller than supported range"
    # Scan: the older layer names the placeholder of a bad value.
    _, body = call(nimbus, "Scan", {"TableName": table, "FilterExpression": "n = :v",
                                    "ExpressionAttributeValues": {":v": {"N": "abc"}}})
    assert body["message"] == (
        "ExpressionAttributeValues contains invalid value: The parameter cannot be converted to a numeric value: abc "
        "for key :v"
    )


def deep_map(depth):
    value = {"S": "leaf"}
    for _ in range(depth):
        value = {"M": {"n": value}}
    return value


def test_absurd_nesting_is_refused(nimbus, table):
    # The attribute is level 1: a leaf may sit at level 32, not 33.
    status, _ = call(nimbus, "PutItem", {"TableName": table, "Item": {"pk": {"S": "deep"}, "d": deep_map(31)}})
    assert status == 200
    _, body = call(nimbus, "PutItem", {"TableName": table, "Item": {"pk": {"S": "deep"}, "d": deep_map(32)}})
    assert body["message"] == (
        "1 validation error detected: Nesting Levels have exceeded supported limits: Attributes in the item have "
        "nested levels beyond supported limit")
    deeper = b'{"TableName": "x", "Item": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001
    status, body = call(nimbus, "PutItem", deeper)
    assert status == 400
    assert body["__type"] == "com.amazon.coral.service#SerializationException"


def test_create_table_reports_index_names_before_definitions(nimbus):
    body = {
        "TableName": "vo_ct_index_names", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "LocalSecondaryIndexes": [{"IndexName": "aa", "Projection": {"ProjectionType": "ALL"}, "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "lr", "KeyType": "RANGE"}]}],
        "GlobalSecondaryIndexes": [{"IndexName": "zz", "Projection": {"ProjectionType": "ALL"},
                                    "KeySchema": [{"AttributeName": "gh", "KeyType": "HASH"}]}],
    }
    _, reply = call(nimbus, "CreateTable", body)
    short = "failed to satisfy constraint: Member must have length greater than or equal to 3"
    assert reply["message"] == (
        f"2 validation errors detected: Value 'zz' at 'globalSecondaryIndexes.1.member.indexName' {short}; "
        f"Value 'aa' at 'localSecondaryIndexes.1.member.indexName' {short}"
    )


def test_query_limit_and_legacy_operator(nimbus, table):
    _, reply = call(nimbus, "Query", {"TableName": table, "KeyConditionExpression": "pk = :p",
                                      "ExpressionAttributeValues": {":p": {"S": "x"}}, "Limit": 0})
    assert reply["message"] == (
        "1 validation error detected: Value at 'Limit' failed to satisfy constraint: Member must have value greater "
        "than or equal to 1")
    _, reply = call(nimbus, "Query", {
        "TableName": table, "KeyConditions": {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]}},
        "QueryFilter": {"b": {"ComparisonOperator": "NULL"}, "c": {"ComparisonOperator": "NULL"}},
        "ConditionalOperator": "XOR"})
    assert reply["message"] == "Failed to satisfy constraint: Member must satisfy enum value set: [ALL, OR]"


def test_delete_item_envelope_and_expected_errors(nimbus, table):
    key = {"pk": {"S": "env"}}
    invalid = "1 validation error detected: One or more parameter values were invalid: "
    cases = [
        ({"ReturnValues": "UPDATED_NEW"}, "1 validation error detected: ReturnValues can only be ALL_OLD or NONE"),
        ({"ConditionExpression": "attribute_exists(a)", "ExpressionAttributeNames": {}},
         "1 validation error detected: ExpressionAttributeNames must not be empty"),
        ({"Expected": {"a": {"Exists": False}}, "ExpressionAttributeNames": {"#a": "a"}},
         "1 validation error detected: ExpressionAttributeNames can only be specified when using expressions"),
        ({"Expected": {"a": {"Exists": False, "Value": {"S": "x"}}}},
         invalid + "Value cannot be used when Exists is false for Attribute: a"),
        ({"Expected": {"a": {"Value": {"S": "x"}, "ComparisonOperator": "EQ", "AttributeValueList": [{"S": "x"}]}}},
         invalid + "Value and AttributeValueList cannot be used together for Attribute: a"),
        ({"Expected": {"a": {"ComparisonOperator": "EQ"}}},
         invalid + "Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: a"),
        ({"Expected": {"a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"S": "x"}]}}},
         invalid + "Invalid number of argument(s) for the BETWEEN ComparisonOperator"),
    ]
    for extra, message in cases:
        _, reply = call(nimbus, "DeleteItem", {"TableName": table, "Key": key, **extra})
        assert reply["message"] == message, extra


def test_transaction_validation_order(nimbus, table):
    rcc = ("Value 'BOGUS' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value "
           "set: [INDEXES, TOTAL, NONE]")
    token = "x" * 37
    _, reply = call(nimbus, "TransactWriteItems", {
        "TransactItems": [{"Put": {"TableName": "no-such-table", "Item": {"pk": {"S": "a"}}}}],
        "ClientRequestToken": token, "ReturnConsumedCapacity": "BOGUS"})
    assert reply["message"] == (
        f"2 validation errors detected: Value '{token}' at 'clientRequestToken' failed to satisfy constraint: Member "
        f"must have length less than or equal to 36; {rcc}")
    check = {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "cc"}},
                                "ConditionExpression": "attribute_not_exists("}}
    _, reply = call(nimbus, "TransactWriteItems", {
        "TransactItems": [{"Put": {"TableName": "no-such-table", "Item": {"pk": {"S": "a"}}}}, check]})
    assert reply["message"] == 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "("'
    unused = {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "cc"}},
                                 "ConditionExpression": "attribute_not_exists(pk)",
                                 "ExpressionAttributeValues": {":v": {"S": "x"}}}}
    _, reply = call(nimbus, "TransactWriteItems", {
        "TransactItems": [{"Put": {"TableName": table, "Item": {"pk": {"S": "cc"}}}}, unused]})
    assert reply["message"] == "Value provided in ExpressionAttributeValues unused in expressions: keys: {:v}"


def test_batch_validation_order(nimbus, table):
    rcc = ("Value 'BOGUS' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value "
           "set: [INDEXES, TOTAL, NONE]")
    ricm = ("Value 'BOGUS2' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum "
            "value set: [SIZE, NONE]")
    _, reply = call(nimbus, "BatchWriteItem", {"RequestItems": {"bad!name": [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}]},
                                               "ReturnConsumedCapacity": "BOGUS", "ReturnItemCollectionMetrics": "BOGUS2"})
    assert reply["message"] == f"2 validation errors detected: {rcc}; {ricm}"
    _, reply = call(nimbus, "BatchGetItem", {"RequestItems": {"bad!name": {"Keys": [{"pk": {"S": "a"}}]}},
                                             "ReturnConsumedCapacity": "BOGUS"})
    assert reply["message"] == (
        "2 validation errors detected: Value '{\"bad!name\":{\"Keys\":[{\"pk\":{\"S\":\"a\"}}]}}' at 'requestItems' "
        "failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal "
        "to 255, Member must have length greater than or equal to 3, Member must satisfy regular expression pattern: "
        f"[a-zA-Z0-9_.-]+]; {rcc}")


def test_transaction_actions_checked_in_order(nimbus, table):
    def deep(depth):
        value = {"S": "leaf"}
        for _ in range(depth):
            value = {"M": {"n": value}}
        return value

    nest = ("Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond "
            "supported limit")
    _, reply = call(nimbus, "TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "absent-table", "Item": {"pk": {"S": "b"}, "d": deep(40)}}},
        {"Put": {"TableName": "absent-table", "Item": {"pk": {"S": "a"}, "": {"S": "x"}}}}]})
    assert reply["message"] == nest
    _, reply = call(nimbus, "TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "absent-table", "Item": {"pk": {"S": "a"}, "": {"S": "x"}}}}]})
    assert reply["message"] == "Empty attribute name"
    _, reply = call(nimbus, "TransactWriteItems", {"TransactItems": [
        {"Delete": {"TableName": "absent-table", "Key": {"pk": deep(40)}, "ConditionExpression": "a = = b"}}]})
    assert reply["message"] == 'Invalid ConditionExpression: Syntax error; token: "=", near: "= = b"'
    update = "SET " + ", ".join(f"a{i} = :v" for i in range(500))
    _, reply = call(nimbus, "TransactWriteItems", {"TransactItems": [
        {"Update": {"TableName": "absent-table", "Key": {"pk": {"S": "a"}}, "UpdateExpression": update,
                    "ExpressionAttributeValues": {":v": {"S": "x"}}}}]})
    assert reply["message"] == "Invalid UpdateExpression: Expression size has exceeded the maximum allowed size;"


def test_conditional_operator_needs_two_conditions(nimbus, table):
    _, reply = call(nimbus, "Scan", {"TableName": table, "ConditionalOperator": "AND",
                                     "ScanFilter": {"a": {"ComparisonOperator": "NULL"}}})
    assert reply["message"] == "ConditionalOperator can only be used when Filter or Expected has two or more elements"
    _, reply = call(nimbus, "PutItem", {"TableName": table, "Item": {"pk": {"S": "x"}, "n": {"N": "10e125"}}})
    assert reply["message"] == (
        "1 validation error detected: Number overflow. Attempting to store a number with magnitude larger than "
        "supported range")


def test_empty_attributes_to_get_is_refused(nimbus, table):
    empty = "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: " \
            "Member must have length greater than or equal to 1"
    for operation, body in [
        ("GetItem", {"TableName": table, "Key": {"pk": {"S": "a"}}, "AttributesToGet": []}),
        ("Query", {"TableName": table, "KeyConditionExpression": "pk = :p",
                   "ExpressionAttributeValues": {":p": {"S": "a"}}, "AttributesToGet": []}),
        ("Scan", {"TableName": table, "AttributesToGet": []}),
    ]:
        status, reply = call(nimbus, operation, body)
        assert (status, reply["__type"].split("#")[1], reply["message"]) == (400, "ValidationException", empty)


def test_key_attribute_names_are_limited_to_255_bytes(nimbus):
    ok, long = "k" * 255, "k" * 256

    def create(name, key, defined, **extra):
        return call(nimbus, "CreateTable", {
            "TableName": name, "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": defined, "AttributeType": "S"}], **extra})

    status, reply = create("long-key-ok", ok, ok)
    assert status == 200, reply
    constraint = "failed to satisfy constraint: Member must have length less than or equal to 255"
    status, reply = create("long-key-bad", long, long)
    assert status == 400
    assert reply["message"] == (
        f"2 validation errors detected: Value '{long}' at 'attributeDefinitions.1.member.attributeName' {constraint}; "
        f"Value '{long}' at 'keySchema.1.member.attributeName' {constraint}")
    # Reported before the key schema and definitions are matched up.
    status, reply = create("long-key-bad", "short", long)
    assert reply["message"] == (
        f"1 validation error detected: Value '{long}' at 'attributeDefinitions.1.member.attributeName' {constraint}")
    status, reply = create("long-key-bad", "pk", "pk", AttributeDefinitions=[
        {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": long, "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "g", "KeySchema": [{"AttributeName": long, "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}])
    assert status == 400
    assert f"at 'globalSecondaryIndexes.1.member.keySchema.1.member.attributeName' {constraint}" in reply["message"]
    call(nimbus, "DeleteTable", {"TableName": "long-key-ok"})
