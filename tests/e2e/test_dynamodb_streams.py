"""DynamoDB Streams against Nimbus: boto3's `dynamodbstreams` client and
`aws dynamodbstreams`, reading the records that item writes leave."""

import json
import signal
import time

import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config

from conftest import Server, make_client
from test_dynamodb_helpers import create_table, error_of, unique

VIEW_TYPES = ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]


@pytest.fixture
def streams(client):
    return client("dynamodbstreams")


def stream_table(ddb, view_type="NEW_AND_OLD_IMAGES", **extra):
    """A table (pk S, sk N) with a stream; its name and stream ARN."""
    name = create_table(
        ddb,
        range_key=("sk", "N"),
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view_type},
        **extra,
    )
    table = ddb.describe_table(TableName=name)["Table"]
    return name, table["LatestStreamArn"]


def shard_of(streams, arn):
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    assert len(shards) == 1
    return shards[0]["ShardId"]


def iterator(streams, arn, kind="TRIM_HORIZON", **extra):
    return streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_of(streams, arn), ShardIteratorType=kind, **extra
    )["ShardIterator"]


def read(streams, it, limit=1000):
    """Every record from `it` on, following NextShardIterator until a page is empty."""
    out = []
    while it:
        page = streams.get_records(ShardIterator=it, Limit=limit)
        out.extend(page["Records"])
        if not page["Records"]:
            break
        it = page.get("NextShardIterator")
    return out


def plain(image):
    d = TypeDeserializer()
    return {k: d.deserialize(v) for k, v in image.items()}


def summary(records):
    """(eventName, Keys, OldImage, NewImage) of each record, as Python values."""
    return [
        (
            r["eventName"],
            plain(r["dynamodb"]["Keys"]),
            plain(r["dynamodb"]["OldImage"]) if "OldImage" in r["dynamodb"] else None,
            plain(r["dynamodb"]["NewImage"]) if "NewImage" in r["dynamodb"] else None,
        )
        for r in records
    ]


def expect_images(view_type, events):
    """The summary a stream of `view_type` shows for (name, keys, old, new) events."""
    keep_old = view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")
    keep_new = view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
    return [(n, k, o if keep_old else None, nw if keep_new else None) for n, k, o, nw in events]


@pytest.mark.parametrize("view_type", VIEW_TYPES)
def test_single_item_writes_per_view_type(ddb, streams, nimbus, view_type):
    name, arn = stream_table(ddb, view_type)
    key = {"pk": "a", "sk": 1}
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "one"}})
    ddb.update_item(
        TableName=name,
        Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
        UpdateExpression="SET v = :v, w = :w",
        ExpressionAttributeValues={":v": {"S": "two"}, ":w": {"N": "5"}},
    )
    ddb.delete_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})
    # An UpdateItem that creates the item is an INSERT too.
    ddb.update_item(
        TableName=name,
        Key={"pk": {"S": "b"}, "sk": {"N": "2"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"S": "new"}},
    )
    records = read(streams, iterator(streams, arn))
    first = {**key, "v": "one"}
    second = {**key, "v": "two", "w": 5}
    b = {"pk": "b", "sk": 2}
    assert summary(records) == expect_images(
        view_type,
        [
            ("INSERT", key, None, first),
            ("MODIFY", key, first, second),
            ("REMOVE", key, second, None),
            ("INSERT", b, None, {**b, "v": "new"}),
        ],
    )
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == sorted(sequence) and len(set(sequence)) == 4
    for r in records:
        assert r["eventSource"] == "aws:dynamodb"
        assert r["eventVersion"] == "1.1"
        assert r["awsRegion"] == nimbus.region
        assert len(r["eventID"]) >= 32
        assert "userIdentity" not in r
        body = r["dynamodb"]
        assert body["StreamViewType"] == view_type
        assert body["SequenceNumber"].isdecimal() and len(body["SequenceNumber"]) >= 21
        assert body["SizeBytes"] > 0
        assert abs(body["ApproximateCreationDateTime"].timestamp() - time.time()) < 120
    assert len({r["eventID"] for r in records}) == 4


