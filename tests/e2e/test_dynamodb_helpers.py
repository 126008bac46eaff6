"""Helpers shared by the DynamoDB e2e tests (no tests here)."""

import uuid

import pytest
from botocore.exceptions import ClientError


def unique(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create_table(ddb, name=None, hash_key=("pk", "S"), range_key=None, **extra):
    name = name or unique()
    attrs = {hash_key[0]: hash_key[1]}
    schema = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
    if range_key:
        attrs[range_key[0]] = range_key[1]
        schema.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
    attrs.update(extra.pop("extra_attributes", {}))
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, t in attrs.items()],
        KeySchema=schema,
        BillingMode=extra.pop("BillingMode", "PAY_PER_REQUEST"),
        **extra,
    )
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    return name


def error_of(call, *args, **kwargs):
    """The (code, message) of the ClientError `call` raises."""
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    err = info.value.response["Error"]
    return err["Code"], err["Message"]
