"""Table management through the AWS CLI: indexes, tags, TTL, protection, limits."""

import json

from test_dynamodb_helpers import unique


def test_cli_table_management(aws_cli):
    name = unique("cli-tables")
    created = aws_cli(
        "dynamodb", "create-table", "--table-name", name,
        "--attribute-definitions", "AttributeName=pk,AttributeType=S", "AttributeName=sk,AttributeType=N",
        "--key-schema", "AttributeName=pk,KeyType=HASH", "AttributeName=sk,KeyType=RANGE",
        "--provisioned-throughput", "ReadCapacityUnits=2,WriteCapacityUnits=3",
        "--tags", "Key=team,Value=data", "--table-class", "STANDARD_INFREQUENT_ACCESS",
        "--deletion-protection-enabled",
    )["TableDescription"]
    assert created["ProvisionedThroughput"]["WriteCapacityUnits"] == 3
    assert created["TableClassSummary"] == {"TableClass": "STANDARD_INFREQUENT_ACCESS"}
    aws_cli("dynamodb", "wait", "table-exists", "--table-name", name)
    arn = created["TableArn"]
    aws_cli("dynamodb", "put-item", "--table-name", name,
            "--item", json.dumps({"pk": {"S": "a"}, "sk": {"N": "1"}, "email": {"S": "a@example.com"}}))

    aws_cli("dynamodb", "update-table", "--table-name", name,
            "--attribute-definitions", "AttributeName=email,AttributeType=S",
            "--global-secondary-index-updates", json.dumps([{"Create": {
                "IndexName": "by-email", "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
                "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}}]))
    found = aws_cli("dynamodb", "query", "--table-name", name, "--index-name", "by-email",
                    "--key-condition-expression", "email = :e",
                    "--expression-attribute-values", json.dumps({":e": {"S": "a@example.com"}}))
    assert found["Items"] == [{"pk": {"S": "a"}, "sk": {"N": "1"}, "email": {"S": "a@example.com"}}]

    aws_cli("dynamodb", "tag-resource", "--resource-arn", arn, "--tags", "Key=env,Value=test")
    tags = aws_cli("dynamodb", "list-tags-of-resource", "--resource-arn", arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "test"), ("team", "data")]
    bad = aws_cli("dynamodb", "tag-resource", "--resource-arn", arn, "--tags", "Key=aws:x,Value=1", check=False)
    assert bad.returncode != 0 and "Tag Key cannot be prefixed with aws:" in bad.stderr

    spec = aws_cli("dynamodb", "update-time-to-live", "--table-name", name,
                   "--time-to-live-specification", "Enabled=true,AttributeName=expires")
    assert spec["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "expires"}
    ttl = aws_cli("dynamodb", "describe-time-to-live", "--table-name", name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}

    assert aws_cli("dynamodb", "describe-limits")["TableMaxReadCapacityUnits"] == 40000
    assert aws_cli("dynamodb", "describe-endpoints")["Endpoints"][0]["CachePeriodInMinutes"] == 1440

    protected = aws_cli("dynamodb", "delete-table", "--table-name", name, check=False)
    assert protected.returncode != 0 and "protected against deletion" in protected.stderr
    aws_cli("dynamodb", "update-table", "--table-name", name, "--no-deletion-protection-enabled")
    deleted = aws_cli("dynamodb", "delete-table", "--table-name", name)["TableDescription"]
    assert deleted["TableStatus"] == "DELETING" and "KeySchema" not in deleted
