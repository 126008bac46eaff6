"""DynamoDB expression language: functions, precedence, placeholders and AWS's error wording."""

import pytest

from test_dynamodb_helpers import create_table, error_of


@pytest.fixture(scope="module")
def table(nimbus):
    import boto3

    ddb = boto3.client("dynamodb", endpoint_url=nimbus.endpoint, region_name=nimbus.region,
                       aws_access_key_id="test", aws_secret_access_key="test")
    name = create_table(ddb)
    ddb.put_item(TableName=name, Item={
        "pk": {"S": "item"},
        "s": {"S": "hello world"},
        "n": {"N": "42"},
        "b": {"B": b"\x01\x02\x03"},
        "flag": {"BOOL": False},
        "nothing": {"NULL": True},
        "tags": {"SS": ["red", "blue"]},
        "nums": {"NS": ["1", "2", "3"]},
        "lst": {"L": [{"S": "a"}, {"M": {"deep": {"N": "7"}}}]},
        "doc": {"M": {"k": {"S": "v"}, "nested": {"M": {"x": {"N": "1"}}}}},
    })
    yield name
    ddb.delete_table(TableName=name)


KEY = {"pk": {"S": "item"}}


def holds(ddb, table, expr, values=None, names=None):
    """Whether `expr` is true for the test item (via a conditional no-op update)."""
    params = {"TableName": table, "Key": KEY, "ConditionExpression": expr, "UpdateExpression": "SET touched = :__t"}
    params["ExpressionAttributeValues"] = {":__t": {"BOOL": True}, **(values or {})}
    if names:
        params["ExpressionAttributeNames"] = names
    try:
        ddb.update_item(**params)
        return True
    except ddb.exceptions.ConditionalCheckFailedException:
        return False


@pytest.mark.parametrize("expr,values,expected", [
    ("n = :v", {":v": {"N": "42.0"}}, True),
    ("n <> :v", {":v": {"N": "42"}}, False),
    ("n BETWEEN :a AND :b", {":a": {"N": "40"}, ":b": {"N": "50"}}, True),
    ("n IN (:a, :b)", {":a": {"N": "1"}, ":b": {"N": "42"}}, True),
    ("s > :v", {":v": {"S": "hello"}}, True),
    ("b < :v", {":v": {"B": b"\x01\x03"}}, True),
    ("begins_with(s, :v)", {":v": {"S": "hell"}}, True),
    ("begins_with(b, :v)", {":v": {"B": b"\x01"}}, True),
    ("contains(s, :v)", {":v": {"S": "o w"}}, True),
    ("contains(tags, :v)", {":v": {"S": "red"}}, True),
    ("contains(nums, :v)", {":v": {"N": "2"}}, True),
    ("contains(lst, :v)", {":v": {"S": "a"}}, True),
    ("size(s) = :v", {":v": {"N": "11"}}, True),
    ("size(tags) = :v", {":v": {"N": "2"}}, True),
    ("size(doc) = :v", {":v": {"N": "2"}}, True),
    ("attribute_type(nothing, :t)", {":t": {"S": "NULL"}}, True),
    ("attribute_type(nums, :t)", {":t": {"S": "NS"}}, True),
    ("lst[1].deep = :v", {":v": {"N": "7"}}, True),
    ("doc.nested.x = :v", {":v": {"N": "1"}}, True),
    ("absent = :v OR flag = :v", {":v": {"BOOL": False}}, True),
    ("NOT flag = :v", {":v": {"BOOL": False}}, False),
    ("flag = :t AND flag = :t OR flag = :f", {":t": {"BOOL": True}, ":f": {"BOOL": False}}, True),
    ("flag = :f OR flag = :t AND flag = :t", {":t": {"BOOL": True}, ":f": {"BOOL": False}}, True),
    ("(flag = :f OR flag = :t) AND flag = :t", {":t": {"BOOL": True}, ":f": {"BOOL": False}}, False),
    ("n > :v", {":v": {"S": "42"}}, False),
])
def test_condition_semantics(ddb, table, expr, values, expected):
    assert holds(ddb, table, expr, values) is expected


def test_attribute_exists_with_names(ddb, table):
    assert holds(ddb, table, "attribute_exists(#m.#i) AND attribute_not_exists(#m.zz)", names={"#m": "doc", "#i": "nested"})


