"""CreateTable, UpdateTable and DeleteTable: AWS's acceptance rules and error wording.

The unchecked client lets requests through that boto3 would refuse locally,
so the server's own answer is what gets asserted.
"""

import pytest
from botocore.config import Config

from test_dynamodb_helpers import create_table, error_of, unique

INVALID = "One or more parameter values were invalid: "


@pytest.fixture
def unchecked(client):
    return client("dynamodb", config=Config(parameter_validation=False, retries={"max_attempts": 1}))


def attr(name, kind="S"):
    return {"AttributeName": name, "AttributeType": kind}


def hash_key(name):
    return {"AttributeName": name, "KeyType": "HASH"}


def range_key(name):
    return {"AttributeName": name, "KeyType": "RANGE"}


def index(name, *key, projection=None):
    projection = {"ProjectionType": "ALL"} if projection is None else projection
    return {"IndexName": name, "KeySchema": list(key), "Projection": projection}


def create_error(ddb, **request):
    request.setdefault("BillingMode", "PAY_PER_REQUEST")
    name = request.pop("TableName", unique())
    return error_of(ddb.create_table, TableName=name, **request)


def test_attribute_definitions_must_match_the_keys(unchecked):
    assert create_error(unchecked, KeySchema=[hash_key("k")], AttributeDefinitions=[attr("k"), attr("k", "N")]) == (
        "ValidationException",
        "Attribute Name is duplicated: k",
    )
    assert create_error(unchecked, KeySchema=[hash_key("k")], AttributeDefinitions=[attr("k"), attr("extra")]) == (
        "ValidationException",
        INVALID + "Number of attributes in KeySchema does not exactly match number of attributes defined in "
        "AttributeDefinitions",
    )
    assert create_error(unchecked, KeySchema=[hash_key("k")], AttributeDefinitions=[attr("other")]) == (
        "ValidationException",
        "Invalid KeySchema: Some index key attribute have no definition",
    )
    # With indexes the wording names both sides.
    assert create_error(
        unchecked,
        KeySchema=[hash_key("k")],
        AttributeDefinitions=[attr("k"), attr("g"), attr("unused")],
        GlobalSecondaryIndexes=[index("by-g", hash_key("g"))],
    ) == ("ValidationException", INVALID + "Some AttributeDefinitions are not used. AttributeDefinitions: [k, g, unused], keys used: [k, g]")
    assert create_error(
        unchecked,
        KeySchema=[hash_key("k")],
        AttributeDefinitions=[attr("k")],
        GlobalSecondaryIndexes=[index("by-g", hash_key("g"))],
    ) == ("ValidationException", INVALID + "Some index key attributes are not defined in AttributeDefinitions. Keys: [k, g], AttributeDefinitions: [k]")
    code, message = create_error(unchecked, KeySchema=[hash_key("k")], AttributeDefinitions=[{"AttributeType": "S"}])
    assert (code, message) == (
        "ValidationException",
        "1 validation error detected: Value null at 'attributeDefinitions.1.member.attributeName' failed to satisfy "
        "constraint: Member must not be null",
    )


@pytest.mark.parametrize("kind", ["BOOL", "BS", "L", "M", "NS", "NULL", "SS"])
def test_only_scalar_key_types(unchecked, kind):
    assert create_error(unchecked, KeySchema=[hash_key("k")], AttributeDefinitions=[attr("k", kind)]) == (
        "ValidationException",
        f"1 validation error detected: Value '{kind}' at 'attributeDefinitions.1.member.attributeType' failed to "
        "satisfy constraint: Member must satisfy enum value set: [B, N, S]",
    )


