"""Secondary indexes: what writes they refuse, what reads through them return,
and how DescribeTable shows them."""

import pytest

from test_dynamodb_helpers import create_table, error_of


def key(name, kind):
    return {"AttributeName": name, "KeyType": kind}


@pytest.fixture
def indexed(ddb):
    """pk/sk table; LSI on 'b' (KEYS_ONLY), GSI on 'x' (ALL), GSI on 'b' (INCLUDE a)."""
    return create_table(
        ddb, range_key=("sk", "S"), extra_attributes={"b": "S", "x": "S"},
        LocalSecondaryIndexes=[{"IndexName": "lsi-b", "KeySchema": [key("pk", "HASH"), key("b", "RANGE")],
                                "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        GlobalSecondaryIndexes=[
            {"IndexName": "gsi-x", "KeySchema": [key("x", "HASH")], "Projection": {"ProjectionType": "ALL"}},
            {"IndexName": "gsi-b", "KeySchema": [key("b", "HASH")],
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["a"]}},
        ],
    )


ITEM = {"pk": {"S": "P"}, "sk": {"S": "1"}, "b": {"S": "B"}, "x": {"S": "X"}, "a": {"S": "A"}, "d": {"S": "D"}}


def test_index_key_writes_are_checked(ddb, indexed):
    ddb.put_item(TableName=indexed, Item=ITEM)
    base_key = {"pk": {"S": "P"}, "sk": {"S": "1"}}
    mismatch = ("ValidationException",
                "One or more parameter values were invalid: Type mismatch for Index Key x Expected: S Actual: N IndexName: gsi-x")
    assert error_of(ddb.put_item, TableName=indexed, Item={**ITEM, "sk": {"S": "2"}, "x": {"N": "3"}}) == mismatch
    assert error_of(ddb.update_item, TableName=indexed, Key=base_key,
                    AttributeUpdates={"x": {"Value": {"N": "3"}, "Action": "PUT"}}) == mismatch
    # A batch with one bad item writes none of them.
    good = {**ITEM, "sk": {"S": "3"}}
    assert error_of(ddb.batch_write_item, RequestItems={indexed: [
        {"PutRequest": {"Item": good}}, {"PutRequest": {"Item": {**ITEM, "sk": {"S": "4"}, "x": {"N": "1"}}}}]}) == mismatch
    assert "Item" not in ddb.get_item(TableName=indexed, Key={"pk": {"S": "P"}, "sk": {"S": "3"}})
    assert error_of(ddb.update_item, TableName=indexed, Key=base_key, UpdateExpression="SET x.y = :v",
                    ExpressionAttributeValues={":v": {"N": "1"}}) == (
        "ValidationException",
        "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: IndexKey: x",
    )
    assert error_of(ddb.put_item, TableName=indexed, Item={**ITEM, "x": {"S": "x" * 2049}}) == (
        "ValidationException",
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
    )
    assert error_of(ddb.put_item, TableName=indexed, Item={**ITEM, "b": {"S": "b" * 1025}})[0] == "ValidationException"
    code, message = error_of(ddb.put_item, TableName=indexed, Item={**ITEM, "x": {"S": ""}})
    assert code == "ValidationException" and "empty string" in message
    # An item without the index key is stored, just not indexed.
    ddb.put_item(TableName=indexed, Item={"pk": {"S": "P"}, "sk": {"S": "5"}})
    assert [i["sk"]["S"] for i in ddb.scan(TableName=indexed, IndexName="gsi-x")["Items"]] == ["1"]
    assert ddb.get_item(TableName=indexed, Key=base_key)["Item"] == ITEM


