"""API Gateway REST APIs: the apigateway (v1) management API through boto3,
and the data plane over plain HTTP with MOCK and HTTP_PROXY integrations,
API keys, usage plans and throttling. Lambda-backed methods and authorizers
are in test_apigateway_lambda.py."""

import json

import botocore
import pytest

import raw
from test_apigateway_http import backend  # noqa: F401  (a real HTTP backend fixture)


@pytest.fixture
def apigw(client):
    return client("apigateway")


def call(nimbus, api_id, method, path, headers=None, body=b""):
    host = f"{api_id}.execute-api.localhost:{nimbus.port}"
    return raw.send(nimbus.endpoint, method, path, {"Host": host, **(headers or {})}, body)


def mock_method(apigw, api_id, resource_id, http_method="GET", status="200", body='{"ok": true}', api_key=False):
    apigw.put_method(restApiId=api_id, resourceId=resource_id, httpMethod=http_method, authorizationType="NONE",
                     apiKeyRequired=api_key)
    apigw.put_integration(restApiId=api_id, resourceId=resource_id, httpMethod=http_method, type="MOCK",
                          requestTemplates={"application/json": json.dumps({"statusCode": int(status)})})
    apigw.put_method_response(restApiId=api_id, resourceId=resource_id, httpMethod=http_method, statusCode=status,
                              responseParameters={"method.response.header.X-Mock": True})
    apigw.put_integration_response(restApiId=api_id, resourceId=resource_id, httpMethod=http_method, statusCode=status,
                                   responseTemplates={"application/json": body},
                                   responseParameters={"method.response.header.X-Mock": "'yes'"})


def new_api(apigw, name="rest"):
    api = apigw.create_rest_api(name=name, description="test api")
    return api["id"], api["rootResourceId"]


def test_rest_api_lifecycle(apigw):
    api = apigw.create_rest_api(name="lifecycle", tags={"k": "v"})
    assert api["name"] == "lifecycle" and api["apiKeySource"] == "HEADER"
    assert api["endpointConfiguration"] == {"types": ["EDGE"]}
    assert api["createdDate"]
    root = [r for r in apigw.get_resources(restApiId=api["id"])["items"] if r["path"] == "/"]
    assert root and root[0]["id"] == api["rootResourceId"]
    assert any(a["id"] == api["id"] for a in apigw.get_rest_apis()["items"])
    updated = apigw.update_rest_api(restApiId=api["id"], patchOperations=[{"op": "replace", "path": "/description", "value": "new"}])
    assert updated["description"] == "new"
    apigw.delete_rest_api(restApiId=api["id"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.get_rest_api(restApiId=api["id"])
    assert e.value.response["Error"]["Code"] == "NotFoundException"


def test_resources_methods_and_errors(apigw):
    api_id, root = new_api(apigw)
    pets = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="pets")
    assert pets["path"] == "/pets" and pets["parentId"] == root
    pet = apigw.create_resource(restApiId=api_id, parentId=pets["id"], pathPart="{petId}")
    assert pet["path"] == "/pets/{petId}"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_resource(restApiId=api_id, parentId=root, pathPart="pets")
    assert e.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.put_integration(restApiId=api_id, resourceId=pet["id"], httpMethod="GET", type="MOCK")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    method = apigw.put_method(restApiId=api_id, resourceId=pet["id"], httpMethod="GET", authorizationType="NONE")
    assert method["httpMethod"] == "GET" and method["apiKeyRequired"] is False
    integ = apigw.put_integration(restApiId=api_id, resourceId=pet["id"], httpMethod="GET", type="AWS_PROXY",
                                  integrationHttpMethod="POST",
                                  uri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:f/invocations")
    assert integ["type"] == "AWS_PROXY" and integ["timeoutInMillis"] == 29000 and integ["passthroughBehavior"] == "WHEN_NO_MATCH"
    got = apigw.get_method(restApiId=api_id, resourceId=pet["id"], httpMethod="GET")
    assert got["methodIntegration"]["type"] == "AWS_PROXY"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_deployment(restApiId="nope", stageName="x")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    apigw.delete_resource(restApiId=api_id, resourceId=pets["id"])
    paths = {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert paths == {"/"}, "deleting a resource deletes its children"


def test_mock_integration_deployment_and_stages(nimbus, apigw):
    api_id, root = new_api(apigw)
    hello = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="hello")
    mock_method(apigw, api_id, hello["id"], body='{"greeting": "hi"}')
    with pytest.raises(botocore.exceptions.ClientError):
        apigw.create_stage(restApiId=api_id, stageName="dev", deploymentId="missing")
    deployment = apigw.create_deployment(restApiId=api_id, stageName="dev", description="first")
    stage = apigw.get_stage(restApiId=api_id, stageName="dev")
    assert stage["deploymentId"] == deployment["id"]
    reply = call(nimbus, api_id, "GET", "/dev/hello")
    assert reply.status == 200, reply.text
    assert reply.json() == {"greeting": "hi"}
    assert reply.headers["x-mock"] == "yes"
    # REST APIs answer unmatched paths and unknown stages with 403s.
    missing = call(nimbus, api_id, "GET", "/dev/nothing")
    assert missing.status == 403 and missing.json() == {"message": "Missing Authentication Token"}
    assert call(nimbus, api_id, "POST", "/dev/hello").json() == {"message": "Missing Authentication Token"}
    assert call(nimbus, api_id, "GET", "/nostage/hello").status == 403
    # A second stage from an explicit deployment, and stage variables by patch.
    apigw.create_stage(restApiId=api_id, stageName="prod", deploymentId=deployment["id"], variables={"a": "1"})
    patched = apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/variables/b", "value": "2"},
        {"op": "replace", "path": "/description", "value": "production"},
    ])
    assert patched["variables"] == {"a": "1", "b": "2"} and patched["description"] == "production"
    assert {s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]} == {"dev", "prod"}
    assert call(nimbus, api_id, "GET", "/prod/hello").status == 200