def test_key_schema_shape(unchecked):
    defs = [attr("a"), attr("b"), attr("c")]
    assert create_error(unchecked, KeySchema=[range_key("a")], AttributeDefinitions=defs[:1]) == (
        "ValidationException",
        "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
    )
    assert create_error(unchecked, KeySchema=[hash_key("a"), hash_key("b")], AttributeDefinitions=defs[:2]) == (
        "ValidationException",
        "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
    )
    assert create_error(
        unchecked, KeySchema=[hash_key("a"), range_key("b"), range_key("c")], AttributeDefinitions=defs
    ) == (
        "ValidationException",
        "1 validation error detected: Value '[KeySchemaElement(attributeName=a, keyType=HASH), "
        "KeySchemaElement(attributeName=b, keyType=RANGE), KeySchemaElement(attributeName=c, keyType=RANGE)]' at "
        "'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2",
    )
    # One attribute named twice: first a definition is missing...
    assert create_error(unchecked, KeySchema=[hash_key("a"), range_key("a")], AttributeDefinitions=defs[:1]) == (
        "ValidationException", "Invalid KeySchema: Some index key attribute have no definition")
    # ...and with the definitions right, the repeated name itself.
    assert create_error(unchecked, KeySchema=[hash_key("a"), range_key("b")], AttributeDefinitions=defs[:2],
                        LocalSecondaryIndexes=[index("lsi", hash_key("a"), range_key("a"))]) == (
        "ValidationException",
        "Invalid KeySchema: Both the Hash Key and the Range Key element in the KeySchema have the same name")
    assert error_of(unchecked.create_table, KeySchema=[hash_key("a")], AttributeDefinitions=defs[:1],
                    BillingMode="PAY_PER_REQUEST") == (
        "ValidationException", "The parameter 'TableName' is required but was not present in the request")


def test_table_class_streams_and_index_lists(unchecked):
    schema = {"KeySchema": [hash_key("k")], "AttributeDefinitions": [attr("k")]}
    for bad in ["standard", "COLD"]:
        assert create_error(unchecked, TableClass=bad, **schema) == (
            "ValidationException",
            "Invalid table-class parameter provided. Please try again with a valid table-class value: "
            "[STANDARD, STANDARD_INFREQUENT_ACCESS].",
        )
    assert create_error(unchecked, StreamSpecification={"StreamEnabled": True}, **schema) == (
        "ValidationException",
        INVALID + "Table is being created with a stream enabled, UpdateViewType is required",
    )
    assert create_error(unchecked, StreamSpecification={}, **schema) == (
        "ValidationException",
        "1 validation error detected: Value null at 'streamSpecification.streamEnabled' failed to satisfy "
        "constraint: Member must not be null",
    )
    assert create_error(unchecked, GlobalSecondaryIndexes=[], **schema) == (
        "ValidationException",
        INVALID + "List of GlobalSecondaryIndexes is empty",
    )
    # A disabled stream and disabled encryption are plain defaults.
    name = unique()
    unchecked.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", StreamSpecification={"StreamEnabled": False},
                           SSESpecification={"Enabled": False}, **schema)
    table = unchecked.describe_table(TableName=name)["Table"]
    assert "StreamSpecification" not in table and "SSEDescription" not in table
    assert "TableClassSummary" not in table


def test_index_projection_rules(unchecked):
    schema = {"KeySchema": [hash_key("k")], "AttributeDefinitions": [attr("k"), attr("g")]}

    def with_projection(projection):
        return create_error(unchecked, GlobalSecondaryIndexes=[index("by-g", hash_key("g"), projection=projection)], **schema)

    assert with_projection({}) == ("ValidationException", INVALID + "Unknown ProjectionType: null")
    assert with_projection({"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x", "x"]}) == (
        "ValidationException",
        INVALID + "Duplicate element in NonKeyAttributes: x",
    )
    assert with_projection({"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x", 7]}) == (
        "SerializationException",
        "NUMBER_VALUE cannot be converted to String",
    )
    assert with_projection({"ProjectionType": "INCLUDE", "NonKeyAttributes": []}) == (
        "ValidationException",
        "1 validation error detected: Value '[]' at 'globalSecondaryIndexes.1.member.projection.nonKeyAttributes' "
        "failed to satisfy constraint: Member must have length greater than or equal to 1",
    )
    code, message = with_projection({"ProjectionType": "INCLUDE", "NonKeyAttributes": [f"a{i}" for i in range(21)]})
    assert code == "ValidationException" and message.endswith("Member must have length less than or equal to 20")
    assert with_projection({"ProjectionType": "KEYS_ONLY", "NonKeyAttributes": ["x"]}) == (
        "ValidationException",
        INVALID + "ProjectionType is KEYS_ONLY, but NonKeyAttributes is specified",
    )
    lsis = [index(f"lsi{i}", hash_key("k"), range_key("r")) for i in range(6)]
    assert create_error(
        unchecked, KeySchema=[hash_key("k"), range_key("s")], AttributeDefinitions=[attr("k"), attr("s"), attr("r")],
        LocalSecondaryIndexes=lsis,
    ) == ("ValidationException", INVALID + "Number of LocalSecondaryIndexes exceeds per-table limit of 5")