def test_batch_and_transaction_writes(ddb, streams):
    name, arn = stream_table(ddb, "NEW_AND_OLD_IMAGES")
    ddb.put_item(TableName=name, Item={"pk": {"S": "old"}, "sk": {"N": "0"}})
    ddb.batch_write_item(
        RequestItems={
            name: [
                {"PutRequest": {"Item": {"pk": {"S": "x"}, "sk": {"N": "1"}}}},
                {"PutRequest": {"Item": {"pk": {"S": "y"}, "sk": {"N": "1"}, "n": {"N": "1"}}}},
                {"DeleteRequest": {"Key": {"pk": {"S": "old"}, "sk": {"N": "0"}}}},
            ]
        }
    )
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": {"S": "z"}, "sk": {"N": "1"}}}},
            {
                "Update": {
                    "TableName": name,
                    "Key": {"pk": {"S": "y"}, "sk": {"N": "1"}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {"Delete": {"TableName": name, "Key": {"pk": {"S": "x"}, "sk": {"N": "1"}}}},
        ]
    )
    # A cancelled transaction leaves no record.
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {"pk": {"S": "never"}, "sk": {"N": "1"}}}},
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": {"pk": {"S": "y"}, "sk": {"N": "1"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    got = summary(read(streams, iterator(streams, arn)))
    assert got[0] == ("INSERT", {"pk": "old", "sk": 0}, None, {"pk": "old", "sk": 0})
    # Items of one request: each its own record; order within an item holds.
    assert sorted(got[1:4], key=repr) == sorted(
        [
            ("INSERT", {"pk": "x", "sk": 1}, None, {"pk": "x", "sk": 1}),
            ("INSERT", {"pk": "y", "sk": 1}, None, {"pk": "y", "sk": 1, "n": 1}),
            ("REMOVE", {"pk": "old", "sk": 0}, {"pk": "old", "sk": 0}, None),
        ],
        key=repr,
    )
    assert sorted(got[4:], key=repr) == sorted(
        [
            ("INSERT", {"pk": "z", "sk": 1}, None, {"pk": "z", "sk": 1}),
            ("MODIFY", {"pk": "y", "sk": 1}, {"pk": "y", "sk": 1, "n": 1}, {"pk": "y", "sk": 1, "n": 2}),
            ("REMOVE", {"pk": "x", "sk": 1}, {"pk": "x", "sk": 1}, None),
        ],
        key=repr,
    )


def test_writes_that_change_nothing_leave_no_record(ddb, streams):
    name, arn = stream_table(ddb, "NEW_AND_OLD_IMAGES")
    item = {"pk": {"S": "k"}, "sk": {"N": "1"}, "tags": {"SS": ["a", "b"]}}
    key = {"pk": {"S": "k"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=name, Item=item)
    latest = iterator(streams, arn, "LATEST")
    ddb.put_item(TableName=name, Item={**item, "tags": {"SS": ["b", "a"]}})
    ddb.update_item(
        TableName=name, Key=key, UpdateExpression="SET tags = :t", ExpressionAttributeValues={":t": {"SS": ["a", "b"]}}
    )
    ddb.update_item(TableName=name, Key=key, UpdateExpression="REMOVE gone")
    ddb.delete_item(TableName=name, Key={"pk": {"S": "absent"}, "sk": {"N": "1"}})
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName=name, Item={**item, "x": {"S": "y"}}, ConditionExpression="attribute_not_exists(pk)")
    ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": item}}]})
    page = streams.get_records(ShardIterator=latest)
    assert page["Records"] == []
    assert "NextShardIterator" in page
    # The next real change is the first record after them.
    ddb.put_item(TableName=name, Item={**item, "x": {"S": "y"}})
    assert [r["eventName"] for r in read(streams, page["NextShardIterator"])] == ["MODIFY"]


def test_iterator_types_resume_exactly(ddb, streams):
    name, arn = stream_table(ddb, "KEYS_ONLY")
    for i in range(3):
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(i)}})
    latest = iterator(streams, arn, "LATEST")
    for i in range(3, 5):
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(i)}})
    everything = read(streams, iterator(streams, arn, "TRIM_HORIZON"))
    assert [plain(r["dynamodb"]["Keys"])["sk"] for r in everything] == [0, 1, 2, 3, 4]
    assert [plain(r["dynamodb"]["Keys"])["sk"] for r in read(streams, latest)] == [3, 4]
    seq = [r["dynamodb"]["SequenceNumber"] for r in everything]
    at = read(streams, iterator(streams, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=seq[2]))
    assert [r["dynamodb"]["SequenceNumber"] for r in at] == seq[2:]
    after = read(streams, iterator(streams, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=seq[2]))
    assert [r["dynamodb"]["SequenceNumber"] for r in after] == seq[3:]
    assert read(streams, iterator(streams, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=seq[4])) == []


