"""DynamoDB Query and Scan: key conditions, paging, indexes, filters, parallel scan."""

import pytest
from boto3.dynamodb.conditions import Attr, Key

from test_dynamodb_helpers import create_table, error_of


@pytest.fixture(scope="module")
def table(nimbus):
    import boto3
    from botocore.config import Config

    ddb = boto3.client("dynamodb", endpoint_url=nimbus.endpoint, region_name=nimbus.region,
                       aws_access_key_id="test", aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    name = create_table(
        ddb,
        range_key=("sk", "N"),
        extra_attributes={"g": "S", "l": "S"},
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                                 "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["n"]}}],
        LocalSecondaryIndexes=[{"IndexName": "by-l", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                                   {"AttributeName": "l", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "KEYS_ONLY"}}],
    )
    for i in range(20):
        item = {"pk": {"S": "p"}, "sk": {"N": str(i - 5)}, "n": {"N": str(i)}, "l": {"S": f"l{19 - i:02}"},
                "other": {"S": "x"}}
        if i % 3 == 0:
            item["g"] = {"S": "three"}
        ddb.put_item(TableName=name, Item=item)
    ddb.put_item(TableName=name, Item={"pk": {"S": "q"}, "sk": {"N": "0"}})
    yield name
    ddb.delete_table(TableName=name)


def sks(resp):
    return [int(i["sk"]["N"]) for i in resp["Items"]]


def query(ddb, table, expr, values, **kw):
    return ddb.query(TableName=table, KeyConditionExpression=expr, ExpressionAttributeValues=values, **kw)


def test_sort_key_conditions(ddb, table):
    p = {":p": {"S": "p"}}
    assert sks(query(ddb, table, "pk = :p AND sk < :v", {**p, ":v": {"N": "-3"}})) == [-5, -4]
    assert sks(query(ddb, table, "pk = :p AND sk <= :v", {**p, ":v": {"N": "-3"}})) == [-5, -4, -3]
    assert sks(query(ddb, table, "pk = :p AND sk > :v", {**p, ":v": {"N": "12"}})) == [13, 14]
    assert sks(query(ddb, table, "pk = :p AND sk >= :v", {**p, ":v": {"N": "12.5"}})) == [13, 14]
    assert sks(query(ddb, table, "pk = :p AND sk = :v", {**p, ":v": {"N": "0"}})) == [0]
    assert sks(query(ddb, table, "pk = :p AND sk BETWEEN :a AND :b", {**p, ":a": {"N": "-1"}, ":b": {"N": "1"}})) == [-1, 0, 1]
    back = query(ddb, table, "pk = :p", p, ScanIndexForward=False, Limit=3)
    assert sks(back) == [14, 13, 12]
    assert back["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"N": "12"}}
    lsi = query(ddb, table, "pk = :p AND begins_with(l, :x)", {**p, ":x": {"S": "l0"}}, IndexName="by-l")
    assert lsi["Count"] == 10
    assert lsi["Items"][0] == {"pk": {"S": "p"}, "sk": {"N": "14"}, "l": {"S": "l00"}}


def test_pagination_filter_select(ddb, table):
    pages = list(ddb.get_paginator("query").paginate(
        TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}, ":m": {"N": "10"}},
        FilterExpression="n >= :m", PaginationConfig={"PageSize": 6},
    ))
    assert [p["ScannedCount"] for p in pages] == [6, 6, 6, 2]
    assert sum(p["Count"] for p in pages) == 10
    count = query(ddb, table, "pk = :p", {":p": {"S": "p"}}, Select="COUNT")
    assert count["Count"] == 20 and "Items" not in count
    proj = query(ddb, table, "pk = :p AND sk = :z", {":p": {"S": "p"}, ":z": {"N": "0"}}, ProjectionExpression="n")
    assert proj["Items"] == [{"n": {"N": "5"}}]


def test_gsi_projection_and_errors(ddb, table):
    gsi = query(ddb, table, "g = :g", {":g": {"S": "three"}}, IndexName="by-g")
    assert gsi["Count"] == 7
    assert gsi["Items"][0] == {"pk": {"S": "p"}, "sk": {"N": "-5"}, "g": {"S": "three"}, "n": {"N": "0"}}
    assert error_of(query, ddb, table, "g = :g", {":g": {"S": "three"}}, IndexName="by-g", ConsistentRead=True) == (
        "ValidationException", "Consistent reads are not supported on global secondary indexes")
    assert error_of(query, ddb, table, "g = :g", {":g": {"S": "three"}}, IndexName="nope") == (
        "ValidationException", "The table does not have the specified index: nope")
    assert error_of(query, ddb, table, "sk = :v", {":v": {"N": "1"}}) == (
        "ValidationException", "Query condition missed key schema element: pk")
    assert error_of(query, ddb, table, "pk = :v", {":v": {"N": "1"}}) == (
        "ValidationException", "One or more parameter values were invalid: Condition parameter type does not match schema type")
    assert error_of(query, ddb, table, "pk = :p OR sk = :v", {":p": {"S": "p"}, ":v": {"N": "1"}}) == (
        "ValidationException", "Invalid operator used in KeyConditionExpression: OR")
    assert error_of(query, ddb, table, "pk = :p", {":p": {"S": "p"}}, FilterExpression="sk = :p") == (
        "ValidationException", "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk")
    assert error_of(query, ddb, table, "pk = :p AND", {":p": {"S": "p"}}) == (
        "ValidationException", 'Invalid KeyConditionExpression: Syntax error; token: "<EOF>", near: "AND"')