def test_delete_table_describes_without_schema(ddb):
    name = create_table(ddb, range_key=("sk", "S"), extra_attributes={"g": "S"},
                        GlobalSecondaryIndexes=[index("by-g", hash_key("g"))])
    described = ddb.describe_table(TableName=name)["Table"]
    deleted = ddb.delete_table(TableName=name)["TableDescription"]
    assert deleted["TableStatus"] == "DELETING"
    assert deleted["TableId"] == described["TableId"] and deleted["TableArn"] == described["TableArn"]
    assert deleted["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert deleted["ProvisionedThroughput"] == {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
    for member in ["KeySchema", "AttributeDefinitions", "CreationDateTime", "GlobalSecondaryIndexes"]:
        assert member in described
        assert member not in deleted


def test_update_table_needs_a_change(unchecked, ddb):
    name = create_table(ddb)
    required = (
        "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates, "
        "SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, ReplicaTransitRoleArn, MultiRegionConsistency, "
        "DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or TableClass is required"
    )
    assert error_of(unchecked.update_table, TableName=name) == ("ValidationException", required)
    assert error_of(unchecked.update_table, TableName=name, GlobalSecondaryIndexUpdates=[]) == ("ValidationException", required)
    assert error_of(unchecked.update_table, TableName=name, AttributeDefinitions=[attr("x")]) == ("ValidationException", required)


def test_update_table_index_actions(unchecked, ddb):
    name = create_table(ddb, range_key=("sk", "S"), extra_attributes={"l": "S"},
                        LocalSecondaryIndexes=[index("by-l", hash_key("pk"), range_key("l"))])
    create = {"Create": index("by-x", hash_key("x"))}
    assert error_of(unchecked.update_table, TableName=name, GlobalSecondaryIndexUpdates=[{}]) == (
        "ValidationException",
        INVALID + "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, "
        "GlobalSecondaryIndexUpdate.Delete must not be null",
    )
    assert error_of(unchecked.update_table, TableName=name, AttributeDefinitions=[attr("x")],
                    GlobalSecondaryIndexUpdates=[{**create, "Delete": {"IndexName": "other"}}]) == (
        "ValidationException",
        INVALID + "Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate object",
    )
    two = [create, {"Create": index("by-y", hash_key("x"))}]
    assert error_of(unchecked.update_table, TableName=name, AttributeDefinitions=[attr("x")],
                    GlobalSecondaryIndexUpdates=two) == (
        "LimitExceededException",
        "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
    )
    # The new index's key types must be given again, even for known attributes.
    assert error_of(unchecked.update_table, TableName=name,
                    GlobalSecondaryIndexUpdates=[{"Create": index("by-l2", hash_key("l"))}]) == (
        "ValidationException",
        INVALID + "AttributeDefinitions is not specified for index: by-l2",
    )
    code, message = error_of(unchecked.update_table, TableName=name, AttributeDefinitions=[attr("l", "N")],
                             GlobalSecondaryIndexUpdates=[{"Create": index("by-l2", hash_key("l"))}])
    assert code == "ValidationException"
    assert message.startswith(INVALID + "Attributes cannot be redefined.")
    assert error_of(unchecked.update_table, TableName=name,
                    GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-l"}}]) == (
        "ValidationException",
        "Cannot delete an index that is not a GlobalSecondaryIndex: by-l",
    )
    # An index of that name exists: that is checked before the definitions.
    assert error_of(unchecked.update_table, TableName=name,
                    GlobalSecondaryIndexUpdates=[{"Create": index("by-l", hash_key("x"))}]) == (
        "ValidationException", "Attempting to create an index which already exists")
    # Nothing above changed the table.
    assert "GlobalSecondaryIndexes" not in ddb.describe_table(TableName=name)["Table"]


def test_gsi_backfill_skips_values_no_key_may_hold(ddb):
    name = create_table(ddb, range_key=("sk", "S"))
    items = {
        "fits": "x" * 1024,
        "empty": "",
        "long-for-range": "y" * 1025,
        "too-long": "z" * 2049,
        "number": None,
    }
    for sk, value in items.items():
        item = {"pk": {"S": "p"}, "sk": {"S": sk}}
        item["v"] = {"N": "5"} if value is None else {"S": value}
        ddb.put_item(TableName=name, Item=item)
    by_hash = {"Create": index("by-v", hash_key("v"))}
    ddb.update_table(TableName=name, AttributeDefinitions=[attr("v")], GlobalSecondaryIndexUpdates=[by_hash])
    hashed = {i["sk"]["S"] for i in ddb.scan(TableName=name, IndexName="by-v")["Items"]}
    assert hashed == {"fits", "long-for-range"}
    by_range = {"Create": index("by-sk-v", hash_key("sk"), range_key("v"))}
    ddb.update_table(TableName=name, AttributeDefinitions=[attr("sk"), attr("v")], GlobalSecondaryIndexUpdates=[by_range])
    ranged = {i["sk"]["S"] for i in ddb.scan(TableName=name, IndexName="by-sk-v")["Items"]}
    assert ranged == {"fits"}
    # Once the index exists, a write with the wrong type for its key is refused.
    code, message = error_of(ddb.put_item, TableName=name, Item={"pk": {"S": "p"}, "sk": {"S": "n"}, "v": {"N": "1"}})
    assert code == "ValidationException" and "mismatch" in message


def test_update_table_streams_and_class(ddb):
    name = create_table(ddb)
    assert error_of(ddb.update_table, TableName=name, StreamSpecification={"StreamEnabled": False}) == (
        "ValidationException",
        f"Table has no stream to disable: TableName: {name}",
    )
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    assert error_of(ddb.update_table, TableName=name,
                    StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}) == (
        "ValidationException",
        f"Table already has an enabled stream: TableName: {name}",
    )
    assert error_of(ddb.update_table, TableName=name,
                    StreamSpecification={"StreamEnabled": False, "StreamViewType": "KEYS_ONLY"}) == (
        "ValidationException",
        INVALID + "If stream is being disabled, then UpdateViewType must not be specified",
    )
    ddb.update_table(TableName=name, TableClass="STANDARD_INFREQUENT_ACCESS")
    summary = ddb.describe_table(TableName=name)["Table"]["TableClassSummary"]
    assert summary["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert "LastUpdateDateTime" in summary


def test_update_table_changes_that_must_come_alone(ddb):
    name = create_table(ddb)
    for extra in [{"TableClass": "STANDARD"}, {"DeletionProtectionEnabled": True}, {"SSESpecification": {"Enabled": True}}]:
        what = {"TableClass": "TableClass", "DeletionProtectionEnabled": "DeletionProtection",
                "SSESpecification": "Server-Side Encryption"}[next(iter(extra))]
        assert error_of(ddb.update_table, TableName=name, BillingMode="PAY_PER_REQUEST", **extra) == (
            "ValidationException", INVALID + f"{what} modification must be the only operation in the request")
    assert error_of(ddb.update_table, TableName=name, AttributeDefinitions=[attr("x")],
                    StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
                    GlobalSecondaryIndexUpdates=[{"Create": index("by-x", hash_key("x"))}]) == (
        "ValidationException", INVALID + "You cannot create or delete index while changing stream status")
    assert error_of(ddb.update_table, TableName=name, BillingMode="PAY_PER_REQUEST",
                    ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}) == (
        "ValidationException", INVALID + "ProvisionedThroughput cannot be specified when BillingMode is PAY_PER_REQUEST")
    assert error_of(ddb.update_table, TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}) == (
        "ValidationException",
        INVALID + "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST")
    assert error_of(ddb.update_table, TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "ghost"}}]) == (
        "ResourceNotFoundException", f"Requested resource not found: Index ghost for table {name}")
    # Each one alone is fine.
    ddb.update_table(TableName=name, DeletionProtectionEnabled=True)
    ddb.update_table(TableName=name, DeletionProtectionEnabled=False)
    ddb.update_table(TableName=name, TableClass="STANDARD")


