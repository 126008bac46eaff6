"""Raw signed HTTP requests, for what SDKs will not send on purpose:
made-up operations, skewed clocks, presigned URLs, malformed headers."""

import datetime
import hashlib
import hmac
import http.client
import json
import urllib.parse

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


def send(endpoint, method, path, headers=None, body=b""):
    """Send one HTTP request exactly as given."""
    url = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def signed(endpoint, service, method="POST", path="/", headers=None, body=b"", secret="test", key="test",
           region="us-east-1", presign=False):
    """Sign with botocore's own signer (header or presigned-query form) and send."""
    request = AWSRequest(method=method, url=endpoint + path, data=body, headers=dict(headers or {}))
    creds = Credentials(key, secret)
    if presign:
        SigV4QueryAuth(creds, service, region, expires=300).add_auth(request)
    else:
        SigV4Auth(creds, service, region).add_auth(request)
    prepared = request.prepare()
    target = urllib.parse.urlsplit(prepared.url)
    path_qs = target.path + (("?" + target.query) if target.query else "")
    return send(endpoint, method, path_qs, dict(prepared.headers), body)


def sign_at(endpoint, service, when, method="POST", path="/", headers=None, body=b"", key="test", secret="test",
            region="us-east-1"):
    """An independent, minimal SigV4 signer that can sign at any time `when`."""
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    host = urllib.parse.urlsplit(endpoint).netloc
    headers = {**(headers or {}), "host": host, "x-amz-date": amz_date}
    names = sorted(h.lower() for h in headers)
    lowered = {k.lower(): v for k, v in headers.items()}
    canonical_headers = "".join(f"{n}:{lowered[n].strip()}\n" for n in names)
    signed_headers = ";".join(names)
    payload = hashlib.sha256(body).hexdigest()
    canonical = f"{method}\n{path}\n\n{canonical_headers}\n{signed_headers}\n{payload}"
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"

    def h(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    k = h(h(h(h(("AWS4" + secret).encode(), date), region), service), "aws4_request")
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    )
    return send(endpoint, method, path, headers, body)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)