@pytest.mark.parametrize("expr,values,names,message", [
    ("", None, None, "Invalid ConditionExpression: The expression can not be empty;"),
    ("n = :x", {":v": {"N": "1"}}, None,
     "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :x"),
    ("#x = :v", {":v": {"N": "1"}}, None,
     "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #x"),
    ("size = :v", {":v": {"N": "1"}}, None,
     "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: size"),
    ("n = :v", {":v": {"N": "1"}, ":w": {"N": "2"}}, None,
     "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"),
    ("n = :v", {":v": {"N": "1"}}, {"#a": "a"},
     "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a}"),
    ("n = = :v", {":v": {"N": "1"}}, None, 'Invalid ConditionExpression: Syntax error; token: "=", near: "= = :v"'),
    ("nope(n)", None, None, "Invalid ConditionExpression: Invalid function name; function: nope"),
    ("begins_with(s)", None, None,
     "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: "
     "begins_with, number of operands: 1"),
    ("attribute_exists(n) = :v", {":v": {"N": "1"}}, None,
     "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: "
     "attribute_exists"),
    ("n = n", None, None,
     "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator "
     "or function; operator: =, first operand: [n]"),
    ("attribute_type(n, :t)", {":t": {"S": "X"}}, None,
     "Invalid ConditionExpression: Invalid attribute type name found; type: X, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"),
    ("n BETWEEN :b AND :a", {":a": {"N": "1"}, ":b": {"N": "2"}}, None,
     "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower "
     "bound; lower bound operand: AttributeValue: {N:2}, upper bound operand: AttributeValue: {N:1}"),
])
def test_condition_errors(ddb, table, expr, values, names, message):
    params = {"TableName": table, "Item": KEY, "ConditionExpression": expr}
    if values:
        params["ExpressionAttributeValues"] = values
    if names:
        params["ExpressionAttributeNames"] = names
    # PutItem reports request validation inside AWS's envelope.
    assert error_of(ddb.put_item, **params) == ("ValidationException", "1 validation error detected: " + message)


def test_placeholders_without_expressions(ddb, table):
    assert error_of(ddb.put_item, TableName=table, Item=KEY, ExpressionAttributeValues={":v": {"N": "1"}}) == (
        "ValidationException",
        "1 validation error detected: ExpressionAttributeValues can only be specified when using expressions",
    )
    assert error_of(ddb.get_item, TableName=table, Key=KEY, ExpressionAttributeNames={"#a": "a"}) == (
        "ValidationException", "ExpressionAttributeNames can only be specified when using expressions")
    assert error_of(ddb.put_item, TableName=table, Item=KEY, ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues={}) == (
        "ValidationException", "1 validation error detected: ExpressionAttributeValues must not be empty")


def test_projection_errors(ddb, table):
    assert error_of(ddb.get_item, TableName=table, Key=KEY, ProjectionExpression="doc, doc.k") == (
        "ValidationException",
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these "
        "paths; path one: [doc], path two: [doc, k]",
    )
    assert error_of(ddb.get_item, TableName=table, Key=KEY, ProjectionExpression="lst[0], lst.a") == (
        "ValidationException",
        "Invalid ProjectionExpression: Two document paths conflict with each other; must remove or rewrite one of "
        "these paths; path one: [lst, [0]], path two: [lst, a]",
    )


def condition_error(ddb, table, expr, values=None):
    """(code, message) of a conditional no-op update that AWS refuses to run."""
    params = {"TableName": table, "Key": KEY, "ConditionExpression": expr, "UpdateExpression": "SET touched = :__t"}
    params["ExpressionAttributeValues"] = {":__t": {"BOOL": True}, **(values or {})}
    return error_of(ddb.update_item, **params)


@pytest.mark.parametrize("expr", ["n < :c", "n <= :c", ":c > n", ":c >= n", "n BETWEEN :c AND :c"])
def test_ordering_a_constant_that_has_no_order_is_refused(ddb, table, expr):
    # A list constant can never be ordered: AWS rejects the request rather
    # than failing the condition.
    code, message = condition_error(ddb, table, expr, {":c": {"L": [{"N": "1"}]}})
    assert code == "ValidationException"
    assert "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: " in message
    assert message.endswith("operand type: L")


def test_ordering_an_attribute_that_has_no_order_is_just_false(ddb, table):
    # The same comparison against an item's list attribute only fails the condition.
    assert holds(ddb, table, "lst < :one", {":one": {"N": "1"}}) is False
    assert holds(ddb, table, ":one <= lst", {":one": {"N": "1"}}) is False
    assert holds(ddb, table, "n BETWEEN lst AND :big", {":big": {"N": "100"}}) is False


def test_attribute_type_accepts_a_value_as_first_operand(ddb, table):
    assert holds(ddb, table, "attribute_type(:x, :t)", {":x": {"N": "0"}, ":t": {"S": "N"}}) is True
    assert holds(ddb, table, "attribute_type(:x, :t)", {":x": {"N": "0"}, ":t": {"S": "S"}}) is False