def test_switch_to_provisioned_with_gsi_throughput(ddb):
    name = create_table(ddb, extra_attributes={"g": "S"}, GlobalSecondaryIndexes=[index("by-g", hash_key("g"))])
    ddb.update_table(TableName=name, BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": 4, "WriteCapacityUnits": 5},
                     GlobalSecondaryIndexUpdates=[{"Update": {"IndexName": "by-g", "ProvisionedThroughput": {
                         "ReadCapacityUnits": 2, "WriteCapacityUnits": 3}}}])
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert (table["ProvisionedThroughput"]["ReadCapacityUnits"], table["ProvisionedThroughput"]["WriteCapacityUnits"]) == (4, 5)
    [gsi] = table["GlobalSecondaryIndexes"]
    assert (gsi["ProvisionedThroughput"]["ReadCapacityUnits"], gsi["ProvisionedThroughput"]["WriteCapacityUnits"]) == (2, 3)


def test_throughput_bounds(unchecked, ddb):
    too_much = {"ReadCapacityUnits": 1000000000001, "WriteCapacityUnits": 5}
    assert create_error(unchecked, BillingMode="PROVISIONED", ProvisionedThroughput=too_much,
                        KeySchema=[hash_key("k")], AttributeDefinitions=[attr("k")]) == (
        "ValidationException", "Given value 1000000000001 for ReadCapacityUnits is out of bounds")
    assert create_error(unchecked, BillingMode="PROVISIONED", KeySchema=[hash_key("k")], AttributeDefinitions=[attr("k")],
                        ProvisionedThroughput={"ReadCapacityUnits": 0}) == (
        "ValidationException",
        "2 validation errors detected: Value null at 'provisionedThroughput.writeCapacityUnits' failed to satisfy "
        "constraint: Member must not be null; Value '0' at 'provisionedThroughput.readCapacityUnits' failed to "
        "satisfy constraint: Member must have value greater than or equal to 1",
    )
    name = create_table(ddb, BillingMode="PROVISIONED", ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    assert error_of(unchecked.update_table, TableName=name,
                    ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 2000000000000}) == (
        "ValidationException", "Given value 2000000000000 for WriteCapacityUnits is out of bounds")


