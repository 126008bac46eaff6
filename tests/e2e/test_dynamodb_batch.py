"""DynamoDB BatchGetItem, BatchWriteItem, TransactWriteItems, TransactGetItems."""

import threading

import pytest
from botocore.exceptions import ClientError

from test_dynamodb_helpers import create_table, error_of, unique


@pytest.fixture
def table(ddb):
    name = create_table(ddb, range_key=("sk", "N"))
    yield name
    ddb.delete_table(TableName=name)


def key(i, pk="k"):
    return {"pk": {"S": pk}, "sk": {"N": str(i)}}


def test_batch_write_and_get(ddb, table):
    resp = ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {**key(i), "v": {"N": str(i)}}}} for i in range(25)]})
    assert resp["UnprocessedItems"] == {}
    got = ddb.batch_get_item(RequestItems={table: {"Keys": [key(i) for i in range(0, 25, 5)], "ProjectionExpression": "v"}})
    assert sorted(int(i["v"]["N"]) for i in got["Responses"][table]) == [0, 5, 10, 15, 20]
    assert got["UnprocessedKeys"] == {}
    ddb.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": key(i)}} for i in range(10)]})
    assert ddb.scan(TableName=table, Select="COUNT")["Count"] == 15
    code, message = error_of(ddb.batch_write_item, RequestItems={table: [{"PutRequest": {"Item": key(i)}} for i in range(26)]})
    assert code == "ValidationException"
    assert "Member must have length less than or equal to 25" in message
    assert error_of(ddb.batch_get_item, RequestItems={table: {"Keys": [key(1), key(1)]}}) == (
        "ValidationException", "Provided list of item keys contains duplicates")
    assert error_of(ddb.batch_get_item, RequestItems={table: {"Keys": [key(i) for i in range(101)]}}) == (
        "ValidationException",
        f"1 validation error detected: Value at 'RequestItems.{table}.member.Keys' failed to satisfy constraint: "
        "Member must have length less than or equal to 100")
    assert error_of(ddb.batch_get_item, RequestItems={"no-such-table": {"Keys": [key(1)]}}) == (
        "ResourceNotFoundException", "Requested resource not found")
    assert error_of(ddb.batch_write_item, RequestItems={table: [{"PutRequest": {"Item": {"pk": {"N": "1"}, "sk": {"N": "1"}}}}]}) == (
        "ValidationException", "The provided key element does not match the schema")
    assert error_of(ddb.batch_write_item, RequestItems={table: [{"PutRequest": {"Item": key(1)}},
                                                               {"DeleteRequest": {"Key": key(1)}}]}) == (
        "ValidationException", "Provided list of item keys contains duplicates")


def test_resource_batch_writer(ddb_resource, table):
    t = ddb_resource.Table(table)
    with t.batch_writer() as batch:
        for i in range(60):
            batch.put_item(Item={"pk": "bw", "sk": i})
    assert t.query(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": "bw"}, Select="COUNT")["Count"] == 60


def test_transact_write_commits_all_or_nothing(ddb, table):
    ddb.put_item(TableName=table, Item={**key(1), "n": {"N": "1"}})
    ddb.put_item(TableName=table, Item={**key(2), "n": {"N": "1"}})
    with pytest.raises(ClientError) as info:
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": key(1), "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"ConditionCheck": {"TableName": table, "Key": key(2), "ConditionExpression": "n = :five",
                                "ExpressionAttributeValues": {":five": {"N": "5"}},
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Put": {"TableName": table, "Item": key(3)}},
        ])
    err = info.value.response
    assert err["Error"]["Code"] == "TransactionCanceledException"
    assert err["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, None]")
    reasons = err["CancellationReasons"]
    assert reasons[0] == {"Code": "None"}
    assert reasons[1]["Code"] == "ConditionalCheckFailed"
    assert reasons[1]["Message"] == "The conditional request failed"
    assert reasons[1]["Item"] == {**key(2), "n": {"N": "1"}}
    assert ddb.get_item(TableName=table, Key=key(1))["Item"]["n"] == {"N": "1"}
    assert "Item" not in ddb.get_item(TableName=table, Key=key(3))
    done = ddb.transact_write_items(
        TransactItems=[
            {"Update": {"TableName": table, "Key": key(1), "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Delete": {"TableName": table, "Key": key(2)}},
            {"Put": {"TableName": table, "Item": key(3), "ConditionExpression": "attribute_not_exists(pk)"}},
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    assert done["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 6.0}]
    got = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key(i)}} for i in (1, 2, 3)])
    assert [r.get("Item") for r in got["Responses"]] == [{**key(1), "n": {"N": "2"}}, None, key(3)]
    assert error_of(ddb.transact_write_items, TransactItems=[
        {"Delete": {"TableName": table, "Key": key(1)}}, {"Delete": {"TableName": table, "Key": key(1)}}]) == (
        "ValidationException", "Transaction request cannot include multiple operations on one item")


