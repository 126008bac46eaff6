"""DynamoDB table operations against Nimbus, with boto3."""

from test_dynamodb_helpers import create_table, error_of, unique


def test_create_describe_list_delete(ddb):
    name = unique()
    resp = ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 7},
        Tags=[{"Key": "team", "Value": "core"}],
    )
    desc = resp["TableDescription"]
    assert desc["TableName"] == name
    assert desc["TableStatus"] == "CREATING"
    assert desc["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert desc["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert desc["TableArn"] == f"arn:aws:dynamodb:us-east-1:000000000000:table/{name}"
    ddb.get_waiter("table_exists").wait(TableName=name)
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["ItemCount"] == 0
    assert table["DeletionProtectionEnabled"] is False
    assert name in ddb.list_tables()["TableNames"]
    assert ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"] == [{"Key": "team", "Value": "core"}]
    deleted = ddb.delete_table(TableName=name)["TableDescription"]
    assert deleted["TableStatus"] == "DELETING"
    ddb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    assert error_of(ddb.describe_table, TableName=name) == (
        "ResourceNotFoundException",
        f"Requested resource not found: Table: {name} not found",
    )


def test_create_table_errors(ddb):
    name = create_table(ddb)
    assert error_of(
        ddb.create_table,
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    ) == ("ResourceInUseException", f"Table already exists: {name}")
    code, message = error_of(
        ddb.create_table,
        TableName="ab",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert code == "ValidationException"
    assert message == (
        "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 3"
    )
    assert error_of(
        ddb.create_table,
        TableName=unique(),
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "x", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    ) == (
        "ValidationException",
        "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number "
        "of attributes defined in AttributeDefinitions",
    )
    assert error_of(
        ddb.create_table,
        TableName=unique(),
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    ) == ("ValidationException", "No provisioned throughput specified for the table")


def test_list_tables_paginates(ddb):
    names = sorted(create_table(ddb, name=unique("page")) for _ in range(3))
    first = ddb.list_tables(Limit=1, ExclusiveStartTableName=names[0][:-1])
    assert first["TableNames"] == [names[0]]
    assert first["LastEvaluatedTableName"] == names[0]
    paginator = ddb.get_paginator("list_tables")
    seen = [n for page in paginator.paginate(PaginationConfig={"PageSize": 2}) for n in page["TableNames"]]
    assert set(names) <= set(seen)


def test_update_table_billing_protection_and_gsi_backfill(ddb):
    name = create_table(ddb, range_key=("sk", "N"))
    for i in range(4):
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "color": {"S": "red" if i % 2 else "blue"}})
    resp = ddb.update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "color", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by-color",
                    "KeySchema": [{"AttributeName": "color", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )
    assert resp["TableDescription"]["GlobalSecondaryIndexes"][0]["IndexName"] == "by-color"
    reds = ddb.query(
        TableName=name,
        IndexName="by-color",
        KeyConditionExpression="color = :c",
        ExpressionAttributeValues={":c": {"S": "red"}},
    )
    assert [i["sk"]["N"] for i in reds["Items"]] == ["1", "3"]
    ddb.update_table(TableName=name, DeletionProtectionEnabled=True)
    assert error_of(ddb.delete_table, TableName=name) == (
        "ValidationException",
        "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
    )
    ddb.update_table(TableName=name, DeletionProtectionEnabled=False)
    # Switching to PROVISIONED needs throughput for every GSI too, and a GSI
    # may not be dropped in the same request as a table throughput change.
    switch = {"BillingMode": "PROVISIONED", "ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 3}}
    assert error_of(ddb.update_table, TableName=name, **switch) == (
        "ValidationException",
        "One or more parameter values were invalid: ProvisionedThroughput must be specified for index: by-color",
    )
    assert error_of(ddb.update_table, TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-color"}}],
                    **switch) == (
        "ValidationException",
        "One or more parameter values were invalid: You cannot create or delete index while updating table IOPS",
    )
    ddb.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-color"}}])
    ddb.update_table(TableName=name, **switch)
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
    assert "GlobalSecondaryIndexes" not in table
    ddb.delete_table(TableName=name)


def test_tags_ttl_limits_endpoints(ddb):
    name = create_table(ddb)
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ddb.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    spec = ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert spec["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "exp"}
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "exp",
    }
    assert error_of(ddb.update_time_to_live, TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"}) == (
        "ValidationException",
        "TimeToLive is already enabled",
    )
    limits = ddb.describe_limits()
    assert limits["TableMaxReadCapacityUnits"] == 40000
    assert ddb.describe_endpoints()["Endpoints"][0]["CachePeriodInMinutes"] == 1440


def test_resource_api_creates_and_waits(ddb_resource):
    name = unique()
    table = ddb_resource.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table.wait_until_exists()
    table.reload()
    assert table.table_status == "ACTIVE"
    assert table.key_schema == [{"AttributeName": "id", "KeyType": "HASH"}]
    table.delete()


def test_control_plane_operations_take_the_table_arn(ddb):
    name = create_table(ddb)
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    assert ddb.describe_table(TableName=arn)["Table"]["TableName"] == name
    ddb.update_time_to_live(TableName=arn, TimeToLiveSpecification={"AttributeName": "exp", "Enabled": True})
    assert ddb.describe_time_to_live(TableName=arn)["TimeToLiveDescription"]["AttributeName"] == "exp"
    ddb.update_table(TableName=arn, TableClass="STANDARD_INFREQUENT_ACCESS")
    other_region = arn.replace(":us-east-1:", ":us-west-2:")
    assert error_of(ddb.describe_table, TableName=other_region)[0] == "ResourceNotFoundException"
    assert ddb.delete_table(TableName=arn)["TableDescription"]["TableName"] == name
    assert name not in ddb.list_tables()["TableNames"]