def test_new_gsi_is_reported_creating_then_active(ddb):
    name = create_table(ddb)
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "g": {"S": "x"}})
    resp = ddb.update_table(TableName=name, AttributeDefinitions=[attr("g")],
                            GlobalSecondaryIndexUpdates=[{"Create": index("by-g", hash_key("g"))}])["TableDescription"]
    assert resp["TableStatus"] == "UPDATING"
    assert resp["GlobalSecondaryIndexes"][0]["IndexStatus"] == "CREATING"
    table = ddb.describe_table(TableName=name)["Table"]
    [gsi] = table["GlobalSecondaryIndexes"]
    assert gsi["IndexStatus"] == "ACTIVE" and gsi["ItemCount"] == 1
    assert "Backfilling" not in gsi
    assert {a["AttributeName"] for a in table["AttributeDefinitions"]} == {"pk", "g"}
    # Dropping the index drops the definition only it used; the response
    # still shows the index, being deleted.
    resp = ddb.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-g"}}])
    assert resp["TableDescription"]["TableStatus"] == "UPDATING"
    assert [(g["IndexName"], g["IndexStatus"]) for g in resp["TableDescription"]["GlobalSecondaryIndexes"]] == [
        ("by-g", "DELETING")]
    table = ddb.describe_table(TableName=name)["Table"]
    assert "GlobalSecondaryIndexes" not in table
    assert table["AttributeDefinitions"] == [attr("pk")]