def test_limit_and_next_shard_iterator_paging(ddb, streams):
    name, arn = stream_table(ddb, "NEW_IMAGE")
    for i in range(5):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"item{i}"}, "sk": {"N": "0"}})
    it = iterator(streams, arn)
    sizes, seen = [], []
    for _ in range(4):
        page = streams.get_records(ShardIterator=it, Limit=2)
        sizes.append(len(page["Records"]))
        seen += [plain(r["dynamodb"]["Keys"])["pk"] for r in page["Records"]]
        it = page["NextShardIterator"]
    assert sizes == [2, 2, 1, 0]
    assert seen == [f"item{i}" for i in range(5)]
    # The iterator of an empty page picks up later writes.
    ddb.put_item(TableName=name, Item={"pk": {"S": "late"}, "sk": {"N": "0"}})
    assert [plain(r["dynamodb"]["Keys"])["pk"] for r in streams.get_records(ShardIterator=it)["Records"]] == ["late"]
    # The same iterator can be read again.
    assert len(streams.get_records(ShardIterator=it)["Records"]) == 1


def test_get_records_returns_at_most_one_megabyte(ddb, streams):
    name, arn = stream_table(ddb, "NEW_IMAGE")
    # Four 300 KB items: three records fit in 1 MB, the fourth waits for the next call.
    for i in range(4):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"big{i}"}, "sk": {"N": "0"}, "blob": {"S": "x" * 300_000}})
    first = streams.get_records(ShardIterator=iterator(streams, arn))
    assert len(first["Records"]) == 3
    assert sum(r["dynamodb"]["SizeBytes"] for r in first["Records"]) <= 1024 * 1024
    rest = streams.get_records(ShardIterator=first["NextShardIterator"])
    assert [plain(r["dynamodb"]["Keys"])["pk"] for r in rest["Records"]] == ["big3"]


