"""The front door: SigV4 with real clients, AWS error envelopes per protocol,
unknown operations, health, clean shutdown."""

import datetime
import signal
import time
import zlib

import botocore
import pytest
from botocore import UNSIGNED
from botocore.config import Config

import raw
from conftest import Server, make_client

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."
DDB_JSON = {"Content-Type": "application/x-amz-json-1.0"}


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_wrong_secret_is_invalid_signature(nimbus):
    ddb = make_client(nimbus, "dynamodb", aws_secret_access_key="wrong")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.list_tables()
    assert error_of(e) == ("InvalidSignatureException", MISMATCH, 400)


def test_unknown_access_key_is_unrecognized_client(nimbus):
    ddb = make_client(nimbus, "dynamodb", aws_access_key_id="AKIANOBODY")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.list_tables()
    assert error_of(e) == ("UnrecognizedClientException", INVALID_TOKEN, 400)


def test_unsigned_request_is_missing_token(nimbus):
    ddb = make_client(nimbus, "dynamodb", config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.list_tables()
    assert error_of(e) == ("MissingAuthenticationTokenException", "Request is missing Authentication Token", 400)


def test_session_token_on_long_term_key_is_rejected(nimbus):
    ddb = make_client(nimbus, "dynamodb", aws_session_token="not-a-real-token")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.list_tables()
    assert error_of(e) == ("UnrecognizedClientException", INVALID_TOKEN, 400)


def test_signed_unknown_operation_is_unknown_operation_json10(nimbus):
    reply = raw.signed(nimbus.endpoint, "dynamodb", headers={**DDB_JSON, "X-Amz-Target": "DynamoDB_20120810.NoSuchThing"}, body=b"{}")
    assert reply.status == 400
    assert reply.json()["__type"] == "com.amazon.coral.service#UnknownOperationException"
    assert reply.headers["content-type"] == "application/x-amz-json-1.0"
    assert reply.headers["x-amzn-requestid"]
    # DynamoDB's SDKs check this checksum of the body.
    assert int(reply.headers["x-amz-crc32"]) == zlib.crc32(reply.body)


def test_unknown_json11_service_answers_in_json11(nimbus):
    reply = raw.signed(
        nimbus.endpoint,
        "nosuchservice",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "NoSuch_20200101.DoThing"},
        body=b"{}",
    )
    assert reply.status == 400
    assert reply.json()["__type"].endswith("UnknownOperationException")
    assert reply.headers["content-type"] == "application/x-amz-json-1.1"


def test_wrong_secret_in_query_protocol_is_xml_signature_does_not_match(nimbus):
    sts = make_client(nimbus, "sts", aws_secret_access_key="wrong")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    assert error_of(e) == ("SignatureDoesNotMatch", MISMATCH, 403)
    assert e.value.response["ResponseMetadata"]["RequestId"]


def test_unknown_key_in_query_protocol_is_invalid_client_token_id(nimbus):
    reply = raw.signed(
        nimbus.endpoint,
        "sts",
        key="AKIANOBODY",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"Action=GetCallerIdentity&Version=2011-06-15",
    )
    assert reply.status == 403
    assert "<Code>InvalidClientTokenId</Code>" in reply.text
    assert f"<Message>{INVALID_TOKEN}</Message>" in reply.text
    assert reply.text.startswith("<ErrorResponse")


def test_wrong_secret_in_rest_json_protocol_sets_error_type_header(nimbus):
    reply = raw.signed(nimbus.endpoint, "lambda", method="GET", path="/2015-03-31/functions/", secret="wrong")
    assert reply.status == 403
    assert reply.headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert reply.json()["message"] == MISMATCH


def test_incomplete_signature_names_what_is_missing(nimbus):
    reply = raw.send(
        nimbus.endpoint,
        "POST",
        "/",
        {**DDB_JSON, "X-Amz-Target": "DynamoDB_20120810.ListTables", "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request"},
        b"{}",
    )
    assert reply.status == 400
    body = reply.json()
    assert body["__type"] == "com.amazon.coral.service#IncompleteSignatureException"
    assert "Authorization header requires 'Signature' parameter." in body["message"]
    assert "Authorization header requires 'SignedHeaders' parameter." in body["message"]


def test_clock_skew_beyond_fifteen_minutes_is_rejected(nimbus):
    headers = {**DDB_JSON, "X-Amz-Target": "DynamoDB_20120810.NoSuchThing"}
    fresh = raw.sign_at(nimbus.endpoint, "dynamodb", raw.utcnow() - datetime.timedelta(minutes=10), headers=headers, body=b"{}")
    assert fresh.json()["__type"].endswith("UnknownOperationException"), fresh.text  # signature accepted
    stale = raw.sign_at(nimbus.endpoint, "dynamodb", raw.utcnow() - datetime.timedelta(minutes=20), headers=headers, body=b"{}")
    assert stale.status == 400
    assert stale.json()["__type"] == "com.amazon.coral.service#InvalidSignatureException"
    assert stale.json()["message"].startswith("Signature expired: ")
    assert stale.json()["message"].endswith(" - 15 min.)")
    future = raw.sign_at(nimbus.endpoint, "dynamodb", raw.utcnow() + datetime.timedelta(minutes=20), headers=headers, body=b"{}")
    assert future.json()["message"].startswith("Signature not yet current: ")


