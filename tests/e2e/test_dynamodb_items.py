"""DynamoDB item operations: PutItem, GetItem, UpdateItem, DeleteItem."""

from decimal import Decimal

import pytest
from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from test_dynamodb_helpers import create_table, error_of


@pytest.fixture
def table(ddb):
    name = create_table(ddb, range_key=("sk", "N"))
    yield name
    ddb.delete_table(TableName=name)


def key(pk="a", sk="1"):
    return {"pk": {"S": pk}, "sk": {"N": sk}}


def test_put_get_round_trips_every_type(ddb, table):
    item = {
        **key(),
        "s": {"S": "héllo"},
        "empty": {"S": ""},
        "n": {"N": "-0012.500"},
        "big": {"N": "1E+125"},
        "tiny": {"N": "1e-130"},
        "b": {"B": b"\x00\x01"},
        "t": {"BOOL": True},
        "z": {"NULL": True},
        "m": {"M": {"inner": {"L": [{"N": "1"}, {"S": "x"}]}}},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.50"]},
        "bs": {"BS": [b"x", b"y"]},
    }
    ddb.put_item(TableName=table, Item=item)
    got = ddb.get_item(TableName=table, Key=key(), ConsistentRead=True)["Item"]
    assert got["n"] == {"N": "-12.5"}
    assert got["big"] == {"N": "1" + "0" * 125}
    assert got["tiny"] == {"N": "0." + "0" * 129 + "1"}
    assert got["b"] == {"B": b"\x00\x01"}
    assert got["empty"] == {"S": ""}
    assert got["m"] == item["m"]
    assert sorted(got["ns"]["NS"]) == ["1", "2.5"]
    assert sorted(got["bs"]["BS"]) == [b"x", b"y"]
    projected = ddb.get_item(
        TableName=table, Key=key(), ProjectionExpression="#m.#i[1], s", ExpressionAttributeNames={"#m": "m", "#i": "inner"}
    )["Item"]
    assert projected == {"m": {"M": {"inner": {"L": [{"S": "x"}]}}}, "s": {"S": "héllo"}}
    assert "Item" not in ddb.get_item(TableName=table, Key=key("missing"))


