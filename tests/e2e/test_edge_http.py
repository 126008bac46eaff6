"""The edge's HTTP/1.1 framing on a raw socket: what SDKs rarely send but
HTTP/1.1 allows (pipelining, chunked bodies, Expect: 100-continue, HEAD,
Connection: close) and what must be refused (malformed heads, bodies over
the limit)."""

import email.utils
import json
import socket
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

LIST_TABLES = json.dumps({"Limit": 5}).encode()


def connect(nimbus):
    url = urllib.parse.urlsplit(nimbus.endpoint)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    return sock


def signed_head(nimbus, body, framing):
    """A signed DynamoDB ListTables request head, its body framed by `framing` headers."""
    request = AWSRequest(method="POST", url=nimbus.endpoint + "/", data=body, headers={
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Content-Type": "application/x-amz-json-1.0",
    })
    SigV4Auth(Credentials("test", "test"), "dynamodb", "us-east-1").add_auth(request)
    host = urllib.parse.urlsplit(nimbus.endpoint).netloc
    lines = ["POST / HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
    lines += [f"{k}: {v}" for k, v in framing.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def list_tables_request(nimbus, extra=None):
    return signed_head(nimbus, LIST_TABLES, {"Content-Length": str(len(LIST_TABLES)), **(extra or {})}) + LIST_TABLES


class Reader:
    """Reads HTTP/1.1 answers (Content-Length framed) off a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def answer(self, head_only=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode().split("\r\n")
        headers = {}
        for line in header_lines:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        status = int(status_line.split()[1])
        length = 0 if head_only or status in (100, 204, 304) else int(headers.get("content-length", 0))
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def closed(self):
        """True if the server closes the connection with nothing more to say."""
        try:
            return self.buf == b"" and self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


def test_pipelined_requests_are_answered_in_order_on_one_connection(nimbus):
    with connect(nimbus) as sock:
        health = b"GET /_nimbus/health HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(list_tables_request(nimbus) + health + list_tables_request(nimbus))
        reader = Reader(sock)
        first, second, third = reader.answer(), reader.answer(), reader.answer()
        assert first[0] == 200 and "TableNames" in json.loads(first[2])
        assert second[0] == 200 and json.loads(second[2])["status"] == "running"
        assert third[0] == 200 and "TableNames" in json.loads(third[2])
        # Each answer has its own request id.
        assert first[1]["x-amzn-requestid"] != third[1]["x-amzn-requestid"]


def test_answers_carry_a_date(nimbus):
    with connect(nimbus) as sock:
        sock.sendall(list_tables_request(nimbus))
        _, headers, _ = Reader(sock).answer()
    assert email.utils.parsedate_to_datetime(headers["date"]).tzname() == "UTC"


def test_chunked_body_after_100_continue(nimbus):
    with connect(nimbus) as sock:
        sock.sendall(signed_head(nimbus, LIST_TABLES, {"Transfer-Encoding": "chunked", "Expect": "100-continue"}))
        reader = Reader(sock)
        status, _, _ = reader.answer()
        assert status == 100
        half = len(LIST_TABLES) // 2
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (LIST_TABLES[:half], LIST_TABLES[half:]))
        sock.sendall(chunks + b"0\r\n\r\n")
        status, _, body = reader.answer()
    # The signature covers the decoded body: a wrong decoding would fail it.
    assert status == 200, body
    assert "TableNames" in json.loads(body)


def test_head_answer_has_no_body(nimbus):
    with connect(nimbus) as sock:
        sock.sendall(b"HEAD /_nimbus/health HTTP/1.1\r\nHost: x\r\n\r\nGET /_nimbus/health HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = Reader(sock)
        _, head_headers, _ = reader.answer(head_only=True)
        status, _, body = reader.answer()
    # Had the HEAD answer carried a body, the GET's status line would not come next.
    assert status == 200 and json.loads(body)["status"] == "running"
    assert int(head_headers["content-length"]) > 0


def test_connection_close_is_honoured(nimbus):
    with connect(nimbus) as sock:
        sock.sendall(list_tables_request(nimbus, {"Connection": "close"}))
        reader = Reader(sock)
        status, headers, _ = reader.answer()
        assert status == 200
        assert headers["connection"] == "close"
        assert reader.closed()


def test_malformed_request_gets_400_and_close(nimbus):
    with connect(nimbus) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        reader = Reader(sock)
        status, headers, _ = reader.answer()
        assert status == 400
        assert headers["connection"] == "close"
        assert reader.closed()


def test_conflicting_framing_is_refused(nimbus):
    with connect(nimbus) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n")
        reader = Reader(sock)
        assert reader.answer()[0] == 400
        assert reader.closed()


def test_body_over_the_limit_is_refused_before_it_is_sent(nimbus):
    with connect(nimbus) as sock:
        sock.sendall(signed_head(nimbus, b"", {"Content-Length": str(100 * 1024 * 1024 + 1)}))
        reader = Reader(sock)
        status, headers, body = reader.answer()
        assert status == 413
        assert headers["x-amzn-errortype"].startswith("RequestEntityTooLargeException")
        assert "smaller than" in json.loads(body)["message"]
        assert reader.closed()