@pytest.mark.parametrize("function", ["if_not_exists", "list_append"])
def test_update_functions_are_refused_in_conditions(ddb, table, function):
    assert condition_error(ddb, table, f"{function}(n, n) = :v", {":v": {"N": "1"}}) == (
        "ValidationException",
        "1 validation error detected: Invalid ConditionExpression: The function is not allowed in a condition "
        f"expression; function: {function}",
    )


def test_function_names_start_with_a_letter(ddb, table):
    code, message = condition_error(ddb, table, "_f(n)")
    assert code == "ValidationException"
    assert 'Invalid ConditionExpression: Syntax error; token: "_f"' in message


@pytest.fixture(scope="module")
def sorted_table(nimbus):
    """A hash+range table (pk S, sk N) with one partition of five items."""
    import boto3

    ddb = boto3.client("dynamodb", endpoint_url=nimbus.endpoint, region_name=nimbus.region,
                       aws_access_key_id="test", aws_secret_access_key="test")
    name = create_table(ddb, range_key=("sk", "N"))
    for i in range(5):
        ddb.put_item(TableName=name, Item={"pk": {"S": "part"}, "sk": {"N": str(i)}, "n": {"N": str(i)},
                                           "lst": {"L": [{"N": str(i)}]}})
    yield name
    ddb.delete_table(TableName=name)


def filtered(ddb, table, expr, values):
    return ddb.query(TableName=table, KeyConditionExpression="pk = :p", FilterExpression=expr,
                     ExpressionAttributeValues={":p": {"S": "part"}, **values})


def test_filter_errors_come_before_any_item_is_read(ddb, sorted_table):
    # Partition "nobody" is empty: the filter is still checked.
    def refused(expr, values):
        return error_of(ddb.query, TableName=sorted_table, KeyConditionExpression="pk = :p", FilterExpression=expr,
                        ExpressionAttributeValues={":p": {"S": "nobody"}, **values})

    assert refused("if_not_exists(n, :v) = :v", {":v": {"N": "1"}}) == (
        "ValidationException",
        "Invalid FilterExpression: The function is not allowed in a condition expression; function: if_not_exists",
    )
    assert refused("begins_with(n, :v)", {":v": {"N": "1"}}) == (
        "ValidationException",
        "Invalid FilterExpression: Incorrect operand type for operator or function; operator or function: "
        "begins_with, operand type: N",
    )


def test_filter_on_an_unorderable_attribute_skips_items(ddb, sorted_table):
    assert filtered(ddb, sorted_table, "lst <= :v", {":v": {"N": "3"}})["Items"] == []
    assert filtered(ddb, sorted_table, "n BETWEEN :v AND lst", {":v": {"N": "0"}})["Items"] == []
    assert filtered(ddb, sorted_table, "n BETWEEN :a AND :b", {":a": {"N": "1"}, ":b": {"N": "2"}})["Count"] == 2


def test_query_mixes_no_legacy_parameter_with_expressions(ddb, sorted_table):
    assert error_of(ddb.query, TableName=sorted_table, KeyConditionExpression="pk = :p", FilterExpression="n = :n",
                    AttributesToGet=["n"], ExpressionAttributeValues={":p": {"S": "part"}, ":n": {"N": "1"}}) == (
        "ValidationException",
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: "
        "{AttributesToGet} Expression parameters: {FilterExpression, KeyConditionExpression}",
    )


def test_key_condition_on_a_nested_attribute(ddb, sorted_table):
    assert error_of(ddb.query, TableName=sorted_table, KeyConditionExpression="pk = :p AND sk.x < :v",
                    ExpressionAttributeValues={":p": {"S": "part"}, ":v": {"N": "3"}}) == (
        "ValidationException",
        "Invalid KeyConditionExpression: KeyConditionExpressions cannot have conditions on nested attributes",
    )


def test_document_paths_reach_32_levels(ddb, table):
    deep = "doc" + ".k" * 31
    assert ddb.get_item(TableName=table, Key=KEY, ProjectionExpression=deep)["Item"] == {}
    assert error_of(ddb.get_item, TableName=table, Key=KEY, ProjectionExpression=deep + "[0]") == (
        "ValidationException",
        "Invalid ProjectionExpression: The document path has too many nesting levels; nesting levels: 33",
    )
    code, message = condition_error(ddb, table, f"attribute_exists({deep}.k)")
    assert code == "ValidationException"
    assert message.endswith("Invalid ConditionExpression: The document path has too many nesting levels; nesting levels: 33")


