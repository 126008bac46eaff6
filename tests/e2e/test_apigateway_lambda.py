"""API Gateway in front of Lambda: proxy events 1.0 and 2.0 checked field by
field, AWS's response-mapping rules, function errors, timeouts, Lambda
authorizers, and the seed handler answering curl."""

import base64
import io
import json
import subprocess
import time
import uuid
import zipfile

import pytest

import raw
from lambda_helpers import ROLE
from test_apigateway_http import call

SEED = """import json
import boto3

def lambda_handler(event, context):
    return {'statusCode': 200, 'body': json.dumps('Hello from Lambda!')}
"""

ECHO = """import json

def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""

SHAPES = """import json, time

def handler(event, context):
    path = event.get("rawPath") or event.get("path")
    if path.endswith("/cookies"):
        return {"statusCode": 201, "cookies": ["a=1; Path=/", "b=2"], "headers": {"x-custom": "yes"}, "body": "made"}
    if path.endswith("/bare"):
        return {"hello": "world"}
    if path.endswith("/string"):
        return "just text"
    if path.endswith("/binary"):
        return {"statusCode": 200, "isBase64Encoded": True, "headers": {"content-type": "application/octet-stream"},
                "body": "AAEC/w=="}
    if path.endswith("/malformed"):
        return {"statusCode": "teapot"}
    if path.endswith("/raise"):
        raise ValueError("boom")
    if path.endswith("/slow"):
        time.sleep(3)
        return {"statusCode": 200, "body": "late"}
    return {"statusCode": 404, "body": "no"}
"""

TOKEN_AUTHORIZER = """import uuid

def handler(event, context):
    token = event.get("authorizationToken", "")
    effect = "Allow" if token == "allow" else "Deny"
    if token == "bad":
        raise Exception("Unauthorized")
    return {"principalId": "user-1", "context": {"nonce": str(uuid.uuid4()), "tier": "gold"},
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}
"""

SIMPLE_AUTHORIZER = """def handler(event, context):
    ok = event["headers"].get("x-pass") == "open-sesame"
    return {"isAuthorized": ok, "context": {"who": "tester"}}
