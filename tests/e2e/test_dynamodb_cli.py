"""DynamoDB through the AWS CLI."""

import json

from test_dynamodb_helpers import unique


def test_cli_table_and_items(aws_cli):
    name = unique("cli")
    created = aws_cli("dynamodb", "create-table", "--table-name", name,
                      "--attribute-definitions", "AttributeName=id,AttributeType=S",
                      "--key-schema", "AttributeName=id,KeyType=HASH", "--billing-mode", "PAY_PER_REQUEST")
    assert created["TableDescription"]["TableName"] == name
    aws_cli("dynamodb", "wait", "table-exists", "--table-name", name)
    aws_cli("dynamodb", "put-item", "--table-name", name, "--item", json.dumps({"id": {"S": "1"}, "n": {"N": "1.50"}}))
    got = aws_cli("dynamodb", "get-item", "--table-name", name, "--key", json.dumps({"id": {"S": "1"}}))
    assert got["Item"] == {"id": {"S": "1"}, "n": {"N": "1.5"}}
    updated = aws_cli("dynamodb", "update-item", "--table-name", name, "--key", json.dumps({"id": {"S": "1"}}),
                      "--update-expression", "SET n = n + :d", "--expression-attribute-values", json.dumps({":d": {"N": "1"}}),
                      "--return-values", "UPDATED_NEW")
    assert updated["Attributes"] == {"n": {"N": "2.5"}}
    scanned = aws_cli("dynamodb", "scan", "--table-name", name)
    assert scanned["Count"] == 1
    result = aws_cli("dynamodb", "put-item", "--table-name", name, "--item", json.dumps({"id": {"S": "1"}}),
                     "--condition-expression", "attribute_not_exists(id)", check=False)
    assert result.returncode != 0
    assert "ConditionalCheckFailedException" in result.stderr
    assert name in aws_cli("dynamodb", "list-tables")["TableNames"]
    aws_cli("dynamodb", "delete-table", "--table-name", name)
