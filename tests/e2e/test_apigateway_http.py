"""API Gateway HTTP APIs: the apigatewayv2 management API through boto3 and
the AWS CLI, and the data plane over plain HTTP (an HTTP_PROXY backend here;
Lambda-backed routes are in test_apigateway_lambda.py)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore
import pytest

import raw


class Echo(BaseHTTPRequestHandler):
    """A real HTTP backend that answers with what it received."""

    def handle_one(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        reply = json.dumps({"method": self.command, "path": self.path, "body": body,
                            "host": self.headers.get("host")}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("x-backend", "echo")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_one

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def backend():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def apigw(client):
    return client("apigatewayv2")


def call(nimbus, api_id, method, path, headers=None, body=b""):
    """A data-plane request to {api}.execute-api.localhost, sent to 127.0.0.1."""
    host = f"{api_id}.execute-api.localhost:{nimbus.port}"
    return raw.send(nimbus.endpoint, method, path, {"Host": host, **(headers or {})}, body)


def test_create_get_update_delete_api(apigw):
    api = apigw.create_api(Name="pets", ProtocolType="HTTP", Description="d", Tags={"team": "a"})
    api_id = api["ApiId"]
    assert len(api_id) == 10
    assert api["ApiEndpoint"].startswith(f"http://{api_id}.execute-api.localhost:")
    assert api["RouteSelectionExpression"] == "${request.method} ${request.path}"
    assert api["ApiKeySelectionExpression"] == "$request.header.x-api-key"
    assert api["ProtocolType"] == "HTTP"
    assert api["Tags"] == {"team": "a"}
    got = apigw.get_api(ApiId=api_id)
    assert got["Name"] == "pets" and got["Description"] == "d"
    assert any(a["ApiId"] == api_id for a in apigw.get_apis()["Items"])
    updated = apigw.update_api(ApiId=api_id, Name="pets2")
    assert updated["Name"] == "pets2" and updated["Description"] == "d"
    apigw.delete_api(ApiId=api_id)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.get_api(ApiId=api_id)
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert api_id in e.value.response["Error"]["Message"]


def test_websocket_and_bad_input_are_rejected(apigw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_api(Name="ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    api_id = apigw.create_api(Name="x", ProtocolType="HTTP")["ApiId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_route(ApiId=api_id, RouteKey="GET nopath")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_route(ApiId=api_id, RouteKey="GET /a", Target="integrations/nope")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    apigw.create_route(ApiId=api_id, RouteKey="GET /a")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_route(ApiId=api_id, RouteKey="GET /a")
    assert e.value.response["Error"]["Code"] == "ConflictException"


def test_routes_integrations_stages_deployments(apigw, backend):
    api_id = apigw.create_api(Name="crud", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri=backend + "/items",
                                     IntegrationMethod="ANY", PayloadFormatVersion="1.0")
    assert integ["IntegrationType"] == "HTTP_PROXY"
    assert integ["TimeoutInMillis"] == 30000
    assert integ["ConnectionType"] == "INTERNET"
    route = apigw.create_route(ApiId=api_id, RouteKey="GET /items", Target=f"integrations/{integ['IntegrationId']}")
    assert route["AuthorizationType"] == "NONE" and route["ApiKeyRequired"] is False
    assert [r["RouteKey"] for r in apigw.get_routes(ApiId=api_id)["Items"]] == ["GET /items"]
    assert apigw.get_route(ApiId=api_id, RouteId=route["RouteId"])["Target"] == f"integrations/{integ['IntegrationId']}"
    stage = apigw.create_stage(ApiId=api_id, StageName="prod", StageVariables={"env": "prod"})
    assert stage["StageName"] == "prod" and stage["AutoDeploy"] is False and "DeploymentId" not in stage
    deployment = apigw.create_deployment(ApiId=api_id, StageName="prod")
    assert deployment["DeploymentStatus"] == "DEPLOYED"
    assert apigw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == deployment["DeploymentId"]
    assert {d["DeploymentId"] for d in apigw.get_deployments(ApiId=api_id)["Items"]} == {deployment["DeploymentId"]}


def test_data_plane_http_proxy_and_deployments(nimbus, apigw, backend):
    api_id = apigw.create_api(Name="proxy", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri=backend + "/items",
                                     IntegrationMethod="ANY", PayloadFormatVersion="1.0")["IntegrationId"]
    apigw.create_route(ApiId=api_id, RouteKey="GET /items", Target=f"integrations/{integ}")
    apigw.create_stage(ApiId=api_id, StageName="prod")
    # Not deployed yet: nothing is served.
    assert call(nimbus, api_id, "GET", "/prod/items").status == 404
    apigw.create_deployment(ApiId=api_id, StageName="prod")
    reply = call(nimbus, api_id, "GET", "/prod/items?x=1")
    assert reply.status == 200, reply.text
    assert reply.headers["x-backend"] == "echo"
    assert reply.json()["path"] == "/items?x=1"
    assert reply.headers["apigw-requestid"]
    # A route added after the deployment is not served until redeployed.
    integ2 = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri=backend + "/other",
                                      IntegrationMethod="ANY", PayloadFormatVersion="1.0")["IntegrationId"]
    apigw.create_route(ApiId=api_id, RouteKey="POST /other", Target=f"integrations/{integ2}")
    assert call(nimbus, api_id, "POST", "/prod/other", body=b"hi").status == 404
    apigw.create_deployment(ApiId=api_id, StageName="prod")
    reply = call(nimbus, api_id, "POST", "/prod/other", body=b"hi")
    assert reply.status == 200 and reply.json()["body"] == "hi" and reply.json()["method"] == "POST"
    # The path form of the URL reaches the same API.
    path_form = raw.send(nimbus.endpoint, "GET", f"/_aws/execute-api/{api_id}/prod/items")
    assert path_form.status == 200 and path_form.json()["path"] == "/items"


def test_unmatched_routes_and_unknown_apis_are_404_not_found(nimbus, apigw, backend):
    api = apigw.create_api(Name="q", ProtocolType="HTTP", Target=backend + "/x", RouteKey="GET /x")
    reply = call(nimbus, api["ApiId"], "GET", "/nothing-here")
    assert reply.status == 404 and reply.json() == {"message": "Not Found"}
    reply = call(nimbus, "zzzzzzzzzz", "GET", "/x")
    assert reply.status == 404 and reply.json() == {"message": "Not Found"}


def test_quick_create_serves_default_stage_with_greedy_path(nimbus, apigw, backend):
    api = apigw.create_api(Name="quick", ProtocolType="HTTP", Target=backend + "/base/{proxy}", RouteKey="ANY /{proxy+}")
    api_id = api["ApiId"]
    stages = apigw.get_stages(ApiId=api_id)["Items"]
    assert [(s["StageName"], s["AutoDeploy"]) for s in stages] == [("$default", True)]
    routes = apigw.get_routes(ApiId=api_id)["Items"]
    assert [r["RouteKey"] for r in routes] == ["ANY /{proxy+}"]
    reply = call(nimbus, api_id, "DELETE", "/a/b/c")
    assert reply.status == 200 and reply.json()["path"] == "/base/a/b/c" and reply.json()["method"] == "DELETE"


def test_cors_preflight_and_response_headers(nimbus, apigw, backend):
    api = apigw.create_api(
        Name="cors", ProtocolType="HTTP", Target=backend + "/c", RouteKey="GET /c",
        CorsConfiguration={"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET", "POST"],
                           "AllowHeaders": ["Content-Type", "X-Custom"], "MaxAge": 300, "ExposeHeaders": ["x-backend"]},
    )
    api_id = api["ApiId"]
    assert apigw.get_api(ApiId=api_id)["CorsConfiguration"]["AllowOrigins"] == ["https://example.com"]
    pre = call(nimbus, api_id, "OPTIONS", "/c", {"Origin": "https://example.com", "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "content-type"})
    assert pre.status == 204
    assert pre.headers["access-control-allow-origin"] == "https://example.com"
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert pre.headers["access-control-max-age"] == "300"
    assert "content-type" in pre.headers["access-control-allow-headers"]
    other = call(nimbus, api_id, "OPTIONS", "/c", {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert other.status == 204 and "access-control-allow-origin" not in other.headers
    got = call(nimbus, api_id, "GET", "/c", {"Origin": "https://example.com"})
    assert got.status == 200
    assert got.headers["access-control-allow-origin"] == "https://example.com"
    assert got.headers["access-control-expose-headers"] == "x-backend"


def test_burst_beyond_stage_throttle_gets_429(nimbus, apigw, backend):
    api_id = apigw.create_api(Name="throttled", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri=backend + "/t",
                                     IntegrationMethod="ANY", PayloadFormatVersion="1.0")["IntegrationId"]
    apigw.create_route(ApiId=api_id, RouteKey="GET /t", Target=f"integrations/{integ}")
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True,
                       DefaultRouteSettings={"ThrottlingBurstLimit": 3, "ThrottlingRateLimit": 0.5})
    statuses = [call(nimbus, api_id, "GET", "/t").status for _ in range(6)]
    assert statuses[:3] == [200, 200, 200], statuses
    assert 429 in statuses[3:], statuses
    limited = call(nimbus, api_id, "GET", "/t")
    assert limited.status == 429 and limited.json() == {"message": "Too Many Requests"}


def test_tags_and_cli(apigw, aws_cli):
    out = aws_cli("apigatewayv2", "create-api", "--name", "cli-api", "--protocol-type", "HTTP")
    api_id = out["ApiId"]
    arn = f"arn:aws:apigateway:us-east-1::/apis/{api_id}"
    apigw.tag_resource(ResourceArn=arn, Tags={"a": "1", "b": "2"})
    apigw.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert apigw.get_tags(ResourceArn=arn)["Tags"] == {"b": "2"}
    listed = aws_cli("apigatewayv2", "get-apis")
    assert any(a["ApiId"] == api_id for a in listed["Items"])
    aws_cli("apigatewayv2", "delete-api", "--api-id", api_id)


def test_aws_iam_route_requires_a_valid_signature(nimbus, apigw, backend):
    api_id = apigw.create_api(Name="iam", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri=backend + "/iam",
                                     IntegrationMethod="ANY", PayloadFormatVersion="1.0")["IntegrationId"]
    apigw.create_route(ApiId=api_id, RouteKey="GET /private", Target=f"integrations/{integ}", AuthorizationType="AWS_IAM")
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    path = f"/_aws/execute-api/{api_id}/private"
    unsigned = raw.send(nimbus.endpoint, "GET", path)
    assert unsigned.status == 403 and unsigned.json() == {"message": "Missing Authentication Token"}
    signed = raw.signed(nimbus.endpoint, "execute-api", method="GET", path=path)
    assert signed.status == 200, signed.text
    forged = raw.signed(nimbus.endpoint, "execute-api", method="GET", path=path, secret="wrong")
    assert forged.status == 403
    assert forged.json()["message"].startswith("The request signature we calculated does not match")