def test_scan_filters_and_segments(ddb, table):
    full = ddb.scan(TableName=table, FilterExpression="attribute_exists(g) AND n > :five",
                    ExpressionAttributeValues={":five": {"N": "5"}})
    assert sorted(int(i["n"]["N"]) for i in full["Items"]) == [6, 9, 12, 15, 18]
    assert full["ScannedCount"] == 21
    seen = []
    for seg in range(4):
        seen += [(i["pk"]["S"], i["sk"]["N"]) for i in ddb.scan(TableName=table, Segment=seg, TotalSegments=4)["Items"]]
    assert len(seen) == 21 == len(set(seen))
    assert error_of(ddb.scan, TableName=table, Segment=4, TotalSegments=4) == (
        "ValidationException",
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 4 is not less "
        "than TotalSegments: 4",
    )
    legacy = ddb.scan(TableName=table, ScanFilter={"n": {"ComparisonOperator": "BETWEEN",
                                                         "AttributeValueList": [{"N": "1"}, {"N": "2"}]}})
    assert legacy["Count"] == 2


def test_resource_api_query_and_scan(ddb_resource, table):
    t = ddb_resource.Table(table)
    resp = t.query(KeyConditionExpression=Key("pk").eq("p") & Key("sk").between(2, 4),
                   FilterExpression=Attr("n").is_in([8, 9]))
    assert [int(i["sk"]) for i in resp["Items"]] == [3, 4]
    scanned = t.scan(FilterExpression=Attr("other").not_exists())
    assert scanned["Items"] == [{"pk": "q", "sk": 0}]


def test_page_limit_is_one_megabyte(ddb):
    name = create_table(ddb, range_key=("sk", "N"))
    blob = "x" * 100_000
    for i in range(25):
        ddb.put_item(TableName=name, Item={"pk": {"S": "big"}, "sk": {"N": str(i)}, "data": {"S": blob}})
    first = ddb.query(TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "big"}})
    assert first["Count"] == 11
    assert first["LastEvaluatedKey"] == {"pk": {"S": "big"}, "sk": {"N": "10"}}
    ddb.delete_table(TableName=name)


def test_key_condition_operand_errors(ddb, table):
    p = {":p": {"S": "q"}}

    def message(expr, values):
        return error_of(query, ddb, table, expr, {**p, **values})[1]

    assert message("pk = :p AND begins_with(sk, :v)", {":v": {"N": "1"}}) == (
        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: "
        "begins_with, operand type: N")
    assert message("pk = :p AND begins_with(sk, :v)", {":v": {"S": "a"}}) == (
        "One or more parameter values were invalid: Condition parameter type does not match schema type")
    assert message("pk = :p AND :v >= sk", {":v": {"BOOL": True}}) == (
        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: >=, "
        "operand type: BOOL")
    assert message("pk = :p AND sk BETWEEN :a AND :b", {":a": {"BOOL": False}, ":b": {"BOOL": True}}) == (
        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: "
        "BETWEEN, operand type: BOOL")
    assert message("pk = :p AND sk > :a AND sk < :b", {":a": {"N": "1"}, ":b": {"N": "5"}}) == (
        "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition per key")
    assert message("pk = :p AND sk > :a AND extra = :b", {":a": {"N": "1"}, ":b": {"N": "5"}}) == (
        "The number of query conditions (3) exceeds the number of key attributes defined in the schema (2)")
    assert message("begins_with(sk, :n) AND pk = :missing", {":n": {"N": "1"}}).endswith("operand type: N")