"""


def zip_of(source, name="lambda_function.py"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, source)
    return buf.getvalue()


@pytest.fixture(scope="module")
def functions(nimbus):
    from conftest import make_client

    lam = make_client(nimbus, "lambda")
    made = {}

    def make(source, handler="lambda_function.handler", timeout=10):
        name = "apigw-" + uuid.uuid4().hex[:8]
        fn = lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                                 Handler=handler, Code={"ZipFile": zip_of(source)}, Timeout=timeout)
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        made[name] = fn["FunctionArn"]
        return fn["FunctionArn"]

    yield make
    for name in made:
        lam.delete_function(FunctionName=name)


@pytest.fixture
def apigw(client):
    return client("apigatewayv2")


def quick_api(apigw, target, route="ANY /{proxy+}", version=None):
    api = apigw.create_api(Name="fn", ProtocolType="HTTP", Target=target, RouteKey=route)
    if version:
        integ = apigw.get_integrations(ApiId=api["ApiId"])["Items"][0]
        apigw.update_integration(ApiId=api["ApiId"], IntegrationId=integ["IntegrationId"], PayloadFormatVersion=version)
    return api["ApiId"]


def test_seed_handler_behind_http_api_answers_curl(nimbus, apigw, functions):
    arn = functions(SEED, handler="lambda_function.lambda_handler")
    api_id = quick_api(apigw, arn, route="GET /hello")
    url = f"http://{api_id}.execute-api.localhost:{nimbus.port}/hello"
    out = subprocess.run(["curl", "-s", "-i", "--resolve", f"{api_id}.execute-api.localhost:{nimbus.port}:127.0.0.1", url],
                         capture_output=True, text=True, timeout=60)
    head, _, body = out.stdout.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 200"), out.stdout
    assert body == '"Hello from Lambda!"'


def test_payload_2_0_event_field_by_field(nimbus, apigw, functions):
    api_id = quick_api(apigw, functions(ECHO), route="ANY /items/{id}")
    reply = call(nimbus, api_id, "POST", "/items/42?a=1&a=2&b=x%20y",
                 {"User-Agent": "tester/1.0", "Cookie": "c1=v1; c2=v2", "X-Multi": "one", "Content-Type": "application/json"},
                 b'{"k": "v"}')
    assert reply.status == 200, reply.text
    event = reply.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /items/{id}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "one" and event["headers"]["user-agent"] == "tester/1.0"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["pathParameters"] == {"id": "42"}
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["accountId"] == "000000000000" and ctx["apiId"] == api_id
    assert ctx["domainName"] == f"{api_id}.execute-api.localhost" and ctx["domainPrefix"] == api_id
    assert ctx["http"] == {"method": "POST", "path": "/items/42", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                           "userAgent": "tester/1.0"}
    assert ctx["routeKey"] == "ANY /items/{id}" and ctx["stage"] == "$default"
    assert ctx["requestId"] == reply.headers["apigw-requestid"]
    assert abs(ctx["timeEpoch"] / 1000 - time.time()) < 60
    assert time.strftime("%b/%Y", time.gmtime(ctx["timeEpoch"] / 1000)) in ctx["time"]
    # Binary bodies arrive base64-encoded.
    binary = call(nimbus, api_id, "PUT", "/items/1", {"Content-Type": "application/octet-stream"}, b"\x00\x01\xff").json()
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == b"\x00\x01\xff"


def test_payload_1_0_event_field_by_field(nimbus, apigw, functions):
    api_id = quick_api(apigw, functions(ECHO), route="GET /things/{proxy+}", version="1.0")
    event = call(nimbus, api_id, "GET", "/things/a/b?x=1&x=2", {"X-H": "v"}).json()
    assert event["version"] == "1.0"
    assert event["resource"] == "/things/{proxy+}" and event["path"] == "/things/a/b" and event["httpMethod"] == "GET"
    assert event["headers"]["x-h"] == "v" and event["multiValueHeaders"]["x-h"] == ["v"]
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["pathParameters"] == {"proxy": "a/b"}
    assert event["body"] is None and event["isBase64Encoded"] is False and event["stageVariables"] is None
    ctx = event["requestContext"]
    assert ctx["httpMethod"] == "GET" and ctx["identity"]["sourceIp"] == "127.0.0.1" and ctx["stage"] == "$default"
    assert ctx["resourcePath"] == "/things/{proxy+}"


def test_response_mapping_rules(nimbus, apigw, functions):
    api_id = quick_api(apigw, functions(SHAPES))
    made = call(nimbus, api_id, "GET", "/cookies")
    assert made.status == 201 and made.text == "made" and made.headers["x-custom"] == "yes"
    bare = call(nimbus, api_id, "GET", "/bare")
    assert bare.status == 200 and bare.headers["content-type"] == "application/json" and bare.json() == {"hello": "world"}
    text = call(nimbus, api_id, "GET", "/string")
    assert text.status == 200 and text.json() == "just text"
    binary = call(nimbus, api_id, "GET", "/binary")
    assert binary.status == 200 and binary.body == b"\x00\x01\x02\xff"
    for path in ["/malformed", "/raise"]:
        bad = call(nimbus, api_id, "GET", path)
        assert bad.status == 502 and bad.json() == {"message": "Internal Server Error"}, path


def test_set_cookie_headers_are_separate(nimbus, apigw, functions):
    api_id = quick_api(apigw, functions(SHAPES))
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", nimbus.port, timeout=30)
    conn.request("GET", "/cookies", headers={"Host": f"{api_id}.execute-api.localhost:{nimbus.port}"})
    resp = conn.getresponse()
    cookies = [v for k, v in resp.getheaders() if k.lower() == "set-cookie"]
    assert cookies == ["a=1; Path=/", "b=2"]


def test_integration_timeout_is_504(nimbus, apigw, functions):
    api_id = quick_api(apigw, functions(SHAPES))
    integ = apigw.get_integrations(ApiId=api_id)["Items"][0]
    apigw.update_integration(ApiId=api_id, IntegrationId=integ["IntegrationId"], TimeoutInMillis=1000)
    slow = call(nimbus, api_id, "GET", "/slow")
    assert slow.status == 504


def test_rest_api_lambda_proxy_and_errors(nimbus, client, functions):
    apigw = client("apigateway")
    echo = functions(ECHO)
    shapes = functions(SHAPES)
    api = apigw.create_rest_api(name="rest-fn")
    api_id, root = api["id"], api["rootResourceId"]
    uri = lambda arn: f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"  # noqa: E731
    pets = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="pets")
    pet = apigw.create_resource(restApiId=api_id, parentId=pets["id"], pathPart="{petId}")
    apigw.put_method(restApiId=api_id, resourceId=pet["id"], httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=pet["id"], httpMethod="GET", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=uri(echo))
    err = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")
    apigw.put_method(restApiId=api_id, resourceId=err["id"], httpMethod="ANY", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=err["id"], httpMethod="ANY", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=uri(shapes))
    apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"color": "blue"})
    reply = call(nimbus, api_id, "GET", "/prod/pets/7?q=1", {"X-A": "b"})
    assert reply.status == 200, reply.text
    event = reply.json()
    assert "version" not in event
    assert event["resource"] == "/pets/{petId}" and event["path"] == "/pets/7" and event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"petId": "7"} and event["queryStringParameters"] == {"q": "1"}
    assert event["stageVariables"] == {"color": "blue"}
    assert event["requestContext"]["stage"] == "prod" and event["requestContext"]["resourcePath"] == "/pets/{petId}"
    assert event["requestContext"]["path"] == "/prod/pets/7"
    for path in ["/prod/raise", "/prod/malformed", "/prod/bare"]:
        bad = call(nimbus, api_id, "GET", path)
        assert bad.status == 502 and bad.json() == {"message": "Internal server error"}, path


def test_rest_token_authorizer_allows_denies_and_caches(nimbus, client, functions):
    apigw = client("apigateway")
    echo = functions(ECHO)
    authorizer_fn = functions(TOKEN_AUTHORIZER)
    api = apigw.create_rest_api(name="rest-auth")
    api_id, root = api["id"], api["rootResourceId"]
    uri = lambda arn: f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"  # noqa: E731
    auth = apigw.create_authorizer(restApiId=api_id, name="tok", type="TOKEN", authorizerUri=uri(authorizer_fn),
                                   identitySource="method.request.header.Authorization", authorizerResultTtlInSeconds=300)
    r = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="secret")
    apigw.put_method(restApiId=api_id, resourceId=r["id"], httpMethod="GET", authorizationType="CUSTOM",
                     authorizerId=auth["id"])
    apigw.put_integration(restApiId=api_id, resourceId=r["id"], httpMethod="GET", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=uri(echo))
    apigw.create_deployment(restApiId=api_id, stageName="v1")
    assert call(nimbus, api_id, "GET", "/v1/secret").json() == {"message": "Unauthorized"}
    denied = call(nimbus, api_id, "GET", "/v1/secret", {"Authorization": "deny"})
    assert denied.status == 403
    assert denied.json() == {"message": "User is not authorized to access this resource with an explicit deny"}
    first = call(nimbus, api_id, "GET", "/v1/secret", {"Authorization": "allow"})
    assert first.status == 200, first.text
    ctx = first.json()["requestContext"]["authorizer"]
    assert ctx["principalId"] == "user-1" and ctx["tier"] == "gold"
    second = call(nimbus, api_id, "GET", "/v1/secret", {"Authorization": "allow"}).json()
    assert second["requestContext"]["authorizer"]["nonce"] == ctx["nonce"], "the decision is cached for the TTL"
    assert call(nimbus, api_id, "GET", "/v1/secret", {"Authorization": "bad"}).status == 500


def test_http_api_request_authorizer_simple_responses(nimbus, apigw, functions):
    echo = functions(ECHO)
    authorizer_fn = functions(SIMPLE_AUTHORIZER)
    api_id = apigw.create_api(Name="auth", ProtocolType="HTTP")["ApiId"]
    auth = apigw.create_authorizer(ApiId=api_id, AuthorizerType="REQUEST", Name="simple", AuthorizerUri=authorizer_fn,
                                   IdentitySource=["$request.header.x-pass"], AuthorizerPayloadFormatVersion="2.0",
                                   EnableSimpleResponses=True)
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo,
                                     PayloadFormatVersion="2.0")["IntegrationId"]
    apigw.create_route(ApiId=api_id, RouteKey="GET /guarded", Target=f"integrations/{integ}",
                       AuthorizationType="CUSTOM", AuthorizerId=auth["AuthorizerId"])
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    assert call(nimbus, api_id, "GET", "/guarded").status == 401
    assert call(nimbus, api_id, "GET", "/guarded", {"x-pass": "wrong"}).status == 403
    ok = call(nimbus, api_id, "GET", "/guarded", {"x-pass": "open-sesame"})
    assert ok.status == 200, ok.text
    assert ok.json()["requestContext"]["authorizer"] == {"lambda": {"who": "tester"}}


def test_rest_binary_media_types(nimbus, client, functions):
    """Request bodies of the API's binaryMediaTypes (wildcards allowed) arrive
    base64-encoded; a base64 response is decoded only when the client's first
    Accept type is one of them, else it goes out as the text it is."""
    apigw = client("apigateway")
    uri = lambda arn: f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"  # noqa: E731
    api = apigw.create_rest_api(name="rest-binary", binaryMediaTypes=["image/*", "application/octet-stream"])
    assert api["binaryMediaTypes"] == ["image/*", "application/octet-stream"]
    api_id, root = api["id"], api["rootResourceId"]
    for path_part, source in (("echo", ECHO), ("binary", SHAPES)):
        resource = apigw.create_resource(restApiId=api_id, parentId=root, pathPart=path_part)
        apigw.put_method(restApiId=api_id, resourceId=resource["id"], httpMethod="ANY", authorizationType="NONE")
        apigw.put_integration(restApiId=api_id, resourceId=resource["id"], httpMethod="ANY", type="AWS_PROXY",
                              integrationHttpMethod="POST", uri=uri(functions(source)))
    apigw.create_deployment(restApiId=api_id, stageName="prod")

    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    event = call(nimbus, api_id, "POST", "/prod/echo", {"Content-Type": "image/png"}, png).json()
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == png
    event = call(nimbus, api_id, "POST", "/prod/echo", {"Content-Type": "application/octet-stream"}, b"abc").json()
    assert event["isBase64Encoded"] is True and event["body"] == "YWJj"
    event = call(nimbus, api_id, "POST", "/prod/echo", {"Content-Type": "text/plain"}, b"plain words").json()
    assert event["isBase64Encoded"] is False and event["body"] == "plain words"

    decoded = call(nimbus, api_id, "GET", "/prod/binary", {"Accept": "application/octet-stream, text/html"})
    assert decoded.status == 200 and decoded.body == b"\x00\x01\x02\xff"
    assert call(nimbus, api_id, "GET", "/prod/binary", {"Accept": "image/jpeg"}).body == b"\x00\x01\x02\xff"
    # The first Accept type decides; a client's */* is not one of the API's types.
    for accept in ("text/html, application/octet-stream", "*/*"):
        kept = call(nimbus, api_id, "GET", "/prod/binary", {"Accept": accept})
        assert kept.status == 200 and kept.body == b"AAEC/w==", accept

    # Without binary media types, base64 stays text whatever the client accepts.
    plain = apigw.create_rest_api(name="rest-text")
    resource = apigw.create_resource(restApiId=plain["id"], parentId=plain["rootResourceId"], pathPart="binary")
    apigw.put_method(restApiId=plain["id"], resourceId=resource["id"], httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=plain["id"], resourceId=resource["id"], httpMethod="GET", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=uri(functions(SHAPES)))
    apigw.create_deployment(restApiId=plain["id"], stageName="prod")
    kept = call(nimbus, plain["id"], "GET", "/prod/binary", {"Accept": "application/octet-stream"})
    assert kept.status == 200 and kept.body == b"AAEC/w=="
