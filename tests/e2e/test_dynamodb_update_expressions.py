"""DynamoDB UpdateExpression semantics: list positions, REMOVE on bad paths, nested functions, numbers."""

import pytest

from test_dynamodb_helpers import create_table, error_of, unique


@pytest.fixture(scope="module")
def table(nimbus):
    import boto3

    ddb = boto3.client("dynamodb", endpoint_url=nimbus.endpoint, region_name=nimbus.region,
                       aws_access_key_id="test", aws_secret_access_key="test")
    name = create_table(ddb)
    yield name
    ddb.delete_table(TableName=name)


def put(ddb, table, **attrs):
    key = {"pk": {"S": unique("item")}}
    ddb.put_item(TableName=table, Item={**key, **attrs})
    return key


def stored(ddb, table, key):
    return ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


def strings(*words):
    return {"L": [{"S": w} for w in words]}


BAD_PATH = ("ValidationException", "The document path provided in the update expression is invalid for update")


def test_elements_set_past_the_end_are_appended_by_index(ddb, table):
    key = put(ddb, table, lst=strings("zero", "one"))
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET lst[90] = :w, lst[9] = :x, lst[40] = :y, lst[1] = :z",
                    ExpressionAttributeValues={":w": {"S": "w"}, ":x": {"S": "x"}, ":y": {"S": "y"}, ":z": {"S": "z"}})
    assert stored(ddb, table, key)["lst"] == strings("zero", "z", "x", "y", "w")


@pytest.mark.parametrize("expr", ["REMOVE s.kid", "REMOVE lst.kid", "REMOVE absent.kid", "REMOVE s[0]",
                                  "REMOVE absent[0]", "REMOVE doc[0]"])
def test_remove_under_a_missing_or_wrong_parent_is_refused(ddb, table, expr):
    key = put(ddb, table, s={"S": "text"}, lst=strings("a"), doc={"M": {"k": {"S": "v"}}})
    assert error_of(ddb.update_item, TableName=table, Key=key, UpdateExpression=expr) == BAD_PATH
    assert stored(ddb, table, key)["s"] == {"S": "text"}


def test_remove_of_a_missing_leaf_changes_nothing(ddb, table):
    item = {"lst": strings("a"), "doc": {"M": {"k": {"S": "v"}}}}
    key = put(ddb, table, **item)
    for expr in ["REMOVE doc.kid", "REMOVE lst[5]", "REMOVE absent"]:
        ddb.update_item(TableName=table, Key=key, UpdateExpression=expr)
    assert stored(ddb, table, key) == {**key, **item}


def test_removing_from_a_missing_item_creates_nothing(ddb, table):
    key = {"pk": {"S": unique("ghost")}}
    ddb.update_item(TableName=table, Key=key, UpdateExpression="REMOVE a.b")
    ddb.update_item(TableName=table, Key=key, UpdateExpression="REMOVE a[0], c")
    assert stored(ddb, table, key) is None
    # Legacy AttributeUpdates DELETE behaves the same.
    ddb.update_item(TableName=table, Key=key, AttributeUpdates={"a": {"Action": "DELETE"}})
    assert stored(ddb, table, key) is None
    # An update with nothing in it still creates the item.
    ddb.update_item(TableName=table, Key=key)
    assert stored(ddb, table, key) == key


def test_list_append_cannot_nest_in_itself(ddb, table):
    key = put(ddb, table)
    values = {":a": strings("a"), ":b": strings("b"), ":c": strings("c")}
    assert error_of(ddb.update_item, TableName=table, Key=key,
                    UpdateExpression="SET l = list_append(list_append(:a, :b), :c)",
                    ExpressionAttributeValues=values) == (
        "ValidationException",
        "1 validation error detected: Invalid UpdateExpression: The function is not allowed to be used this way in an "
        "expression; function: list_append",
    )
    # Other nestings are fine.
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET l = list_append(if_not_exists(l, :a), :b)",
                    ExpressionAttributeValues={":a": strings("a"), ":b": strings("b")})
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET n = if_not_exists(x, if_not_exists(y, :c))",
                    ExpressionAttributeValues={":c": {"N": "3"}})
    got = stored(ddb, table, key)
    assert got["l"] == strings("a", "b")
    assert got["n"] == {"N": "3"}