def test_time_to_live_deletions_name_dynamodb_as_the_user(ddb, streams):
    name, arn = stream_table(ddb, "NEW_AND_OLD_IMAGES")
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    expired = str(int(time.time()) - 60)
    item = {"pk": {"S": "ttl"}, "sk": {"N": "1"}, "expires": {"N": expired}}
    ddb.put_item(TableName=name, Item=item)
    it = iterator(streams, arn, "LATEST")
    deadline = time.time() + 30
    records = []
    while not records and time.time() < deadline:
        page = streams.get_records(ShardIterator=it)
        records, it = page["Records"], page["NextShardIterator"]
        time.sleep(0.5)
    [record] = records
    assert record["eventName"] == "REMOVE"
    assert record["userIdentity"] == {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
    assert plain(record["dynamodb"]["OldImage"]) == {"pk": "ttl", "sk": 1, "expires": int(expired)}
    assert "NewImage" not in record["dynamodb"]


def test_list_and_describe_streams(ddb, streams, nimbus):
    name, arn = stream_table(ddb, "NEW_AND_OLD_IMAGES")
    other, other_arn = stream_table(ddb, "KEYS_ONLY")
    table = ddb.describe_table(TableName=name)["Table"]
    label = table["LatestStreamLabel"]
    assert arn == f"{table['TableArn']}/stream/{label}"
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}

    assert streams.list_streams(TableName=name)["Streams"] == [{"StreamArn": arn, "TableName": name, "StreamLabel": label}]
    assert streams.list_streams(TableName=create_table(ddb))["Streams"] == []
    # Paging one stream at a time reaches both.
    found, start = [], {}
    while True:
        page = streams.list_streams(Limit=1, **start)
        assert len(page["Streams"]) <= 1
        found += [s["StreamArn"] for s in page["Streams"]]
        if "LastEvaluatedStreamArn" not in page:
            break
        assert page["LastEvaluatedStreamArn"] == page["Streams"][-1]["StreamArn"]
        start = {"ExclusiveStartStreamArn": page["LastEvaluatedStreamArn"]}
    assert arn in found and other_arn in found and len(found) == len(set(found))

    desc = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert desc["StreamArn"] == arn
    assert desc["StreamLabel"] == label
    assert desc["StreamStatus"] == "ENABLED"
    assert desc["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert desc["TableName"] == name
    assert desc["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert abs(desc["CreationRequestDateTime"].timestamp() - time.time()) < 120
    assert "LastEvaluatedShardId" not in desc
    [shard] = desc["Shards"]
    assert shard["ShardId"].startswith("shardId-") and 28 <= len(shard["ShardId"]) <= 65
    assert "ParentShardId" not in shard
    start_seq = shard["SequenceNumberRange"]["StartingSequenceNumber"]
    assert start_seq.isdecimal() and "EndingSequenceNumber" not in shard["SequenceNumberRange"]
    # Paging past the only shard gives an empty page.
    page = streams.describe_stream(StreamArn=arn, ExclusiveStartShardId=shard["ShardId"])["StreamDescription"]
    assert page["Shards"] == []
    # Reading from the starting sequence number works, and records follow it.
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
    records = read(streams, iterator(streams, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=start_seq))
    assert len(records) == 1 and int(records[0]["dynamodb"]["SequenceNumber"]) >= int(start_seq)


def test_disable_and_reenable(ddb, streams):
    name, first = stream_table(ddb, "NEW_IMAGE")
    ddb.put_item(TableName=name, Item={"pk": {"S": "before"}, "sk": {"N": "1"}})
    assert error_of(
        ddb.update_table, TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    ) == ("ValidationException", f"Table already has an enabled stream: TableName: {name}")
    # The view type of an enabled stream cannot change either.
    code, message = error_of(
        ddb.update_table, TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    )
    assert code == "ValidationException" and "already has an enabled stream" in message

    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["LatestStreamArn"] == first
    ddb.put_item(TableName=name, Item={"pk": {"S": "while-off"}, "sk": {"N": "1"}})
    code, _ = error_of(ddb.update_table, TableName=name, StreamSpecification={"StreamEnabled": False})
    assert code == "ValidationException"
    desc = streams.describe_stream(StreamArn=first)["StreamDescription"]
    assert desc["StreamStatus"] == "DISABLED"
    [shard] = desc["Shards"]
    # The closed shard ends at its last record, and still reads.
    page = streams.get_records(ShardIterator=iterator(streams, first))
    assert [plain(r["dynamodb"]["Keys"])["pk"] for r in page["Records"]] == ["before"]
    assert shard["SequenceNumberRange"]["EndingSequenceNumber"] == page["Records"][-1]["dynamodb"]["SequenceNumber"]
    # Read to its end, a closed shard gives no next iterator.
    assert "NextShardIterator" not in page

    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    table = ddb.describe_table(TableName=name)["Table"]
    second = table["LatestStreamArn"]
    assert second != first and table["LatestStreamLabel"] != desc["StreamLabel"]
    ddb.put_item(TableName=name, Item={"pk": {"S": "after"}, "sk": {"N": "1"}})
    new_records = read(streams, iterator(streams, second))
    assert [(r["eventName"], plain(r["dynamodb"]["Keys"])["pk"]) for r in new_records] == [("INSERT", "after")]
    assert "NewImage" not in new_records[0]["dynamodb"]
    assert [plain(r["dynamodb"]["Keys"])["pk"] for r in read(streams, iterator(streams, first))] == ["before"]
    assert {s["StreamArn"] for s in streams.list_streams(TableName=name)["Streams"]} == {first, second}
    assert streams.describe_stream(StreamArn=second)["StreamDescription"]["StreamStatus"] == "ENABLED"

    # Deleting the table disables its stream, which stays readable.
    ddb.delete_table(TableName=name)
    desc = streams.describe_stream(StreamArn=second)["StreamDescription"]
    assert desc["StreamStatus"] == "DISABLED"
    assert [plain(r["dynamodb"]["Keys"])["pk"] for r in read(streams, iterator(streams, second))] == ["after"]


def test_errors(ddb, streams, nimbus):
    name, arn = stream_table(ddb, "KEYS_ONLY")
    shard = shard_of(streams, arn)
    missing = arn.rsplit("/", 1)[0] + "/2001-01-01T00:00:00.000"
    assert error_of(streams.describe_stream, StreamArn=missing) == (
        "ResourceNotFoundException",
        f"Requested resource not found: Stream: {missing} not found",
    )
    code, _ = error_of(streams.describe_stream, StreamArn="sdfadfsdfnlfkajakfgjalksfgklasjklasdjfklasdfasdfgasf")
    assert code == "ValidationException"
    code, _ = error_of(
        streams.get_shard_iterator,
        StreamArn="sdfadfsddafgdafsgjnadflkgnalngalsdfnlkasnlkasdfasdfasf",
        ShardId=shard,
        ShardIteratorType="LATEST",
    )
    assert code == "ValidationException"
    code, _ = error_of(
        streams.get_shard_iterator, StreamArn=arn, ShardId="shardId-00000000000000000000-deadbeef", ShardIteratorType="LATEST"
    )
    assert code == "ResourceNotFoundException"
    code, _ = error_of(streams.get_shard_iterator, StreamArn=missing, ShardId=shard, ShardIteratorType="LATEST")
    assert code == "ResourceNotFoundException"
    for kind in ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"]:
        code, _ = error_of(streams.get_shard_iterator, StreamArn=arn, ShardId=shard, ShardIteratorType=kind)
        assert code == "ValidationException"
    start = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["SequenceNumberRange"][
        "StartingSequenceNumber"
    ]
    for kind in ["TRIM_HORIZON", "LATEST"]:
        code, _ = error_of(
            streams.get_shard_iterator, StreamArn=arn, ShardId=shard, ShardIteratorType=kind, SequenceNumber=start
        )
        assert code == "ValidationException"
    code, message = error_of(streams.get_shard_iterator, StreamArn=arn, ShardId=shard, ShardIteratorType="bulle")
    assert code == "ValidationException" and "shardIteratorType" in message
    code, _ = error_of(
        streams.get_shard_iterator,
        StreamArn=arn,
        ShardId=shard,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber="sdfsafglldfngjdafnasdflgnaldklkafdsgklnasdlv"[:40],
    )
    assert code == "ValidationException"
    assert error_of(streams.get_records, ShardIterator="sdfsdfsgagaddafgagasgasgasdfasdfasdfasdfasdg") == (
        "ValidationException",
        "Invalid ShardIterator",
    )
    it = iterator(streams, arn)
    # boto3 checks minimums itself: let the server see them.
    unchecked = make_client(nimbus, "dynamodbstreams", config=Config(parameter_validation=False))
    code, message = error_of(streams.get_records, ShardIterator=it, Limit=1001)
    assert code == "ValidationException" and "less than or equal to 1000" in message
    code, message = error_of(unchecked.get_records, ShardIterator=it, Limit=0)
    assert code == "ValidationException" and "greater than or equal to 1" in message
    code, _ = error_of(unchecked.list_streams, Limit=0)
    assert code == "ValidationException"
    code, _ = error_of(streams.list_streams, Limit=101)
    assert code == "ValidationException"
    code, _ = error_of(streams.list_streams, ExclusiveStartStreamArn="kossaapaaasdafsdaasdasdasdasasdasfadfadfasdasdas")
    assert code == "ValidationException"
    assert error_of(streams.list_streams, TableName=unique())[0] == "ResourceNotFoundException"
    # A view type outside the enum is refused by CreateTable and UpdateTable.
    code, message = error_of(
        ddb.update_table, TableName=create_table(ddb), StreamSpecification={"StreamEnabled": True, "StreamViewType": "Fisk"}
    )
    assert code == "ValidationException" and "streamViewType" in message


@pytest.fixture
def short_lived_server():
    """A server whose records are trimmed after 2 s and iterators expire after 4 s."""
    server = Server(
        env={"NIMBUS_DYNAMODB_STREAM_RETENTION_SECONDS": "2", "NIMBUS_DYNAMODB_SHARD_ITERATOR_SECONDS": "4"}
    )
    yield server
    server.stop()


def test_trimmed_records_and_expired_iterators(short_lived_server):
    ddb = make_client(short_lived_server, "dynamodb")
    streams = make_client(short_lived_server, "dynamodbstreams")
    name, arn = stream_table(ddb, "KEYS_ONLY")
    ddb.put_item(TableName=name, Item={"pk": {"S": "old"}, "sk": {"N": "1"}})
    it = iterator(streams, arn)
    [record] = streams.get_records(ShardIterator=it)["Records"]
    old_seq = record["dynamodb"]["SequenceNumber"]
    time.sleep(2.5)
    # The record is now older than the retention period: trimmed, both for
    # an iterator handed out before and for a new one at its number.
    trimmed = ("TrimmedDataAccessException", "The data you are trying to access has been trimmed")
    assert error_of(streams.get_records, ShardIterator=it) == trimmed
    shard = shard_of(streams, arn)
    assert (
        error_of(
            streams.get_shard_iterator,
            StreamArn=arn,
            ShardId=shard,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=old_seq,
        )
        == trimmed
    )
    ddb.put_item(TableName=name, Item={"pk": {"S": "new"}, "sk": {"N": "1"}})
    fresh = read(streams, iterator(streams, arn, "TRIM_HORIZON"))
    assert [plain(r["dynamodb"]["Keys"])["pk"] for r in fresh] == ["new"]
    # The shard's range now starts after the trimmed record.
    start = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["SequenceNumberRange"]
    assert int(start["StartingSequenceNumber"]) > int(old_seq)
    time.sleep(2)
    assert error_of(streams.get_records, ShardIterator=it) == (
        "ExpiredIteratorException",
        "The provided iterator exceeds the maximum age allowed.",
    )


def test_records_survive_kill_and_restart():
    server = Server()
    try:
        ddb = make_client(server, "dynamodb")
        streams = make_client(server, "dynamodbstreams")
        name, arn = stream_table(ddb, "NEW_AND_OLD_IMAGES")
        for i in range(3):
            ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "v": {"N": str(i)}})
        ddb.delete_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"N": "0"}})
        before = read(streams, iterator(streams, arn))
        assert len(before) == 4
    finally:
        server.stop(sig=signal.SIGKILL)
    again = Server(data_dir=server.data_dir)
    try:
        ddb = make_client(again, "dynamodb")
        streams = make_client(again, "dynamodbstreams")
        after = read(streams, iterator(streams, arn))
        assert after == before
        ddb.put_item(TableName=name, Item={"pk": {"S": "q"}, "sk": {"N": "9"}})
        newest = read(streams, iterator(streams, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=before[-1]["dynamodb"]["SequenceNumber"]))
        assert [plain(r["dynamodb"]["Keys"])["pk"] for r in newest] == ["q"]
        assert int(newest[0]["dynamodb"]["SequenceNumber"]) > int(before[-1]["dynamodb"]["SequenceNumber"])
    finally:
        again.stop()


