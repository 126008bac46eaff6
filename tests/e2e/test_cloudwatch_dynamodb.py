"""CloudWatch fed by DynamoDB: the AWS/DynamoDB metrics, as CloudWatch names
and dimensions them, after real requests — capacity sums equal what the
responses reported, SuccessfulRequestLatency counts the successful requests,
a failed condition counts in ConditionalCheckFailedRequests — and the same
numbers on the Prometheus endpoint."""

import datetime
import time
import urllib.request
import uuid

from prometheus_client.parser import text_string_to_metric_families

N = 5


def wait_for(check, timeout=30):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value or time.time() > deadline:
            return value
        time.sleep(0.3)


def statistics(cw, name, dimensions):
    """(SampleCount, Sum) of a metric over the last ten minutes."""
    now = datetime.datetime.now(datetime.timezone.utc)
    points = cw.get_metric_statistics(
        Namespace="AWS/DynamoDB", MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - datetime.timedelta(minutes=10), EndTime=now + datetime.timedelta(minutes=1),
        Period=60, Statistics=["SampleCount", "Sum"])["Datapoints"]
    return sum(p["SampleCount"] for p in points), sum(p["Sum"] for p in points)


def create_table(ddb, name, gsi=False):
    extra = {}
    definitions = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}]
    if gsi:
        definitions.append({"AttributeName": "colour", "AttributeType": "S"})
        extra["GlobalSecondaryIndexes"] = [{
            "IndexName": "by-colour", "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}}]
    ddb.create_table(TableName=name, AttributeDefinitions=definitions, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}], **extra)


def test_cloudwatch_dynamodb_metrics_match_the_responses(ddb, client, nimbus):
    cw = client("cloudwatch")
    table = f"cw-ddb-{uuid.uuid4().hex[:8]}"
    create_table(ddb, table)

    written = read = 0.0
    for i in range(N):
        # Sizes across the 1 KB write unit: 1 or 2 units each.
        item = {"pk": {"S": "p"}, "sk": {"N": str(i)}, "blob": {"S": "x" * (600 * i)}}
        r = ddb.put_item(TableName=table, Item=item, ReturnConsumedCapacity="TOTAL")
        written += r["ConsumedCapacity"]["CapacityUnits"]
    for i in range(N):
        r = ddb.get_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"N": str(i)}}, ConsistentRead=i % 2 == 0,
                         ReturnConsumedCapacity="TOTAL")
        read += r["ConsumedCapacity"]["CapacityUnits"]
    returned = 0
    for forward in (True, False):
        r = ddb.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}},
                      ScanIndexForward=forward, Limit=3, ReturnConsumedCapacity="TOTAL")
        read += r["ConsumedCapacity"]["CapacityUnits"]
        returned += r["Count"]
    try:
        ddb.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"N": "0"}},
                     ConditionExpression="attribute_not_exists(pk)")
        raise AssertionError("the condition should have failed")
    except ddb.exceptions.ConditionalCheckFailedException:
        pass
    try:
        ddb.get_item(TableName=table, Key={"nope": {"S": "x"}})
        raise AssertionError("a key of the wrong schema should fail")
    except ddb.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "ValidationException"
    assert written > N and read > 0 and returned == 6

    by_table = {"TableName": table}
    latency = lambda op: statistics(cw, "SuccessfulRequestLatency", {**by_table, "Operation": op})  # noqa: E731
    # Reported once a second: wait for the last request's period.
    assert wait_for(lambda: latency("Query")[0] == 2 and statistics(cw, "UserErrors", {})[0] >= 1), \
        "the DynamoDB metrics did not arrive"
    assert latency("PutItem")[0] == N  # the failed condition is not a success
    assert latency("GetItem")[0] == N
    assert latency("PutItem")[1] > 0
    assert statistics(cw, "ConsumedWriteCapacityUnits", by_table) == (N, written)
    assert statistics(cw, "ConsumedReadCapacityUnits", by_table) == (N + 2, read)
    assert statistics(cw, "ConditionalCheckFailedRequests", by_table)[1] == 1
    assert statistics(cw, "ReturnedItemCount", {**by_table, "Operation": "Query"}) == (2, returned)
    names = {m["MetricName"] for m in cw.list_metrics(Namespace="AWS/DynamoDB", Dimensions=[
        {"Name": "TableName", "Value": table}])["Metrics"]}
    assert {"SuccessfulRequestLatency", "ConsumedWriteCapacityUnits", "ConsumedReadCapacityUnits",
            "ConditionalCheckFailedRequests", "ReturnedItemCount"} <= names

    with urllib.request.urlopen(f"{nimbus.endpoint}/_nimbus/metrics") as r:
        families = {f.name: f for f in text_string_to_metric_families(r.read().decode())}

    def sample(family, suffix, labels):
        found = [s.value for s in families[family].samples if s.name == family + suffix and s.labels == labels]
        assert len(found) == 1, (family, labels, families[family].samples)
        return found[0]

    put = {"table_name": table, "operation": "PutItem"}
    assert families["nimbus_dynamodb_successful_request_latency_seconds"].type == "histogram"
    assert sample("nimbus_dynamodb_successful_request_latency_seconds", "_count", put) == N
    assert sample("nimbus_dynamodb_successful_request_latency_seconds", "_bucket", {**put, "le": "+Inf"}) == N
    assert sample("nimbus_dynamodb_consumed_write_capacity_units", "_total", {"table_name": table}) == written
    assert sample("nimbus_dynamodb_consumed_read_capacity_units", "_total", {"table_name": table}) == read
    assert sample("nimbus_dynamodb_conditional_check_failed_requests", "_total", {"table_name": table}) == 1
    assert sample("nimbus_dynamodb_returned_item_count", "_total", {**put, "operation": "Query"}) == returned


def test_cloudwatch_dynamodb_index_capacity_has_its_own_series(ddb, client):
    cw = client("cloudwatch")
    table = f"cw-ddb-{uuid.uuid4().hex[:8]}"
    create_table(ddb, table, gsi=True)
    total = index = 0.0
    for i in range(3):
        r = ddb.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "colour": {"S": "red"}},
                         ReturnConsumedCapacity="INDEXES")
        total += r["ConsumedCapacity"]["CapacityUnits"]
        index += r["ConsumedCapacity"]["GlobalSecondaryIndexes"]["by-colour"]["CapacityUnits"]
    r = ddb.query(TableName=table, IndexName="by-colour", KeyConditionExpression="colour = :c",
                  ExpressionAttributeValues={":c": {"S": "red"}}, ReturnConsumedCapacity="INDEXES")
    index_read = r["ConsumedCapacity"]["GlobalSecondaryIndexes"]["by-colour"]["CapacityUnits"]
    assert index > 0 and total > index and index_read > 0

    gsi = {"TableName": table, "GlobalSecondaryIndexName": "by-colour"}
    assert wait_for(lambda: statistics(cw, "ConsumedReadCapacityUnits", gsi)[0] == 1), "no index read metric"
    # The table's series counts the table and all its indexes; the index's only the index.
    assert statistics(cw, "ConsumedWriteCapacityUnits", {"TableName": table}) == (3, total)
    assert statistics(cw, "ConsumedWriteCapacityUnits", gsi) == (3, index)
    assert statistics(cw, "ConsumedReadCapacityUnits", gsi) == (1, index_read)