def test_function_names_start_with_a_letter(ddb, table):
    key = put(ddb, table)
    code, message = error_of(ddb.update_item, TableName=table, Key=key, UpdateExpression="SET a = _f(b)")
    assert code == "ValidationException"
    assert 'Invalid UpdateExpression: Syntax error; token: "_f"' in message


def test_zero_takes_any_exponent(ddb, table):
    key = put(ddb, table)
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET z = :z, y = :y",
                    ExpressionAttributeValues={":z": {"N": "0e1000"}, ":y": {"N": "-0.0e-500"}})
    got = stored(ddb, table, key)
    assert (got["z"], got["y"]) == ({"N": "0"}, {"N": "0"})
    # Non-zero numbers keep their range.
    assert error_of(ddb.update_item, TableName=table, Key=key, UpdateExpression="SET z = :z",
                    ExpressionAttributeValues={":z": {"N": "1e126"}})[0] == "ValidationException"


@pytest.mark.parametrize("expr", ["SET n = :big + :one", "SET n = :big - :one", "ADD n :one"])
def test_a_result_past_38_digits_is_an_overflow(ddb, table, expr):
    key = put(ddb, table, n={"N": "1e50"})
    values = {":one": {"N": "1"}}
    if ":big" in expr:
        values[":big"] = {"N": "1e50"}
    assert error_of(ddb.update_item, TableName=table, Key=key, UpdateExpression=expr,
                    ExpressionAttributeValues=values) == (
        "ValidationException", "Number overflow. Attempting to store a number with magnitude larger than supported range")
    assert stored(ddb, table, key)["n"] == {"N": "100000000000000000000000000000000000000000000000000"}