def test_stage_throttling_returns_429(nimbus, apigw):
    api_id, root = new_api(apigw)
    r = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="t")
    mock_method(apigw, api_id, r["id"])
    apigw.create_deployment(restApiId=api_id, stageName="s")
    apigw.update_stage(restApiId=api_id, stageName="s", patchOperations=[
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "2"},
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "0.1"},
    ])
    statuses = [call(nimbus, api_id, "GET", "/s/t").status for _ in range(4)]
    assert statuses[:2] == [200, 200] and statuses[2:] == [429, 429], statuses
    assert call(nimbus, api_id, "GET", "/s/t").json() == {"message": "Too Many Requests"}


def test_api_keys_usage_plans_and_quota(nimbus, apigw):
    api_id, root = new_api(apigw)
    r = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="paid")
    mock_method(apigw, api_id, r["id"], api_key=True)
    apigw.create_deployment(restApiId=api_id, stageName="v1")
    key = apigw.create_api_key(name="customer", enabled=True)
    assert len(key["value"]) >= 20
    assert "value" not in apigw.get_api_key(apiKey=key["id"])
    assert apigw.get_api_key(apiKey=key["id"], includeValue=True)["value"] == key["value"]
    plan = apigw.create_usage_plan(name="basic", apiStages=[{"apiId": api_id, "stage": "v1"}],
                                   quota={"limit": 3, "period": "DAY"}, throttle={"burstLimit": 100, "rateLimit": 100})
    assert plan["quota"]["limit"] == 3
    # The key is not in the plan yet: forbidden, as is no key at all.
    assert call(nimbus, api_id, "GET", "/v1/paid", {"x-api-key": key["value"]}).status == 403
    assert call(nimbus, api_id, "GET", "/v1/paid").json() == {"message": "Forbidden"}
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    assert [k["id"] for k in apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [key["id"]]
    statuses = [call(nimbus, api_id, "GET", "/v1/paid", {"x-api-key": key["value"]}).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429], statuses
    assert call(nimbus, api_id, "GET", "/v1/paid", {"x-api-key": key["value"]}).json() == {"message": "Limit Exceeded"}
    assert call(nimbus, api_id, "GET", "/v1/paid", {"x-api-key": "x" * 40}).status == 403
    # A disabled key is refused.
    apigw.update_api_key(apiKey=key["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}])
    assert call(nimbus, api_id, "GET", "/v1/paid", {"x-api-key": key["value"]}).status == 403


def test_http_proxy_method(nimbus, apigw, backend):  # noqa: F811
    api_id, root = new_api(apigw)
    proxy = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")
    apigw.put_method(restApiId=api_id, resourceId=proxy["id"], httpMethod="ANY", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=proxy["id"], httpMethod="ANY", type="HTTP_PROXY",
                          integrationHttpMethod="ANY", uri=backend + "/up/{proxy}")
    apigw.create_deployment(restApiId=api_id, stageName="p")
    reply = call(nimbus, api_id, "PUT", "/p/a/b?q=1", body=b"data")
    assert reply.status == 200, reply.text
    assert reply.json() == {**reply.json(), "method": "PUT", "path": "/up/a/b?q=1", "body": "data"}