def test_multi_attribute_gsi_key(ddb):
    name = create_table(
        ddb,
        extra_attributes={n: "S" for n in "habcd"},
        GlobalSecondaryIndexes=[{
            "IndexName": "gsi",
            "KeySchema": [{"AttributeName": "h", "KeyType": "HASH"}]
            + [{"AttributeName": n, "KeyType": "RANGE"} for n in "abcd"],
            "Projection": {"ProjectionType": "ALL"},
        }],
    )
    rows = [("p1", "T", "live", "b", "r1"), ("p2", "T", "live", "a", "r2"), ("p3", "T", "live", "a", "r1"),
            ("p4", "T", "draft", "c", "r1"), ("p5", "F", "live", "a", "r0"), ("p6", "T", "live", None, "r1")]
    for pk, a, b, c, d in rows:
        item = {"pk": {"S": pk}, "h": {"S": "o1"}, "a": {"S": a}, "b": {"S": b}, "d": {"S": d}}
        if c:
            item["c"] = {"S": c}
        ddb.put_item(TableName=name, Item=item)
    values = {":h": {"S": "o1"}, ":a": {"S": "T"}, ":b": {"S": "live"}, ":c": {"S": "a"}, ":d": {"S": "r"},
              ":x": {"S": "r1"}, ":y": {"S": "r1"}}

    def pks(expr, **extra):
        used = {k: v for k, v in values.items() if k in expr}
        resp = ddb.query(TableName=name, IndexName="gsi", KeyConditionExpression=expr,
                         ExpressionAttributeValues=used, **extra)
        return [i["pk"]["S"] for i in resp["Items"]], resp.get("LastEvaluatedKey")

    assert pks("h = :h")[0] == ["p5", "p4", "p3", "p2", "p1"]
    assert pks("h = :h AND a = :a", ScanIndexForward=False)[0] == ["p1", "p2", "p3", "p4"]
    assert pks("b = :b AND h = :h AND a = :a")[0] == ["p3", "p2", "p1"]
    assert pks("h = :h AND a = :a AND b = :b AND c > :c")[0] == ["p1"]
    assert pks("h = :h AND a = :a AND b = :b AND c = :c AND begins_with(d, :d)")[0] == ["p3", "p2"]
    assert pks("h = :h AND a = :a AND b = :b AND c = :c AND d BETWEEN :x AND :y")[0] == ["p3"]
    assert pks("h = :h AND a = :a AND b < :b")[0] == ["p4"]
    page, last = pks("h = :h AND a = :a", Limit=2)
    assert page == ["p4", "p3"] and sorted(last) == ["a", "b", "c", "d", "h", "pk"]
    assert error_of(pks, "h = :h AND a = :a AND b > :b AND c = :c") == (
        "ValidationException",
        "RANGE key attributes b must have equality conditions specified in the query because a condition is present "
        "on key attribute c")
    ddb.delete_table(TableName=name)


def test_exclusive_start_key_errors(ddb, table):
    p = {":p": {"S": "p"}}
    invalid = ("ValidationException", "The provided starting key is invalid")
    # A Query (or an index Scan) says only that the key is invalid; a base
    # table Scan adds why.
    assert error_of(query, ddb, table, "pk = :p", p, ExclusiveStartKey={"pk": {"S": "p"}}) == invalid
    assert error_of(query, ddb, table, "pk = :p", p,
                    ExclusiveStartKey={"pk": {"S": "p"}, "sk": {"N": "1"}, "n": {"N": "1"}}) == invalid
    assert error_of(ddb.scan, TableName=table, IndexName="by-l", ExclusiveStartKey={"pk": {"S": "p"}}) == invalid
    assert error_of(ddb.scan, TableName=table, ExclusiveStartKey={"pk": {"S": "p"}, "sk": {"S": "1"}}) == (
        "ValidationException",
        "The provided starting key is invalid: The provided key element does not match the schema")
    # Another partition, or a sort key the condition excludes.
    assert error_of(query, ddb, table, "pk = :p", p, ExclusiveStartKey={"pk": {"S": "q"}, "sk": {"N": "0"}}) == (
        "ValidationException", "The provided starting key is outside query boundaries based on provided conditions")
    assert error_of(query, ddb, table, "pk = :p AND sk > :v", {**p, ":v": {"N": "5"}},
                    ExclusiveStartKey={"pk": {"S": "p"}, "sk": {"N": "2"}}) == (
        "ValidationException", "The provided starting key does not match the range key predicate")
    resumed = query(ddb, table, "pk = :p AND sk > :v", {**p, ":v": {"N": "5"}},
                    ExclusiveStartKey={"pk": {"S": "p"}, "sk": {"N": "11"}})
    assert sks(resumed) == [12, 13, 14]


def test_parallel_scan_start_key_must_be_in_its_segment(ddb, table):
    pages = {}
    for seg in range(3):
        pages[seg] = ddb.scan(TableName=table, Segment=seg, TotalSegments=3, Limit=1)
    seg, page = next((s, pg) for s, pg in pages.items() if "LastEvaluatedKey" in pg)
    other = (seg + 1) % 3
    assert error_of(ddb.scan, TableName=table, Segment=other, TotalSegments=3,
                    ExclusiveStartKey=page["LastEvaluatedKey"]) == (
        "ValidationException",
        "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct "
        f"Segment. TotalSegments: 3 Segment: {other}")
    # Resuming in its own segment works.
    ddb.scan(TableName=table, Segment=seg, TotalSegments=3, ExclusiveStartKey=page["LastEvaluatedKey"])


def test_key_condition_values_may_not_be_empty(ddb, table):
    empty = ("ValidationException", "One or more parameter values are not valid. The AttributeValue for a key "
             "attribute cannot contain an empty string value. Key: pk")
    assert error_of(query, ddb, table, "pk = :p", {":p": {"S": ""}}) == empty
    assert error_of(ddb.query, TableName=table,
                    KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": ""}]}}) == empty
    # An empty KeyConditions names no partition key.
    assert error_of(ddb.query, TableName=table, KeyConditions={}) == (
        "ValidationException", "Query condition missed key schema element: pk")