def test_client_request_token_is_idempotent(ddb, table):
    items = [{"Update": {"TableName": table, "Key": key(7), "UpdateExpression": "ADD n :one",
                         "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    token = unique("tok")
    for _ in range(3):
        ddb.transact_write_items(TransactItems=items, ClientRequestToken=token)
    assert ddb.get_item(TableName=table, Key=key(7))["Item"]["n"] == {"N": "1"}
    code, _ = error_of(ddb.transact_write_items, TransactItems=[{"Delete": {"TableName": table, "Key": key(7)}}],
                       ClientRequestToken=token)
    assert code == "IdempotentParameterMismatchException"


def test_concurrent_conditional_updates_lose_nothing(nimbus, table):
    import boto3

    def worker():
        c = boto3.client("dynamodb", endpoint_url=nimbus.endpoint, region_name=nimbus.region,
                         aws_access_key_id="test", aws_secret_access_key="test")
        for _ in range(20):
            c.update_item(TableName=table, Key=key(0, "ctr"), UpdateExpression="ADD n :one",
                          ExpressionAttributeValues={":one": {"N": "1"}})

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c = boto3.client("dynamodb", endpoint_url=nimbus.endpoint, region_name=nimbus.region,
                     aws_access_key_id="test", aws_secret_access_key="test")
    assert c.get_item(TableName=table, Key=key(0, "ctr"), ConsistentRead=True)["Item"]["n"] == {"N": "160"}


def test_transaction_key_type_errors_cancel(ddb, table):
    with pytest.raises(ClientError) as info:
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"N": "5"}, "sk": {"N": "1"}}}}])
    err = info.value.response
    assert err["Error"]["Code"] == "TransactionCanceledException"
    assert err["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons [ValidationError]")
    assert err["CancellationReasons"] == [{
        "Code": "ValidationError",
        "Message": "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N",
    }]
    with pytest.raises(ClientError) as info:
        ddb.transact_write_items(TransactItems=[{"Delete": {"TableName": table, "Key": {"pk": {"N": "5"}, "sk": {"N": "1"}}}}])
    assert info.value.response["CancellationReasons"][0]["Message"] == "The provided key element does not match the schema"
    assert error_of(ddb.transact_write_items, TransactItems=[
        {"Delete": {"TableName": table, "Key": {"pk": {"S": ""}, "sk": {"N": "1"}}}}]) == (
        "ValidationException",
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty "
        "string value. Key: pk",
    )


def test_transact_get_errors(ddb, table):
    with pytest.raises(ClientError) as info:
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": {"pk": {"S": "k"}}}}])
    err = info.value.response
    assert err["Error"]["Code"] == "TransactionCanceledException"
    assert err["CancellationReasons"] == [
        {"Code": "ValidationError", "Message": "The provided key element does not match the schema"}]
    assert error_of(ddb.transact_get_items, TransactItems=[
        {"Get": {"TableName": table, "Key": key(1), "ProjectionExpression": "!!!"}}]) == (
        "ValidationException", 'Invalid ProjectionExpression: Syntax error; token: "!", near: "!!"')


def test_batch_get_returns_unprocessed_keys_past_16_mb(ddb, table):
    """BatchGetItem returns at most 16 MB; the keys past it come back as
    UnprocessedKeys, with their table's other request members, for a retry."""
    big = "x" * (390 * 1024)
    for i in range(45):  # 45 items of ~390 KB: about 17.1 MB
        ddb.put_item(TableName=table, Item={**key(i), "blob": {"S": big}, "n": {"N": str(i)}})
    request = {table: {"Keys": [key(i) for i in range(45)], "ConsistentRead": True,
                       "ProjectionExpression": "#n, #b", "ExpressionAttributeNames": {"#n": "n", "#b": "blob"}}}
    got = ddb.batch_get_item(RequestItems=request)
    first = got["Responses"][table]
    assert 0 < len(first) < 45
    assert sum(len(i["blob"]["S"]) for i in first) <= 16 * 1024 * 1024
    rest = got["UnprocessedKeys"][table]
    assert rest["ConsistentRead"] is True and rest["ProjectionExpression"] == "#n, #b"
    assert rest["ExpressionAttributeNames"] == {"#n": "n", "#b": "blob"}
    assert len(rest["Keys"]) == 45 - len(first)
    again = ddb.batch_get_item(RequestItems=got["UnprocessedKeys"])
    assert again["UnprocessedKeys"] == {}
    numbers = sorted(int(i["n"]["N"]) for i in first + again["Responses"][table])
    assert numbers == list(range(45))


