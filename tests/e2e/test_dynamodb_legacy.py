"""The pre-expression parameters (KeyConditions, QueryFilter, Expected) and
the checks AWS applies to their conditions."""

import pytest
from botocore.config import Config

from test_dynamodb_helpers import create_table, error_of

INVALID = "One or more parameter values were invalid: "


@pytest.fixture
def unchecked(client):
    return client("dynamodb", config=Config(parameter_validation=False, retries={"max_attempts": 1}))


@pytest.fixture
def sorted_table(ddb):
    """pk 'P' with sort keys 0..5 and a few attributes of assorted types."""
    name = create_table(ddb, range_key=("n", "N"))
    for i in range(6):
        ddb.put_item(TableName=name, Item={
            "pk": {"S": "P"}, "n": {"N": str(i)}, "word": {"S": f"w{i}"}, "even": {"BOOL": i % 2 == 0},
            "tags": {"SS": ["all", f"t{i}"]},
        })
    return name


def cond(op, *values):
    return {"ComparisonOperator": op, "AttributeValueList": list(values)}


def on_p(**more):
    return {"pk": cond("EQ", {"S": "P"}), **more}


def sort_keys(resp):
    return [int(i["n"]["N"]) for i in resp["Items"]]


def test_key_conditions_select_ranges(ddb, sorted_table):
    q = lambda **k: sort_keys(ddb.query(TableName=sorted_table, KeyConditions=on_p(**k)))
    assert q() == [0, 1, 2, 3, 4, 5]
    assert q(n=cond("LT", {"N": "2"})) == [0, 1]
    assert q(n=cond("GE", {"N": "4"})) == [4, 5]
    assert q(n=cond("BETWEEN", {"N": "1"}, {"N": "3"})) == [1, 2, 3]


def test_key_conditions_errors(unchecked, sorted_table):
    query = lambda conditions: error_of(unchecked.query, TableName=sorted_table, KeyConditions=conditions)
    for op in ["IN", "CONTAINS", "NOT_CONTAINS", "NE"]:
        assert query(on_p(n=cond(op, {"N": "1"}))) == (
            "ValidationException", "Attempted conditional constraint is not an indexable operation")
    assert query({"pk": cond("NOT_NULL")}) == (
        "ValidationException", "Attempted conditional constraint is not an indexable operation")
    for op in ["LT", "GE", "BEGINS_WITH"]:
        assert query({"pk": cond(op, {"S": "P"})}) == ("ValidationException", "Query key condition not supported")
    assert query({"n": cond("EQ", {"N": "1"})}) == ("ValidationException", "Query condition missed key schema element: pk")
    assert query(on_p(n=cond("BEGINS_WITH", {"N": "1"}))) == (
        "ValidationException", INVALID + "ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type")
    assert query(on_p(n=cond("EQ", {"S": "1"}))) == (
        "ValidationException", INVALID + "Condition parameter type does not match schema type")
    assert query({"pk": cond("EQ")}) == (
        "ValidationException", INVALID + "Invalid number of argument(s) for the EQ ComparisonOperator")
    code, message = query({"pk": cond("eq", {"S": "P"})})
    assert code == "ValidationException" and "Value 'eq'" in message