def test_scope_must_name_the_right_service(nimbus):
    reply = raw.signed(nimbus.endpoint, "lambda", headers={**DDB_JSON, "X-Amz-Target": "DynamoDB_20120810.ListTables"}, body=b"{}")
    assert reply.status == 400
    assert reply.json()["message"] == "Credential should be scoped to correct service: 'dynamodb'. "


def test_presigned_query_form_is_accepted(nimbus):
    headers = {**DDB_JSON, "X-Amz-Target": "DynamoDB_20120810.NoSuchThing"}
    good = raw.signed(nimbus.endpoint, "dynamodb", headers=headers, body=b"{}", presign=True)
    assert good.json()["__type"].endswith("UnknownOperationException"), good.text
    bad = raw.signed(nimbus.endpoint, "dynamodb", headers=headers, body=b"{}", presign=True, secret="wrong")
    assert bad.json()["__type"].endswith("InvalidSignatureException"), bad.text


def test_tampered_body_fails_verification(nimbus):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=nimbus.endpoint + "/", data=b'{"Limit": 1}',
                         headers={**DDB_JSON, "X-Amz-Target": "DynamoDB_20120810.ListTables"})
    SigV4Auth(Credentials("test", "test"), "dynamodb", "us-east-1").add_auth(request)
    headers = dict(request.prepare().headers)
    headers.pop("Content-Length", None)
    reply = raw.send(nimbus.endpoint, "POST", "/", headers, b'{"Limit": 2}')
    assert reply.json()["__type"].endswith("InvalidSignatureException")


def test_aws_cli_wrong_secret_is_rejected(aws_cli):
    result = aws_cli("dynamodb", "list-tables", env={"AWS_SECRET_ACCESS_KEY": "wrong"}, check=False)
    assert result.returncode != 0
    assert "InvalidSignatureException" in result.stderr
    assert "The request signature we calculated does not match" in result.stderr


def test_aws_cli_unknown_key_is_rejected(aws_cli):
    result = aws_cli("sts", "get-caller-identity", env={"AWS_ACCESS_KEY_ID": "AKIANOBODY"}, check=False)
    assert result.returncode != 0
    assert "InvalidClientTokenId" in result.stderr


def test_health_reports_version_uptime_and_services(nimbus):
    reply = raw.send(nimbus.endpoint, "GET", "/_nimbus/health")
    assert reply.status == 200
    health = reply.json()
    assert health["status"] == "running"
    assert health["version"]
    assert health["uptime_seconds"] >= 0
    assert health["services"]["dynamodb"] == "running"


def test_garbage_requests_get_errors_not_crashes(nimbus):
    for headers, body in [
        ({"X-Amz-Target": "\u00ff" * 3}, b"\x00\xff"),
        ({"Authorization": "AWS4-HMAC-SHA256 " + "," * 1000}, b""),
        ({"Authorization": "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00"}, b""),
        ({"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810"}, b"{"),
    ]:
        reply = raw.send(nimbus.endpoint, "POST", "/", {k: v.encode("latin-1") for k, v in headers.items()}, body)
        assert 400 <= reply.status < 500, (headers, reply.status, reply.text)
    assert raw.send(nimbus.endpoint, "GET", "/_nimbus/health").status == 200


def test_sigterm_shuts_down_cleanly():
    server = Server()
    reply = raw.signed(server.endpoint, "dynamodb", headers={**DDB_JSON, "X-Amz-Target": "DynamoDB_20120810.Nope"}, body=b"{}")
    assert reply.status == 400
    started = time.time()
    assert server.stop(signal.SIGTERM) == 0
    assert time.time() - started < 10
    output = server.output()
    assert "flushing the store" in output and "stopped" in output


def test_auth_off_accepts_anything_and_says_so():
    server = Server(extra_args=["--auth", "off"])
    try:
        reply = raw.signed(server.endpoint, "dynamodb", secret="whatever", headers={**DDB_JSON, "X-Amz-Target": "DynamoDB_20120810.Nope"}, body=b"{}")
        assert reply.json()["__type"].endswith("UnknownOperationException")
        unsigned = raw.send(server.endpoint, "POST", "/", {**DDB_JSON, "X-Amz-Target": "DynamoDB_20120810.Nope"}, b"{}")
        assert unsigned.json()["__type"].endswith("UnknownOperationException")
        assert "AUTHENTICATION IS OFF" in server.output()
    finally:
        assert server.stop() == 0