def test_encryption_settings(unchecked, ddb):
    schema = {"KeySchema": [hash_key("k")], "AttributeDefinitions": [attr("k")]}
    for spec, message in [
        ({"Enabled": False, "SSEType": "KMS"}, "SSEType can not be specified if Enabled is false"),
        ({"Enabled": False, "KMSMasterKeyId": "alias/mine"}, "KMSMasterKeyId can not be specified if Enabled is false"),
        ({"Enabled": True, "SSEType": "AES256"}, "SSEType AES256 is not supported"),
        ({"Enabled": True, "KMSMasterKeyId": "alias/mine"}, "SSEType KMS is required if KMSMasterKeyId is specified"),
    ]:
        assert create_error(unchecked, SSESpecification=spec, **schema) == ("ValidationException", INVALID + message)
    assert create_error(unchecked, SSESpecification={"SSEType": "kms"}, **schema) == (
        "ValidationException",
        "1 validation error detected: Value 'kms' at 'sSESpecification.sSEType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [AES256, KMS]",
    )
    # SSEType KMS alone turns customer-visible encryption on.
    name = unique()
    unchecked.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", SSESpecification={"SSEType": "KMS"}, **schema)
    sse = unchecked.describe_table(TableName=name)["Table"]["SSEDescription"]
    assert sse["Status"] == "ENABLED" and sse["SSEType"] == "KMS" and sse["KMSMasterKeyArn"].startswith("arn:aws:kms:")
    plain = create_table(ddb)
    assert error_of(ddb.update_table, TableName=plain, SSESpecification={"Enabled": False}) == (
        "ValidationException", INVALID + "Table is already encrypted by default")