def test_reads_through_indexes(ddb, indexed):
    ddb.put_item(TableName=indexed, Item=ITEM)
    on_b = {"KeyConditionExpression": "pk = :p AND b = :b", "ExpressionAttributeValues": {":p": {"S": "P"}, ":b": {"S": "B"}}}
    keys_only = {k: ITEM[k] for k in ["pk", "sk", "b"]}
    assert ddb.query(TableName=indexed, IndexName="lsi-b", **on_b)["Items"] == [keys_only]
    # An LSI reads unprojected attributes from the table when asked to.
    assert ddb.query(TableName=indexed, IndexName="lsi-b", Select="ALL_ATTRIBUTES", **on_b)["Items"] == [ITEM]
    assert ddb.query(TableName=indexed, IndexName="lsi-b", ProjectionExpression="d", **on_b)["Items"] == [{"d": ITEM["d"]}]
    assert ddb.scan(TableName=indexed, IndexName="gsi-b")["Items"] == [{k: ITEM[k] for k in ["pk", "sk", "b", "a"]}]
    assert error_of(ddb.scan, TableName=indexed, IndexName="gsi-b", Select="ALL_ATTRIBUTES") == (
        "ValidationException",
        "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary "
        "index gsi-b because its projection type is not ALL",
    )
    assert error_of(ddb.scan, TableName=indexed, IndexName="gsi-x", ConsistentRead=True) == (
        "ValidationException", "Consistent reads are not supported on global secondary indexes")
    assert ddb.query(TableName=indexed, IndexName="lsi-b", ConsistentRead=True, **on_b)["Count"] == 1
    assert error_of(ddb.scan, TableName=indexed, IndexName="nope") == (
        "ValidationException", "The table does not have the specified index: nope")


def test_create_response_shows_indexes_being_created(ddb):
    from test_dynamodb_helpers import unique

    created = ddb.create_table(
        TableName=unique(), BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}],
        KeySchema=[key("pk", "HASH")],
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [key("g", "HASH")], "Projection": {"ProjectionType": "ALL"}}],
    )["TableDescription"]
    assert created["TableStatus"] == "CREATING"
    assert created["GlobalSecondaryIndexes"][0]["IndexStatus"] == "CREATING"
    ddb.get_waiter("table_exists").wait(TableName=created["TableName"], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    described = ddb.describe_table(TableName=created["TableName"])["Table"]
    assert described["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE"


def test_describe_shows_indexes(ddb, indexed):
    ddb.put_item(TableName=indexed, Item=ITEM)
    table = ddb.describe_table(TableName=indexed)["Table"]
    gsis = {g["IndexName"]: g for g in table["GlobalSecondaryIndexes"]}
    assert gsis["gsi-x"]["KeySchema"] == [key("x", "HASH")]
    assert gsis["gsi-x"]["Projection"] == {"ProjectionType": "ALL"}
    assert gsis["gsi-b"]["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["a"]}
    warm = {"ReadUnitsPerSecond": 12000, "WriteUnitsPerSecond": 4000, "Status": "ACTIVE"}
    assert table["WarmThroughput"] == warm
    for g in gsis.values():
        assert g["IndexStatus"] == "ACTIVE" and g["ItemCount"] == 1 and g["IndexSizeBytes"] > 0
        assert g["WarmThroughput"] == warm
        assert g["IndexArn"] == f"{table['TableArn']}/index/{g['IndexName']}"
    [lsi] = table["LocalSecondaryIndexes"]
    assert lsi["KeySchema"] == [key("pk", "HASH"), key("b", "RANGE")]
    assert lsi["IndexArn"] == f"{table['TableArn']}/index/lsi-b"
    assert "IndexStatus" not in lsi
    assert {a["AttributeName"] for a in table["AttributeDefinitions"]} == {"pk", "sk", "b", "x"}


def test_resource_api_with_indexes(ddb_resource):
    from boto3.dynamodb.conditions import Attr, Key

    from test_dynamodb_helpers import unique

    table = ddb_resource.create_table(
        TableName=unique(), BillingMode="PAY_PER_REQUEST",
        KeySchema=[key("user", "HASH"), key("ts", "RANGE")],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in [("user", "S"), ("ts", "N"), ("kind", "S")]],
        GlobalSecondaryIndexes=[{"IndexName": "by-kind", "KeySchema": [key("kind", "HASH"), key("ts", "RANGE")],
                                 "Projection": {"ProjectionType": "ALL"}}],
    )
    table.wait_until_exists()
    with table.batch_writer() as batch:
        for i in range(6):
            batch.put_item(Item={"user": f"u{i % 2}", "ts": i, "kind": "click" if i % 3 else "view", "n": i})
    clicks = table.query(IndexName="by-kind", KeyConditionExpression=Key("kind").eq("click") & Key("ts").gte(2),
                         FilterExpression=Attr("n").lt(5))
    assert [item["ts"] for item in clicks["Items"]] == [2, 4]
    table.reload()
    assert table.item_count == 6
    assert [g["IndexName"] for g in table.global_secondary_indexes] == ["by-kind"]
    table.delete()