def test_operands_may_stand_in_parentheses(ddb, table):
    assert holds(ddb, table, "(n) = :v AND (doc).k = (:s) AND (lst)[0] IN ((:s), :a)",
                 {":v": {"N": "42"}, ":s": {"S": "v"}, ":a": {"S": "a"}}) is True
    assert holds(ddb, table, "(n) BETWEEN (:lo) AND :hi", {":lo": {"N": "1"}, ":hi": {"N": "50"}}) is True
    assert condition_error(ddb, table, "((n)) = :v", {":v": {"N": "42"}}) == (
        "ValidationException", "1 validation error detected: Invalid ConditionExpression: The expression has redundant parentheses;")
    code, message = condition_error(ddb, table, "(size(s)).b = :v", {":v": {"N": "42"}})
    assert code == "ValidationException" and "Invalid ConditionExpression: Syntax error;" in message


def scan_error(ddb, table, expr, values=None):
    params = {"TableName": table, "FilterExpression": expr}
    if values:
        params["ExpressionAttributeValues"] = values
    return error_of(ddb.scan, **params)


@pytest.mark.parametrize("expr,values,message", [
    # A misused condition function outranks its wrong operand count.
    ("attribute_exists(n, s) > s", None,
     "The function is not allowed to be used this way in an expression; function: attribute_exists"),
    # size() yields a number, whatever it measures.
    ("begins_with(s, size(s))", None,
     "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"),
    ("attribute_type(s, size(s))", None,
     "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N"),
    ("size(size(s)) > n", None, "Incorrect operand type for operator or function; operator or function: size, operand type: N"),
    ("size(:v) > n", {":v": {"BOOL": True}},
     "Incorrect operand type for operator or function; operator or function: size, operand type: BOOL"),
    # The size of a string constant is fine; the function around it wants a path.
    ("attribute_not_exists(size(:v))", {":v": {"S": "abc"}},
     "Operator or function requires a document path; operator or function: attribute_not_exists"),
])
def test_function_operand_errors(ddb, table, expr, values, message):
    assert scan_error(ddb, table, expr, values) == ("ValidationException", "Invalid FilterExpression: " + message)


def test_size_of_a_constant(ddb, table):
    assert holds(ddb, table, "size(:word) = :three AND size(:list) < n", {
        ":word": {"S": "abc"}, ":three": {"N": "3"}, ":list": {"L": [{"N": "1"}]}}) is True


@pytest.mark.parametrize("expr,message", [
    ("pk = :v OR sk = :v", "Invalid operator used in KeyConditionExpression: OR"),
    ("NOT pk = :v", "Invalid operator used in KeyConditionExpression: NOT"),
    ("pk IN (:v)", "Invalid operator used in KeyConditionExpression: IN"),
    ("pk <> :v", "Invalid operator used in KeyConditionExpression: <>"),
    ("attribute_exists(pk)", "Invalid operator used in KeyConditionExpression: attribute_exists"),
    ("contains(pk, :v)", "Invalid operator used in KeyConditionExpression: contains"),
    (":v BETWEEN pk AND sk", "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as "
     "its first operand"),
    ("begins_with(:v, pk)", "Invalid condition in KeyConditionExpression: begins_with operator must have the key "
     "attribute as its first operand"),
    ("pk = :v AND size(sk) > :v", "Invalid KeyConditionExpression: KeyConditionExpressions cannot contain nested operations"),
    ("pk = sk", "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
    ("pk.x = :v", "Invalid KeyConditionExpression: KeyConditionExpressions cannot have conditions on nested attributes"),
    (":v = :v", "Invalid condition in KeyConditionExpression: No key attribute specified"),
    ("sk > :v AND sk < :v", "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition per key"),
])
def test_key_condition_shape_is_checked_before_the_table(ddb, expr, message):
    # The table does not exist: the shape of the key condition is refused first.
    assert error_of(ddb.query, TableName="no-such-table", KeyConditionExpression=expr,
                    ExpressionAttributeValues={":v": {"S": "1"}}) == ("ValidationException", message)


def test_a_key_condition_of_good_shape_then_meets_the_table(ddb):
    assert error_of(ddb.query, TableName="no-such-table", KeyConditionExpression="(pk = :v) AND sk BETWEEN :v AND :v",
                    ExpressionAttributeValues={":v": {"N": "1"}})[0] == "ResourceNotFoundException"


def test_projection_reports_an_overlap_before_an_earlier_conflict(ddb, table):
    assert error_of(ddb.get_item, TableName=table, Key=KEY, ProjectionExpression="lst[1], lst.x, #d.k, doc",
                    ExpressionAttributeNames={"#d": "doc"}) == (
        "ValidationException",
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these "
        "paths; path one: [doc, k], path two: [doc]",
    )
    # Without the overlap, the conflict is reported.
    assert error_of(ddb.get_item, TableName=table, Key=KEY, ProjectionExpression="lst[1], lst.x")[1].startswith(
        "Invalid ProjectionExpression: Two document paths conflict with each other;")