def test_attribute_value_validation(ddb, table):
    cases = [
        ({"x": {"SS": []}}, "One or more parameter values were invalid: An string set  may not be empty"),
        ({"x": {"SS": ["b", "a", "b"]}},
         'One or more parameter values were invalid: Input collection ["a", "b", "b"] contains duplicates.'),
        ({"x": {"N": "abc"}}, "The parameter cannot be converted to a numeric value: abc"),
        ({"x": {"N": "1e126"}}, "Number overflow. Attempting to store a number with magnitude larger than supported range"),
        ({"x": {"N": "1e-131"}}, "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
        ({"x": {"N": "1" * 39}}, "Attempting to store more than 38 significant digits in a Number"),
        ({"x": {}}, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"),
        ({"x": {"S": "a", "N": "1"}},
         "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"),
    ]
    for extra, message in cases:
        assert error_of(ddb.put_item, TableName=table, Item={**key(), **extra}) == (
            "ValidationException", "1 validation error detected: " + message)
    assert error_of(ddb.put_item, TableName=table, Item={"pk": {"S": "a"}}) == (
        "ValidationException",
        "One or more parameter values were invalid: Missing the key sk in the item",
    )
    assert error_of(ddb.put_item, TableName=table, Item={"pk": {"S": "a"}, "sk": {"S": "1"}}) == (
        "ValidationException",
        "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S",
    )
    assert error_of(ddb.put_item, TableName=table, Item=key(pk="")) == (
        "ValidationException",
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty "
        "string value. Key: pk",
    )
    assert error_of(ddb.get_item, TableName=table, Key={"pk": {"S": "a"}}) == (
        "ValidationException",
        "The provided key element does not match the schema",
    )
    assert error_of(ddb.put_item, TableName=table, Item={**key(), "big": {"S": "x" * 400 * 1024}}) == (
        "ValidationException",
        "Item size has exceeded the maximum allowed size",
    )
    assert error_of(ddb.get_item, TableName="no-such-table", Key=key()) == (
        "ResourceNotFoundException",
        "Requested resource not found",
    )


def test_conditional_writes_and_return_values(ddb, table):
    ddb.put_item(TableName=table, Item={**key(), "v": {"N": "1"}})
    with pytest.raises(ClientError) as info:
        ddb.put_item(
            TableName=table,
            Item={**key(), "v": {"N": "2"}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    err = info.value.response
    assert err["Error"] == {"Message": "The conditional request failed", "Code": "ConditionalCheckFailedException"}
    assert err["Item"] == {**key(), "v": {"N": "1"}}
    old = ddb.put_item(TableName=table, Item={**key(), "v": {"N": "3"}}, ReturnValues="ALL_OLD")
    assert old["Attributes"]["v"] == {"N": "1"}
    assert error_of(ddb.put_item, TableName=table, Item=key(), ReturnValues="ALL_NEW") == (
        "ValidationException",
        "1 validation error detected: ReturnValues can only be ALL_OLD or NONE",
    )
    deleted = ddb.delete_item(
        TableName=table,
        Key=key(),
        ConditionExpression="v = :v",
        ExpressionAttributeValues={":v": {"N": "3"}},
        ReturnValues="ALL_OLD",
        ReturnConsumedCapacity="TOTAL",
    )
    assert deleted["Attributes"]["v"] == {"N": "3"}
    assert deleted["ConsumedCapacity"]["TableName"] == table
    assert deleted["ConsumedCapacity"]["CapacityUnits"] == 1.0
    assert error_of(
        ddb.delete_item, TableName=table, Key=key(), ConditionExpression="attribute_exists(pk)"
    )[0] == "ConditionalCheckFailedException"


def test_update_expressions(ddb, table):
    ddb.put_item(
        TableName=table,
        Item={**key(), "n": {"N": "1"}, "l": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}, "tags": {"SS": ["a", "b"]}, "prev": {"SS": ["a", "b"]},
              "m": {"M": {"x": {"S": "y"}}}},
    )
    resp = ddb.update_item(
        TableName=table,
        Key=key(),
        UpdateExpression="SET n = n + :inc, l = list_append(l, :more), m.k = if_not_exists(m.k, :z), fresh = :z "
        "REMOVE m.x ADD tags :t, hits :inc DELETE prev :gone",
        ExpressionAttributeValues={
            ":inc": {"N": "0.1"},
            ":more": {"L": [{"N": "4"}]},
            ":z": {"S": "z"},
            ":t": {"SS": ["c"]},
            ":gone": {"SS": ["a"]},
        },
        ReturnValues="ALL_NEW",
    )
    got = resp["Attributes"]
    assert got["n"] == {"N": "1.1"}
    assert got["l"] == {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}, {"N": "4"}]}
    assert got["m"] == {"M": {"k": {"S": "z"}}}
    assert sorted(got["tags"]["SS"]) == ["a", "b", "c"]
    assert got["prev"] == {"SS": ["b"]}
    assert got["hits"] == {"N": "0.1"}
    updated = ddb.update_item(
        TableName=table, Key=key(), UpdateExpression="SET n = :v", ExpressionAttributeValues={":v": {"N": "5"}},
        ReturnValues="UPDATED_OLD",
    )
    assert updated["Attributes"] == {"n": {"N": "1.1"}}
    removed = ddb.update_item(TableName=table, Key=key(), UpdateExpression="REMOVE l[0], l[2]", ReturnValues="ALL_NEW")
    assert removed["Attributes"]["l"] == {"L": [{"N": "2"}, {"N": "4"}]}
    # An update of a missing item creates it.
    created = ddb.update_item(
        TableName=table, Key=key("new"), UpdateExpression="SET a = :a", ExpressionAttributeValues={":a": {"S": "x"}},
        ReturnValues="ALL_NEW",
    )
    assert created["Attributes"] == {**key("new"), "a": {"S": "x"}}


def test_update_errors(ddb, table):
    ddb.put_item(TableName=table, Item={**key(), "s": {"S": "x"}})
    cases = [
        (dict(UpdateExpression="SET pk = :v", ExpressionAttributeValues={":v": {"S": "x"}}),
         "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"),
        (dict(UpdateExpression="SET a = :v, a.b = :v", ExpressionAttributeValues={":v": {"S": "x"}}),
         "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these "
         "paths; path one: [a], path two: [a, b]"),
        (dict(UpdateExpression="SET a = :v", ExpressionAttributeValues={":v": {"S": "x"}, ":w": {"S": "y"}}),
         "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"),
        (dict(UpdateExpression="SET a = :nope", ExpressionAttributeValues={":v": {"S": "x"}}),
         "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :nope"),
        (dict(UpdateExpression="SET s = s + :v", ExpressionAttributeValues={":v": {"N": "1"}}),
         "An operand in the update expression has an incorrect data type"),
        (dict(UpdateExpression="SET q.r = :v", ExpressionAttributeValues={":v": {"N": "1"}}),
         "The document path provided in the update expression is invalid for update"),
        (dict(UpdateExpression="SET #name = :v", ExpressionAttributeValues={":v": {"N": "1"}}),
         "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; "
         "attribute name: #name"),
        (dict(UpdateExpression="SET status = :v", ExpressionAttributeValues={":v": {"N": "1"}}),
         "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status"),
        (dict(UpdateExpression="SET a = :v", ExpressionAttributeValues={":v": {"N": "1"}},
              AttributeUpdates={"a": {"Value": {"N": "1"}}}),
         "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: "
         "{AttributeUpdates} Expression parameters: {UpdateExpression}"),
    ]
    for params, message in cases:
        # Request validation is enveloped; checks against the item and schema are not.
        if not message.startswith(("One or more", "An operand", "The document path", "Attempting")):
            message = "1 validation error detected: " + message
        assert error_of(ddb.update_item, TableName=table, Key=key(), **params) == ("ValidationException", message)


def test_exact_number_arithmetic(ddb, table):
    ddb.put_item(TableName=table, Item={**key(), "n": {"N": "0.1"}})
    for _ in range(2):
        ddb.update_item(TableName=table, Key=key(), UpdateExpression="ADD n :d", ExpressionAttributeValues={":d": {"N": "0.1"}})
    assert ddb.get_item(TableName=table, Key=key())["Item"]["n"] == {"N": "0.3"}
    ddb.put_item(TableName=table, Item={**key(), "n": {"N": "99999999999999999999999999999999999999"}})
    code, message = error_of(
        ddb.update_item, TableName=table, Key=key(), UpdateExpression="SET n = n + :d",
        ExpressionAttributeValues={":d": {"N": "0.5"}},
    )
    assert code == "ValidationException"
    # AWS words an inexact sum as an overflow (1e50 + 1 answers the same).
    assert message == "Number overflow. Attempting to store a number with magnitude larger than supported range"


def test_legacy_parameters(ddb, table):
    ddb.put_item(TableName=table, Item={**key(), "v": {"N": "1"}}, Expected={"v": {"Exists": False}})
    assert error_of(ddb.put_item, TableName=table, Item=key(), Expected={"v": {"Value": {"N": "2"}}})[0] == (
        "ConditionalCheckFailedException"
    )
    ddb.update_item(
        TableName=table,
        Key=key(),
        AttributeUpdates={"v": {"Action": "ADD", "Value": {"N": "5"}}, "w": {"Action": "PUT", "Value": {"S": "x"}}},
        Expected={"v": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]}},
    )
    got = ddb.get_item(TableName=table, Key=key(), AttributesToGet=["v", "w"])["Item"]
    assert got == {"v": {"N": "6"}, "w": {"S": "x"}}
    assert error_of(ddb.put_item, TableName=table, Item=key(), Expected={"v": {"Exists": True}}) == (
        "ValidationException",
        "1 validation error detected: One or more parameter values were invalid: Value must be provided when Exists "
        "is true for Attribute: v",
    )