def test_batch_get_counts_keys_across_tables(ddb, table):
    other = create_table(ddb, range_key=("sk", "N"))
    try:
        request = {table: {"Keys": [key(i) for i in range(60)]}, other: {"Keys": [key(i) for i in range(41)]}}
        assert error_of(ddb.batch_get_item, RequestItems=request) == (
            "ValidationException", "Too many items requested for the BatchGetItem call")
    finally:
        ddb.delete_table(TableName=other)


def test_only_the_first_invalid_action_is_reported(ddb, table):
    # Actions are validated before any runs: the first invalid one is the
    # reason, and the rest (even a false condition) report None.
    with pytest.raises(ClientError) as info:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "ok"}, "sk": {"N": "1"}},
                     "ConditionExpression": "attribute_exists(pk)"}},
            {"Put": {"TableName": table, "Item": {"pk": {"N": "7"}, "sk": {"N": "1"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"N": "8"}, "sk": {"N": "1"}}}},
        ])
    err = info.value.response
    assert err["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ValidationError, None]")
    assert err["CancellationReasons"] == [
        {"Code": "None"},
        {"Code": "ValidationError",
         "Message": "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"},
        {"Code": "None"},
    ]


def test_transaction_payload_is_limited_to_4_mb(ddb, table):
    blob = {"S": "x" * 100_000}
    puts = [{"Put": {"TableName": table, "Item": {**key(1000 + i), "blob": blob}}} for i in range(45)]
    assert error_of(ddb.transact_write_items, TransactItems=puts) == (
        "ValidationException", "The transaction payload size cannot exceed 4 MB")
    assert "Item" not in ddb.get_item(TableName=table, Key=key(1000), ConsistentRead=True)
    # 3 MB goes through; deleting it all in one transaction sends only keys.
    ddb.transact_write_items(TransactItems=puts[:30])
    ddb.transact_write_items(TransactItems=[{"Delete": {"TableName": table, "Key": key(1000 + i)}} for i in range(30)])
    assert "Item" not in ddb.get_item(TableName=table, Key=key(1000), ConsistentRead=True)


def test_batch_and_transaction_item_collection_metrics(ddb):
    # Only tables with a local secondary index have item collections.
    with_lsi = create_table(
        ddb, range_key=("sk", "N"), extra_attributes={"l": "S"},
        LocalSecondaryIndexes=[{"IndexName": "by-l", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                                   {"AttributeName": "l", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    plain = create_table(ddb, range_key=("sk", "N"))
    collection = {"ItemCollectionKey": {"pk": {"S": "k"}}, "SizeEstimateRangeGB": [0.0, 1.0]}
    reply = ddb.batch_write_item(ReturnItemCollectionMetrics="SIZE", RequestItems={
        with_lsi: [{"PutRequest": {"Item": key(1)}}, {"PutRequest": {"Item": key(2)}},
                   {"DeleteRequest": {"Key": key(3, pk="other")}}],
        plain: [{"PutRequest": {"Item": key(1)}}],
    })
    assert reply["ItemCollectionMetrics"] == {with_lsi: [
        collection, {"ItemCollectionKey": {"pk": {"S": "other"}}, "SizeEstimateRangeGB": [0.0, 1.0]}]}
    assert "ItemCollectionMetrics" not in ddb.batch_write_item(RequestItems={with_lsi: [{"PutRequest": {"Item": key(4)}}]})
    reply = ddb.transact_write_items(ReturnItemCollectionMetrics="SIZE", TransactItems=[
        {"Update": {"TableName": with_lsi, "Key": key(1), "UpdateExpression": "SET l = :l",
                    "ExpressionAttributeValues": {":l": {"S": "x"}}}},
        {"ConditionCheck": {"TableName": with_lsi, "Key": key(9, pk="checked"),
                            "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Put": {"TableName": plain, "Item": key(5)}},
    ])
    assert reply["ItemCollectionMetrics"] == {with_lsi: [collection]}
    ddb.delete_table(TableName=with_lsi)
    ddb.delete_table(TableName=plain)
