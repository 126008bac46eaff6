"""Provisioned concurrency: environments initialised before traffic."""

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import create_python


@pytest.fixture
def lam(client):
    return client("lambda")


CODE = """import os, time
def lambda_handler(event, context):
    time.sleep(0.3)
    return os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']
"""


def test_provisioned_environments_serve_without_cold_starts(lam):
    name = create_python(lam, CODE, Publish=True)
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)
    assert e.value.response["Error"]["Message"] == (
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
    )
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    put = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=3)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 3
    assert put["Status"] == "IN_PROGRESS"
    deadline = time.time() + 30
    while True:
        config = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
        if config["Status"] == "READY" or time.time() > deadline:
            break
        time.sleep(0.1)
    assert config["Status"] == "READY"
    assert config["AvailableProvisionedConcurrentExecutions"] == 3

    def call(_):
        result = lam.invoke(FunctionName=name, Qualifier="live", LogType="Tail")
        return json.loads(result["Payload"].read()), base64.b64decode(result["LogResult"]).decode()

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(call, range(3)))
    for body, log in results:
        assert body == "provisioned-concurrency"
        assert "Init Duration" not in log

    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listed] == ["live"]
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert e.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"