def test_resource_api_with_conditions(ddb_resource, table):
    t = ddb_resource.Table(table)
    t.put_item(Item={"pk": "r", "sk": 1, "price": Decimal("9.99"), "tags": {"x", "y"}, "doc": {"a": [1, "two"]}})
    item = t.get_item(Key={"pk": "r", "sk": 1})["Item"]
    assert item["price"] == Decimal("9.99")
    assert item["tags"] == {"x", "y"}
    assert item["doc"] == {"a": [Decimal(1), "two"]}
    t.update_item(
        Key={"pk": "r", "sk": 1},
        UpdateExpression="SET price = price - :d",
        ConditionExpression=Attr("price").gt(Decimal("5")) & Attr("tags").contains("x"),
        ExpressionAttributeValues={":d": Decimal("0.99")},
    )
    assert t.get_item(Key={"pk": "r", "sk": 1})["Item"]["price"] == Decimal("9")
    with pytest.raises(ClientError) as info:
        t.delete_item(Key={"pk": "r", "sk": 1}, ConditionExpression=Attr("price").lt(1) | Attr("missing").exists())
    assert info.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


def test_capacity_and_item_collection_metrics(ddb):
    name = create_table(
        ddb,
        range_key=("sk", "N"),
        extra_attributes={"g": "S", "l": "S"},
        GlobalSecondaryIndexes=[{"IndexName": "gsi", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
        LocalSecondaryIndexes=[{"IndexName": "lsi", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                                  {"AttributeName": "l", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "KEYS_ONLY"}}],
    )
    put = ddb.put_item(TableName=name, Item={**key(), "g": {"S": "x"}, "l": {"S": "y"}},
                       ReturnConsumedCapacity="INDEXES", ReturnItemCollectionMetrics="SIZE")
    assert put["ConsumedCapacity"] == {
        "TableName": name,
        "CapacityUnits": 3.0,
        "Table": {"CapacityUnits": 1.0},
        "GlobalSecondaryIndexes": {"gsi": {"CapacityUnits": 1.0}},
        "LocalSecondaryIndexes": {"lsi": {"CapacityUnits": 1.0}},
    }
    assert put["ItemCollectionMetrics"]["ItemCollectionKey"] == {"pk": {"S": "a"}}
    get = ddb.get_item(TableName=name, Key=key(), ReturnConsumedCapacity="TOTAL")
    assert get["ConsumedCapacity"] == {"TableName": name, "CapacityUnits": 0.5}
    strong = ddb.get_item(TableName=name, Key=key(), ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
    assert strong["ConsumedCapacity"]["CapacityUnits"] == 1.0
    big = ddb.put_item(TableName=name, Item={**key("b"), "data": {"S": "x" * 5000}}, ReturnConsumedCapacity="TOTAL")
    assert big["ConsumedCapacity"]["CapacityUnits"] == 5.0
    ddb.delete_table(TableName=name)


def test_table_arn_as_table_name(ddb, table):
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    ddb.put_item(TableName=arn, Item={**key("arn"), "v": {"S": "x"}})
    assert ddb.get_item(TableName=arn, Key=key("arn"))["Item"]["v"] == {"S": "x"}
    other_region = arn.replace("us-east-1", "eu-west-1")
    assert error_of(ddb.get_item, TableName=other_region, Key=key("arn"))[0] == "ResourceNotFoundException"


def test_update_item_measures_the_statement(ddb):
    # Standalone UpdateItem charges what the statement writes plus 3 for the
    # update and 19 per SET, not the key: with a 3-byte key the ceiling for a
    # finished item is 409,600 - 19.
    name = create_table(ddb)
    ceiling = 409_600 - 19

    def set_b(pk, total):
        pad = total - (2 + len(pk)) - 1
        ddb.update_item(TableName=name, Key={"pk": {"S": pk}}, UpdateExpression="SET b = :pad",
                        ExpressionAttributeValues={":pad": {"S": "x" * pad}})

    set_b("K", ceiling)
    assert error_of(set_b, "L", ceiling + 1) == (
        "ValidationException", "Item size to update has exceeded the maximum allowed size")
    # A put is measured flat: the same item one byte past the update ceiling is fine.
    ddb.put_item(TableName=name, Item={"pk": {"S": "M"}, "b": {"S": "x" * (ceiling + 1 - 4)}})
    ddb.delete_table(TableName=name)


def test_update_that_only_removes_does_not_create_the_item(ddb, table):
    # AWS documents that DELETE on a missing item does nothing; REMOVE and
    # set-member DELETE behave alike. An update that writes anything (or
    # nothing at all) still creates the item.
    removals = [
        {"AttributeUpdates": {"gone": {"Action": "DELETE"}}},
        {"AttributeUpdates": {"tags": {"Action": "DELETE", "Value": {"SS": ["x"]}}}},
        {"UpdateExpression": "REMOVE gone"},
        {"UpdateExpression": "DELETE tags :t", "ExpressionAttributeValues": {":t": {"SS": ["x"]}}},
    ]
    for n, params in enumerate(removals):
        reply = ddb.update_item(TableName=table, Key=key("ghost", str(n)), ReturnValues="ALL_NEW", **params)
        assert "Attributes" not in reply
        assert "Item" not in ddb.get_item(TableName=table, Key=key("ghost", str(n)), ConsistentRead=True)
    ddb.update_item(TableName=table, Key=key("bare", "1"))
    ddb.update_item(TableName=table, Key=key("bare", "2"), AttributeUpdates={})
    ddb.update_item(TableName=table, Key=key("bare", "3"), AttributeUpdates={"n": {"Action": "ADD", "Value": {"N": "2"}}})
    for sk, extra in [("1", {}), ("2", {}), ("3", {"n": {"N": "2"}})]:
        assert ddb.get_item(TableName=table, Key=key("bare", sk), ConsistentRead=True)["Item"] == {**key("bare", sk), **extra}


def test_attribute_updates_type_mismatch(ddb, table):
    mismatch = ("ValidationException",
                "One or more parameter values were invalid: Type mismatch for attribute to update")
    cases = [
        ({"NS": ["1"]}, "ADD", {"SS": ["a"]}),
        ({"SS": ["dog"]}, "ADD", {"N": "2"}),
        ({"SS": ["dog"]}, "ADD", {"L": [{"S": "cat"}]}),
        ({"L": [{"S": "dog"}]}, "ADD", {"SS": ["cat"]}),
        ({"N": "2"}, "ADD", {"L": [{"S": "dog"}]}),
        ({"S": "dog"}, "DELETE", {"SS": ["dog"]}),
        ({"NS": ["1", "2"]}, "DELETE", {"SS": ["1"]}),
    ]
    for stored, action, value in cases:
        ddb.put_item(TableName=table, Item={**key("mm"), "a": stored})
        params = {"AttributeUpdates": {"a": {"Action": action, "Value": value}}}
        assert error_of(ddb.update_item, TableName=table, Key=key("mm"), **params) == mismatch, (stored, value)
    # A list ADD appends, and starts a missing attribute as an empty list.
    ddb.put_item(TableName=table, Item={**key("mm"), "a": {"L": [{"N": "1"}]}})
    ddb.update_item(TableName=table, Key=key("mm"), AttributeUpdates={
        "a": {"Action": "ADD", "Value": {"L": [{"N": "1"}, {"S": "x"}]}},
        "b": {"Action": "ADD", "Value": {"L": [{"BOOL": True}]}},
    })
    got = ddb.get_item(TableName=table, Key=key("mm"), ConsistentRead=True)["Item"]
    assert got["a"] == {"L": [{"N": "1"}, {"N": "1"}, {"S": "x"}]}
    assert got["b"] == {"L": [{"BOOL": True}]}


def test_attribute_names_are_limited_to_65535_bytes(ddb, table):
    longest = "n" * 65_535
    too_long = longest + "n"
    ddb.put_item(TableName=table, Item={**key("names"), longest: {"N": "1"}, "doc": {"M": {longest: {"N": "2"}}}})
    got = ddb.get_item(TableName=table, Key=key("names"), ProjectionExpression="#n",
                       ExpressionAttributeNames={"#n": longest})["Item"]
    assert got == {longest: {"N": "1"}}
    ddb.update_item(TableName=table, Key=key("names"), UpdateExpression="SET #n = #n + :one",
                    ExpressionAttributeNames={"#n": longest}, ExpressionAttributeValues={":one": {"N": "1"}})
    message = "Attribute name is too large, must be less than 65536 bytes"
    enveloped = ("ValidationException", "1 validation error detected: " + message)
    assert error_of(ddb.put_item, TableName=table, Item={**key("names"), too_long: {"N": "1"}}) == enveloped
    assert error_of(ddb.put_item, TableName=table,
                    Item={**key("names"), "doc": {"M": {too_long: {"N": "1"}}}}) == enveloped
    assert error_of(ddb.update_item, TableName=table, Key=key("names"), UpdateExpression="SET #n = :v",
                    ExpressionAttributeNames={"#n": too_long}, ExpressionAttributeValues={":v": {"N": "1"}}) == enveloped
    assert error_of(ddb.update_item, TableName=table, Key=key("names"),
                    AttributeUpdates={too_long: {"Action": "PUT", "Value": {"N": "1"}}}) == enveloped
    assert error_of(ddb.get_item, TableName=table, Key=key("names"), ProjectionExpression="#n",
                    ExpressionAttributeNames={"#n": too_long}) == ("ValidationException", message)
    assert error_of(ddb.get_item, TableName=table, Key=key("names"),
                    AttributesToGet=[too_long]) == ("ValidationException", message)


def test_expression_operator_and_nesting_limits(ddb, table):
    ddb.put_item(TableName=table, Item={**key("deep"), "a": {"N": "1"}, "b": {"N": "2"}})

    def condition(expr):
        return ddb.update_item(TableName=table, Key=key("deep"), UpdateExpression="SET z = :one",
                               ConditionExpression=expr, ExpressionAttributeValues={":one": {"N": "1"}})

    # 149 nested ORs hold 299 operators; 298 NOTs before a comparison, 299.
    condition("a<b " + "OR (a<b " * 149 + ")" * 149)
    condition("NOT " * 298 + "a<b")
    too_many = ("ValidationException", "1 validation error detected: Invalid ConditionExpression: The expression "
                "contains too many operators; operator count: 301")
    assert error_of(condition, "a<b " + "OR (a<b " * 454 + ")" * 454) == too_many
    assert error_of(condition, "NOT " * 1000 + "a<b") == too_many
    assert error_of(condition, "a<b " + "OR a<b " * 584) == too_many
    assert error_of(condition, "(" * 2046 + "a<b" + ")" * 2046) == (
        "ValidationException",
        "1 validation error detected: Invalid ConditionExpression: The expression has redundant parentheses;")
    # Longer than 4 KB: refused by size before anything else.
    assert error_of(condition, "(" * 15000) == (
        "ValidationException", "1 validation error detected: Invalid ConditionExpression: Expression size has "
        "exceeded the maximum allowed size; expression size: 15000")