def test_aws_cli(ddb, aws_cli):
    name, arn = stream_table(ddb, "NEW_IMAGE")
    ddb.put_item(TableName=name, Item={"pk": {"S": "cli"}, "sk": {"N": "7"}, "v": {"BOOL": True}})
    listed = aws_cli("dynamodbstreams", "list-streams", "--table-name", name)
    assert [s["StreamArn"] for s in listed["Streams"]] == [arn]
    desc = aws_cli("dynamodbstreams", "describe-stream", "--stream-arn", arn)["StreamDescription"]
    assert desc["StreamStatus"] == "ENABLED" and desc["StreamViewType"] == "NEW_IMAGE"
    shard = desc["Shards"][0]["ShardId"]
    it = aws_cli(
        "dynamodbstreams", "get-shard-iterator", "--stream-arn", arn, "--shard-id", shard,
        "--shard-iterator-type", "TRIM_HORIZON",
    )["ShardIterator"]
    records = aws_cli("dynamodbstreams", "get-records", "--shard-iterator", it)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT"]
    assert records[0]["dynamodb"]["NewImage"] == {"pk": {"S": "cli"}, "sk": {"N": "7"}, "v": {"BOOL": True}}
    failed = aws_cli("dynamodbstreams", "get-records", "--shard-iterator", "not-an-iterator", check=False)
    assert failed.returncode != 0 and "ValidationException" in failed.stderr


def test_iam_actions_on_the_stream_arn(ddb, streams, client, nimbus):
    name, arn = stream_table(ddb, "KEYS_ONLY")
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
    iam = client("iam")
    user = unique("reader")
    iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:ListStreams", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeStream", "dynamodb:GetShardIterator"],
                "Resource": f"{ddb.describe_table(TableName=name)['Table']['TableArn']}/stream/*",
            },
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = make_client(
        nimbus, "dynamodbstreams", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    assert arn in [s["StreamArn"] for s in as_user.list_streams(TableName=name)["Streams"]]
    shard = as_user.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = as_user.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    code, message = error_of(as_user.get_records, ShardIterator=it)
    assert code == "AccessDeniedException"
    assert f"is not authorized to perform: dynamodb:GetRecords on resource: {arn}" in message
    # The root key reads the same iterator.
    assert len(streams.get_records(ShardIterator=it)["Records"]) == 1
