"""`nimbus serve --store postgres://…`: state lives in PostgreSQL, so a server
restarted with a fresh data dir still has it.

The database is a throwaway cluster started by `nimbus-pg-scratch` (built
beside the nimbus binary); a machine without PostgreSQL fails these tests
(scripts/test installs it).
"""

import subprocess
from pathlib import Path

import pytest

from conftest import Server, make_client, nimbus_binary


@pytest.fixture(scope="module")
def postgres_url():
    scratch = Path(nimbus_binary()).parent / "nimbus-pg-scratch"
    process = subprocess.Popen([str(scratch)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    url = process.stdout.readline().strip()
    if not url:
        raise RuntimeError(f"no scratch PostgreSQL: {process.stderr.read()}")
    yield url
    process.stdin.close()  # it stops and removes the cluster
    assert process.wait(timeout=30) == 0


def stop_cleanly(server):
    code = server.stop()
    assert code == 0, f"nimbus did not shut down cleanly (exit {code}):\n{server.output()}"


def test_state_lives_in_postgres_across_restarts(postgres_url):
    first = Server(extra_args=["--store", postgres_url])
    try:
        assert "store:       postgres at postgres://nimbus@127.0.0.1:" in first.output()
        ddb = make_client(first, "dynamodb")
        ddb.create_table(
            TableName="pg-orders",
            AttributeDefinitions=[{"AttributeName": "customer", "AttributeType": "S"},
                                  {"AttributeName": "order", "AttributeType": "N"}],
            KeySchema=[{"AttributeName": "customer", "KeyType": "HASH"},
                       {"AttributeName": "order", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for order in (3, 1, 2):
            ddb.put_item(TableName="pg-orders",
                         Item={"customer": {"S": "ana"}, "order": {"N": str(order)}, "total": {"N": f"{order}.5"}})
        ddb.put_item(TableName="pg-orders", Item={"customer": {"S": "bo"}, "order": {"N": "9"}})
        got = ddb.get_item(TableName="pg-orders", Key={"customer": {"S": "ana"}, "order": {"N": "2"}})
        assert got["Item"]["total"] == {"N": "2.5"}
        make_client(first, "iam").create_user(UserName="pg-user")
        make_client(first, "logs").create_log_group(logGroupName="/pg/app")
    finally:
        stop_cleanly(first)

    # A new data dir: whatever the second server knows came from PostgreSQL.
    second = Server(extra_args=["--store", postgres_url])
    try:
        assert not (Path(second.data_dir) / "store.redb").exists()
        ddb = make_client(second, "dynamodb")
        assert ddb.describe_table(TableName="pg-orders")["Table"]["TableStatus"] == "ACTIVE"
        got = ddb.get_item(TableName="pg-orders", Key={"customer": {"S": "ana"}, "order": {"N": "3"}})
        assert got["Item"] == {"customer": {"S": "ana"}, "order": {"N": "3"}, "total": {"N": "3.5"}}
        page = ddb.query(TableName="pg-orders", KeyConditionExpression="customer = :c",
                         ExpressionAttributeValues={":c": {"S": "ana"}}, ScanIndexForward=False, Limit=2)
        assert [item["order"]["N"] for item in page["Items"]] == ["3", "2"]
        assert page["LastEvaluatedKey"] == {"customer": {"S": "ana"}, "order": {"N": "2"}}
        rest = ddb.query(TableName="pg-orders", KeyConditionExpression="customer = :c",
                         ExpressionAttributeValues={":c": {"S": "ana"}}, ScanIndexForward=False,
                         ExclusiveStartKey=page["LastEvaluatedKey"])
        assert [item["order"]["N"] for item in rest["Items"]] == ["1"]
        assert make_client(second, "iam").get_user(UserName="pg-user")["User"]["UserName"] == "pg-user"
        groups = make_client(second, "logs").describe_log_groups(logGroupNamePrefix="/pg/")["logGroups"]
        assert [g["logGroupName"] for g in groups] == ["/pg/app"]
    finally:
        stop_cleanly(second)


def test_an_unreachable_database_is_a_one_line_error(tmp_path):
    result = subprocess.run(
        [nimbus_binary(), "serve", "--port", "0", "--data-dir", str(tmp_path),
         "--store", "postgres://nimbus:s3cret@127.0.0.1:1/nimbus"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("nimbus: cannot open the PostgreSQL store at postgres://nimbus:***@127.0.0.1:1/nimbus:"), \
        result.stderr
    assert "Connection refused" in lines[-1]
    assert "s3cret" not in result.stderr + result.stdout
    assert "panicked" not in result.stderr