def test_disabled_stream_keeps_its_arn(ddb):
    name = create_table(ddb, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    first = ddb.describe_table(TableName=name)["Table"]
    assert first["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    disabled = ddb.describe_table(TableName=name)["Table"]
    assert "StreamSpecification" not in disabled
    assert disabled["LatestStreamArn"] == first["LatestStreamArn"]
    assert error_of(ddb.update_table, TableName=name, StreamSpecification={"StreamEnabled": True}) == (
        "ValidationException", INVALID + "If stream is being enabled then UpdateViewType is required")
    assert error_of(ddb.update_table, TableName=name, BillingMode="PROVISIONED",
                    ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                    StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}) == (
        "ValidationException", INVALID + "You cannot modify stream status while updating table IOPS")


def test_gsi_throughput_must_match_billing_mode(unchecked, ddb):
    pt = {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
    schema = {"KeySchema": [hash_key("k")], "AttributeDefinitions": [attr("k"), attr("g")]}
    assert create_error(unchecked, BillingMode="PROVISIONED", ProvisionedThroughput=pt,
                        GlobalSecondaryIndexes=[index("by-g", hash_key("g"))], **schema) == (
        "ValidationException", INVALID + "ProvisionedThroughput is not specified for index: by-g")
    assert create_error(unchecked, GlobalSecondaryIndexes=[{**index("by-g", hash_key("g")), "ProvisionedThroughput": pt}],
                        **schema) == (
        "ValidationException",
        INVALID + "ProvisionedThroughput should not be specified for index: by-g when BillingMode is PAY_PER_REQUEST")
    on_demand = create_table(ddb)
    assert error_of(ddb.update_table, TableName=on_demand, AttributeDefinitions=[attr("g")],
                    GlobalSecondaryIndexUpdates=[{"Create": {**index("by-g", hash_key("g")), "ProvisionedThroughput": pt}}]) == (
        "ValidationException",
        INVALID + "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified for index: by-g when BillingMode "
        "is PAY_PER_REQUEST")
    provisioned = create_table(ddb, BillingMode="PROVISIONED", ProvisionedThroughput=pt)
    assert error_of(ddb.update_table, TableName=provisioned, AttributeDefinitions=[attr("g")],
                    GlobalSecondaryIndexUpdates=[{"Create": index("by-g", hash_key("g"))}]) == (
        "ValidationException", INVALID + "ProvisionedThroughput must be specified for index: by-g")


def test_on_demand_throughput_caps(unchecked, ddb):
    caps = lambda read, write: {"MaxReadRequestUnits": read, "MaxWriteRequestUnits": write}
    name = create_table(ddb, OnDemandThroughput=caps(10, 5))
    assert ddb.describe_table(TableName=name)["Table"]["OnDemandThroughput"] == caps(10, 5)
    ddb.update_table(TableName=name, OnDemandThroughput=caps(20, 15))
    assert ddb.describe_table(TableName=name)["Table"]["OnDemandThroughput"] == caps(20, 15)
    ddb.update_table(TableName=name, OnDemandThroughput=caps(-1, 15))
    assert ddb.describe_table(TableName=name)["Table"]["OnDemandThroughput"] == caps(-1, 15)
    assert error_of(ddb.update_table, TableName=name, OnDemandThroughput=caps(0, 15)) == (
        "ValidationException",
        INVALID + "Requested MaxReadRequestUnits for OnDemandThroughput for table is outside of valid range")
    assert error_of(ddb.update_table, TableName=name, OnDemandThroughput=caps(5, 5),
                    StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}) == (
        "ValidationException", INVALID + "OnDemandThroughput can only be combined with BillingMode in an UpdateTable request")
    assert create_error(unchecked, BillingMode="PROVISIONED", ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                        OnDemandThroughput=caps(5, 5), KeySchema=[hash_key("k")], AttributeDefinitions=[attr("k")]) == (
        "ValidationException",
        INVALID + "MaxReadRequestUnits for OnDemandThroughput cannot be specified when the table BillingMode is PROVISIONED")
    assert create_error(unchecked, OnDemandThroughput=caps(-1, 5), KeySchema=[hash_key("k")], AttributeDefinitions=[attr("k")]) == (
        "ValidationException",
        INVALID + "Requested MaxReadRequestUnits for OnDemandThroughput for table is outside of valid range")


def test_gsi_definitions_come_from_the_request(ddb):
    name = create_table(ddb, range_key=("sk", "S"))
    # Stored definitions do not count for a new index's keys...
    code, message = error_of(ddb.update_table, TableName=name, AttributeDefinitions=[attr("g")],
                             GlobalSecondaryIndexUpdates=[{"Create": index("by-pk-g", hash_key("pk"), range_key("g"))}])
    assert code == "ValidationException" and "Some index key attributes are not defined in AttributeDefinitions" in message
    # ...and a conflicting redeclaration of a key the new index does not use is ignored.
    resp = ddb.update_table(TableName=name, AttributeDefinitions=[attr("pk", "N"), attr("g")],
                            GlobalSecondaryIndexUpdates=[{"Create": index("by-g", hash_key("g"))}])["TableDescription"]
    assert sorted(resp["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [attr("g"), attr("pk"), attr("sk")]
    ddb.put_item(TableName=name, Item={"pk": {"S": "still-a-string"}, "sk": {"S": "1"}})


def test_unchanged_throughput_is_refused(ddb):
    pt = {"ReadCapacityUnits": 3, "WriteCapacityUnits": 4}
    name = create_table(ddb, BillingMode="PROVISIONED", ProvisionedThroughput=pt)
    unchanged = (
        "ValidationException",
        "The provisioned throughput for the table will not change. The requested value equals the current value. "
        "Current ReadCapacityUnits provisioned for the table: 3. Requested ReadCapacityUnits: 3. Current "
        "WriteCapacityUnits provisioned for the table: 4. Requested WriteCapacityUnits: 4. Refer to the Amazon "
        "DynamoDB Developer Guide for current limits and how to request higher limits.",
    )
    assert error_of(ddb.update_table, TableName=name, ProvisionedThroughput=pt) == unchanged
    # Naming the mode the table already has changes nothing either.
    assert error_of(ddb.update_table, TableName=name, BillingMode="PROVISIONED", ProvisionedThroughput=pt) == unchanged
    ddb.update_table(TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 5})
    throughput = ddb.describe_table(TableName=name)["Table"]["ProvisionedThroughput"]
    assert (throughput["WriteCapacityUnits"], "LastIncreaseDateTime" in throughput) == (5, True)