@pytest.fixture(scope="module")
def indexed(nimbus):
    """Hash key `pk`, and a GSI keyed on `gk`."""
    import boto3

    ddb = boto3.client("dynamodb", endpoint_url=nimbus.endpoint, region_name=nimbus.region,
                       aws_access_key_id="test", aws_secret_access_key="test")
    name = create_table(ddb, extra_attributes={"gk": "S"}, GlobalSecondaryIndexes=[{
        "IndexName": "by-gk", "KeySchema": [{"AttributeName": "gk", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"}}])
    yield name
    ddb.delete_table(TableName=name)


def scalar_keys(kind, name):
    return ("ValidationException",
            f"Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: {kind}: {name}")


def test_expressions_cannot_step_into_key_attributes(ddb, indexed):
    key = {"pk": {"S": "k"}}
    one = {":v": {"N": "1"}}
    assert error_of(ddb.get_item, TableName=indexed, Key=key, ProjectionExpression="pk.x") == scalar_keys("Key", "pk")
    assert error_of(ddb.get_item, TableName=indexed, Key=key, ProjectionExpression="#g[0]",
                    ExpressionAttributeNames={"#g": "gk"}) == scalar_keys("IndexKey", "gk")
    assert error_of(ddb.update_item, TableName=indexed, Key=key, UpdateExpression="SET gk.x = :v",
                    ExpressionAttributeValues=one) == scalar_keys("IndexKey", "gk")
    assert error_of(ddb.put_item, TableName=indexed, Item=key, ConditionExpression="size(pk.x) > :v",
                    ExpressionAttributeValues=one) == scalar_keys("Key", "pk")
    assert error_of(ddb.delete_item, TableName=indexed, Key=key, ConditionExpression="gk[1] = :v",
                    ExpressionAttributeValues=one) == scalar_keys("IndexKey", "gk")
    assert error_of(ddb.scan, TableName=indexed, FilterExpression="attribute_exists(pk.x)") == scalar_keys("Key", "pk")
    assert error_of(ddb.query, TableName=indexed, KeyConditionExpression="pk = :k", FilterExpression="gk.x = :v",
                    ExpressionAttributeValues={":k": {"S": "k"}, **one}) == scalar_keys("IndexKey", "gk")
    # Other attributes may be documents.
    ddb.update_item(TableName=indexed, Key=key, UpdateExpression="SET doc = :m", ExpressionAttributeValues={":m": {"M": {}}})
    ddb.update_item(TableName=indexed, Key=key, UpdateExpression="SET doc.x = :v", ExpressionAttributeValues=one)
    assert ddb.get_item(TableName=indexed, Key=key, ProjectionExpression="doc.x")["Item"] == {"doc": {"M": {"x": {"N": "1"}}}}


def update_error(ddb, table, expr, values=None, names=None):
    params = {"TableName": table, "Key": {"pk": {"S": "never-written"}}, "UpdateExpression": expr}
    if values:
        params["ExpressionAttributeValues"] = values
    if names:
        params["ExpressionAttributeNames"] = names
    code, message = error_of(ddb.update_item, **params)
    assert code == "ValidationException"
    return message.removeprefix("1 validation error detected: ")


S = {"S": "s"}


@pytest.mark.parametrize("expr,values,names,message", [
    # Reserved words outrank every other problem of an update expression.
    ("SET #undefined = :v SET comment = :v", {":v": S}, None,
     "Attribute name is a reserved keyword; reserved keyword: comment"),
    # Then unknown functions, then a repeated section, then placeholders.
    ("SET a = nope(:undefined) SET b = :v", {":v": S}, None, "Invalid function name; function: nope"),
    ("SET a = #n REMOVE b REMOVE c", None, None,
     'The "REMOVE" section can only be used once in an update expression;'),
    ("SET a = if_not_exists(#n, :nothing)", {":v": S}, {"#m": "m"},
     "An expression attribute name used in the document path is not defined; attribute name: #n"),
    # Overlapping or conflicting targets outrank operand and function errors;
    # an overlap is reported before an earlier conflict.
    ("SET d[1] = :v, d.x = :v, c[1].y = :v, c = list_append(:v)", {":v": S}, None,
     "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [c, [1], y], "
     "path two: [c]"),
    # Paths are named in the order written, whatever their sections.
    ("REMOVE a.x SET a[1] = :v", {":v": S}, None,
     "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, x], "
     "path two: [a, [1]]"),
    # ADD/DELETE operand types outrank function errors written before them.
    ("SET l = list_append(:v, l), m = if_not_exists(m) ADD n :v", {":v": S}, None,
     "Incorrect operand type for operator or function; operator: ADD, operand type: STRING"),
    ("DELETE s :nul", {":nul": {"NULL": True}}, None,
     "Incorrect operand type for operator or function; operator: DELETE, operand type: NULL"),
    ("SET n = n + :nul", {":nul": {"NULL": True}}, None,
     "Incorrect operand type for operator or function; operator or function: +, operand type: NULL"),
    ("SET l = list_append(:nul, l)", {":nul": {"NULL": True}}, None,
     "Incorrect operand type for operator or function; operator or function: list_append, operand type: NULL"),
])
def test_update_expression_errors_by_rank(ddb, table, expr, values, names, message):
    assert update_error(ddb, table, expr, values, names) == "Invalid UpdateExpression: " + message


@pytest.mark.parametrize("expr", ["SET a = set", "SET remove = :v", "ADD add :v", "REMOVE delete"])
def test_section_keywords_are_never_names(ddb, table, expr):
    assert update_error(ddb, table, expr, {":v": S} if ":v" in expr else None).startswith(
        "Invalid UpdateExpression: Syntax error; ")


def test_a_parenthesised_sum_may_be_set(ddb, table):
    key = put(ddb, table, n={"N": "1"})
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET m = (n + :two), o = (:two)",
                    ExpressionAttributeValues={":two": {"N": "2"}})
    got = stored(ddb, table, key)
    assert (got["m"], got["o"]) == ({"N": "3"}, {"N": "2"})


def test_batch_and_transact_gets_cannot_step_into_key_attributes(ddb, indexed):
    key = {"pk": {"S": "k"}}
    assert error_of(ddb.batch_get_item, RequestItems={indexed: {"Keys": [key], "ProjectionExpression": "pk[0]"}}) == \
        scalar_keys("Key", "pk")
    assert error_of(ddb.transact_get_items, TransactItems=[
        {"Get": {"TableName": indexed, "Key": key, "ProjectionExpression": "gk.x"}}]) == scalar_keys("IndexKey", "gk")


def test_nested_sets_and_adds_land_in_index_order(ddb, table):
    key = put(ddb, table, m={"M": {"x": {"N": "1"}, "y": {"N": "2"}, "z": {"N": "3"}}}, l={"L": [{"N": "1"}, {"N": "3"}]})
    reply = ddb.update_item(
        TableName=table, Key=key, ReturnValues="UPDATED_NEW",
        UpdateExpression="SET m.z = ((l[1]) + (m.x)), m.x = pk, l[1] = pk, l[4] = m.x - m.y, l[2] = m.z "
                         "ADD l[8] :set, l[6] :two",
        ExpressionAttributeValues={":two": {"N": "2"}, ":set": {"SS": ["s"]}})
    # UPDATED_NEW shows the written paths that exist afterwards: l[1], l[2], l[4].
    assert reply["Attributes"] == {"m": {"M": {"x": key["pk"], "z": {"N": "4"}}},
                                   "l": {"L": [key["pk"], {"N": "3"}, {"N": "2"}]}}
    assert stored(ddb, table, key)["l"] == {"L": [{"N": "1"}, key["pk"], {"N": "3"}, {"N": "-1"}, {"N": "2"},
                                                  {"SS": ["s"]}]}


def test_index_key_types_are_checked_before_and_after_reading(ddb, indexed):
    key = {"pk": {"S": unique("k")}}
    mismatch = ("ValidationException",
                "One or more parameter values were invalid: Type mismatch for Index Key gk Expected: S Actual: N "
                "IndexName: by-gk")
    # What the expression alone shows is refused first, even before a path into the index key.
    assert error_of(ddb.update_item, TableName=indexed, Key=key, UpdateExpression="SET e = gk[1], gk = :n + :n",
                    ExpressionAttributeValues={":n": {"N": "1"}}) == mismatch
    assert error_of(ddb.update_item, TableName=indexed, Key=key, UpdateExpression="ADD gk :n",
                    ExpressionAttributeValues={":n": {"N": "1"}}) == mismatch
    # A value read from the item shows its type only when the update runs.
    ddb.update_item(TableName=indexed, Key=key, UpdateExpression="SET num = :n", ExpressionAttributeValues={":n": {"N": "1"}})
    assert error_of(ddb.update_item, TableName=indexed, Key=key, UpdateExpression="SET gk = num") == (
        "ValidationException", "The update expression attempted to update the secondary index key to unsupported type")
    # Updating a key attribute outranks both.
    assert error_of(ddb.update_item, TableName=indexed, Key=key, UpdateExpression="ADD pk.x :n, gk :n",
                    ExpressionAttributeValues={":n": {"N": "1"}}) == (
        "ValidationException", "One or more parameter values were invalid: Cannot update attribute pk. This attribute is "
        "part of the key")


@pytest.mark.parametrize("expr", ["DELETE s.x :set", "DELETE s[0] :set", "DELETE absent.x :set", "DELETE doc[0] :set",
                                  "DELETE lst.x :set"])
def test_delete_under_a_missing_or_wrong_parent_is_refused(ddb, table, expr):
    key = put(ddb, table, s={"S": "text"}, lst=strings("a"), doc={"M": {}})
    assert error_of(ddb.update_item, TableName=table, Key=key, UpdateExpression=expr,
                    ExpressionAttributeValues={":set": {"SS": ["a"]}}) == BAD_PATH


def test_transact_writes_get_the_same_key_checks(ddb, indexed):
    key = {"pk": {"S": unique("k")}}
    one = {":n": {"N": "1"}}
    assert error_of(ddb.transact_write_items, TransactItems=[{"Update": {
        "TableName": indexed, "Key": key, "UpdateExpression": "SET gk = :n", "ExpressionAttributeValues": one}}]) == (
        "ValidationException", "One or more parameter values were invalid: Type mismatch for Index Key gk Expected: S "
        "Actual: N IndexName: by-gk")
    assert error_of(ddb.transact_write_items, TransactItems=[{"ConditionCheck": {
        "TableName": indexed, "Key": key, "ConditionExpression": "pk.x = :n", "ExpressionAttributeValues": one}}]) == \
        scalar_keys("Key", "pk")