def test_query_filter(ddb, unchecked, sorted_table):
    def q(query_filter, **extra):
        return sort_keys(ddb.query(TableName=sorted_table, KeyConditions=on_p(), QueryFilter=query_filter, **extra))

    assert q({"even": cond("EQ", {"BOOL": True})}) == [0, 2, 4]
    assert q({"tags": cond("CONTAINS", {"S": "t3"})}) == [3]
    assert q({"word": cond("IN", {"S": "w1"}, {"S": "w5"})}) == [1, 5]
    assert q({"word": cond("BEGINS_WITH", {"S": "w"}), "even": cond("EQ", {"BOOL": False})}) == [1, 3, 5]
    assert q({"word": cond("EQ", {"S": "w0"}), "even": cond("EQ", {"BOOL": False})}, ConditionalOperator="OR") == [0, 1, 3, 5]
    assert q({}) == [0, 1, 2, 3, 4, 5]
    # Limit counts items read, not items kept.
    page = ddb.query(TableName=sorted_table, KeyConditions=on_p(), QueryFilter={"even": cond("EQ", {"BOOL": False})}, Limit=1)
    assert (page["Count"], page["ScannedCount"]) == (0, 1)

    def error(query_filter, **extra):
        return error_of(unchecked.query, TableName=sorted_table, KeyConditions=on_p(), QueryFilter=query_filter, **extra)

    assert error({"n": cond("EQ", {"N": "1"})}) == (
        "ValidationException", "QueryFilter can only contain non-primary key attributes: Primary key attribute: n")
    assert error({"even": cond("LT", {"BOOL": True})}) == (
        "ValidationException", INVALID + "ComparisonOperator LT is not valid for BOOL AttributeValue type")
    assert error({"word": cond("BETWEEN", {"S": "b"}, {"S": "a"})}) == (
        "ValidationException",
        "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound")
    assert error({"word": cond("IN", {"S": "a"}, {"N": "1"})}) == (
        "ValidationException", INVALID + "AttributeValues inside AttributeValueList must be of same type")
    assert error({"word": cond("CONTAINS", {"L": []})}) == (
        "ValidationException", INVALID + "ComparisonOperator CONTAINS is not valid for L AttributeValue type")
    assert error({"word": cond("EQ", {"S": "w1"}), "even": cond("EQ", {"BOOL": True})}, ConditionalOperator="XOR") == (
        "ValidationException", "Failed to satisfy constraint: Member must satisfy enum value set: [ALL, OR]")
    assert error_of(unchecked.query, TableName=sorted_table, QueryFilter={"word": cond("EQ", {"S": "w1"})}) == (
        "ValidationException", "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")


def test_expected_conditions(ddb, unchecked):
    name = create_table(ddb)
    key = {"pk": {"S": "k"}}
    ddb.put_item(TableName=name, Item={**key, "num": {"N": "2"}, "text": {"S": "hello"}, "nums": {"NS": ["1", "3"]}})

    def update(expected, **extra):
        return ddb.update_item(TableName=name, Key=key, AttributeUpdates={"seen": {"Value": {"N": "1"}, "Action": "ADD"}},
                               Expected=expected, **extra)

    def refused(expected, **extra):
        return error_of(update, expected, **extra)

    failed = ("ConditionalCheckFailedException", "The conditional request failed")
    update({"num": cond("BETWEEN", {"N": "1"}, {"N": "2"})})
    update({"nums": cond("CONTAINS", {"N": "3"})})
    update({"missing": cond("NE", {"N": "1"})})
    update({"num": {"Exists": True, "Value": {"N": "2"}}, "missing": {"Exists": False}})
    update({"num": {"Value": {"N": "9"}}, "text": cond("BEGINS_WITH", {"S": "he"})}, ConditionalOperator="OR")
    assert ddb.get_item(TableName=name, Key=key)["Item"]["seen"] == {"N": "5"}
    # A value of another type is a false condition, not an error...
    assert refused({"num": cond("LT", {"S": "9"})}) == failed
    assert refused({"missing": cond("NOT_CONTAINS", {"N": "1"})}) == failed
    # ...but an operator given a type it does not take is a request error.
    code, message = error_of(unchecked.update_item, TableName=name, Key=key,
                             AttributeUpdates={"seen": {"Value": {"N": "1"}, "Action": "ADD"}},
                             Expected={"text": cond("BEGINS_WITH", {"N": "3"})})
    assert code == "ValidationException"
    assert message.endswith(INVALID + "ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type")
    code, message = refused({"num": cond("BETWEEN", {"N": "3"}, {"N": "1"})})
    assert code == "ValidationException" and message.endswith("lower bound is greater than the upper bound")
    code, message = refused({"num": cond("IN", {"N": "3"}, {"S": "dog"})})
    assert code == "ValidationException" and message.endswith("AttributeValues inside AttributeValueList must be of same type")
    code, message = refused({"num": {"Exists": True}})
    assert code == "ValidationException" and message.endswith("Value must be provided when Exists is true for Attribute: num")
    assert ddb.get_item(TableName=name, Key=key)["Item"]["seen"] == {"N": "5"}
