"""HTTP API JWT authorizers: tokens signed with RS256 by a real OIDC-style
issuer (discovery document and JWKS served over HTTP by this test), checked
for signature, issuer, audience, expiry and scopes. Uses an HTTP_PROXY
backend so it needs no Lambda."""

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import rsa

from test_apigateway_http import backend, call  # noqa: F401


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_bytes(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


@pytest.fixture(scope="module")
def issuer():
    public, private = rsa.newkeys(2048)
    state = {}

    class Idp(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/.well-known/openid-configuration":
                doc = {"issuer": state["url"], "jwks_uri": state["url"] + "/jwks.json"}
            elif self.path == "/jwks.json":
                doc = {"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
                                 "n": b64url(int_bytes(public.n)), "e": b64url(int_bytes(public.e))}]}
            else:
                self.send_response(404)
                self.end_headers()
                return
            body = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Idp)
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def token(claims, key=private, kid="k1"):
        header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode())
        payload = b64url(json.dumps(claims).encode())
        signature = rsa.sign(f"{header}.{payload}".encode(), key, "SHA-256")
        return f"{header}.{payload}.{b64url(signature)}"

    yield state["url"], token
    server.shutdown()


def test_jwt_authorizer(nimbus, client, backend, issuer):  # noqa: F811
    url, token = issuer
    apigw = client("apigatewayv2")
    api_id = apigw.create_api(Name="jwt", ProtocolType="HTTP")["ApiId"]
    auth = apigw.create_authorizer(ApiId=api_id, AuthorizerType="JWT", Name="idp",
                                   IdentitySource=["$request.header.Authorization"],
                                   JwtConfiguration={"Issuer": url, "Audience": ["my-app"]})
    assert auth["AuthorizerType"] == "JWT" and auth["JwtConfiguration"]["Issuer"] == url
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri=backend + "/secure",
                                     IntegrationMethod="ANY", PayloadFormatVersion="1.0")["IntegrationId"]
    apigw.create_route(ApiId=api_id, RouteKey="GET /secure", Target=f"integrations/{integ}",
                       AuthorizationType="JWT", AuthorizerId=auth["AuthorizerId"], AuthorizationScopes=["read"])
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    now = int(time.time())
    good = {"iss": url, "aud": "my-app", "sub": "alice", "exp": now + 300, "scope": "read write"}

    ok = call(nimbus, api_id, "GET", "/secure", {"Authorization": "Bearer " + token(good)})
    assert ok.status == 200, ok.text
    assert call(nimbus, api_id, "GET", "/secure").status == 401
    assert call(nimbus, api_id, "GET", "/secure").json() == {"message": "Unauthorized"}
    expired = call(nimbus, api_id, "GET", "/secure", {"Authorization": "Bearer " + token({**good, "exp": now - 10})})
    assert expired.status == 401
    wrong_aud = call(nimbus, api_id, "GET", "/secure", {"Authorization": "Bearer " + token({**good, "aud": "other"})})
    assert wrong_aud.status == 401
    forged_key, _ = rsa.newkeys(1024)[1], None
    forged = call(nimbus, api_id, "GET", "/secure", {"Authorization": "Bearer " + token(good, key=forged_key)})
    assert forged.status == 401
    no_scope = call(nimbus, api_id, "GET", "/secure", {"Authorization": "Bearer " + token({**good, "scope": "write"})})
    assert no_scope.status == 403 and no_scope.json() == {"message": "Forbidden"}
