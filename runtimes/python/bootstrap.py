"""Nimbus's Python runtime: a Lambda Runtime API client.

It imports the handler named by _HANDLER from LAMBDA_TASK_ROOT, then loops:
GET invocation/next, call the handler with the event and a context object
shaped like AWS's, POST the result to invocation/{id}/response, or the error
as {errorMessage, errorType, stackTrace, requestId} to invocation/{id}/error.
Import failures go to init/error, as the AWS runtime reports them.

Every millisecond spent here is cold start, so it imports only what every
invocation needs: the interpreter runs with -S (the host's site hooks, .pth
files included, are not part of Lambda's runtime; its site-packages
directories come as --site-packages arguments and are appended to sys.path
where AWS has them, after the standard library), the Runtime API client sits
on _socket (socket.py pulls in enum) and uses the Unix socket Nimbus names
with --runtime-api-socket when there is one (else AWS_LAMBDA_RUNTIME_API),
JSON goes through _json, the C accelerator the json package wraps
(json.decoder compiles regular expressions at import, pulling in re and
enum), traceback is imported when an error needs it, and logging is
configured the moment anything imports it.
"""

import _json
import _socket
import importlib
import importlib.machinery
import os
import sys
import time

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"


class JsonSettings:
    """What _json's scanner reads from its context: json.loads's defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


_scan = _json.make_scanner(JsonSettings)
JSON_WHITESPACE = " \t\n\r"


def from_json(text):
    """json.loads(text) for str, the same C parser underneath."""
    start = len(text) - len(text.lstrip(JSON_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as stop:
        raise ValueError(f"Expecting value: char {stop.value}") from None
    if text[end:].strip(JSON_WHITESPACE):
        raise ValueError(f"Extra data: char {end}")
    return value


def _not_serializable(value):
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


# json.dumps's defaults: ASCII output, ", " and ": " separators, circular check.
_encode = _json.make_encoder({}, _not_serializable, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True)


def to_json(value):
    """json.dumps(value), the same C encoder underneath."""
    return "".join(_encode(value, 0))


def take_arguments(argv):
    """Take Nimbus's arguments off argv (the handler sees AWS's argv: just
    the bootstrap): append each `--site-packages DIR` to sys.path, note the
    `--runtime-api-socket NAME` to reach the Runtime API through; define
    exit()/quit() as site would."""
    global RUNTIME_API_SOCKET
    rest = [argv[0]]
    args = iter(argv[1:])
    for arg in args:
        if arg == "--site-packages":
            sys.path.append(next(args))
        elif arg == "--runtime-api-socket":
            RUNTIME_API_SOCKET = next(args)
        else:
            rest.append(arg)
    argv[:] = rest
    import _sitebuiltins
    import builtins

    builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
    builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")


# Nimbus's abstract Unix socket for the same Runtime API as
# AWS_LAMBDA_RUNTIME_API, cheaper per request than loopback TCP.
RUNTIME_API_SOCKET = None


class Connection:
    """One keep-alive HTTP/1.1 connection to the Runtime API.

    A few lines of HTTP instead of http.client: its header parsing (the email
    package) costs more than a warm invocation should.
    """

    def __init__(self):
        self.sock = None
        self.buf = b""

    def _connect(self):
        if RUNTIME_API_SOCKET:
            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            sock.connect("\0" + RUNTIME_API_SOCKET)
        else:
            host, port = API.rsplit(":", 1)
            sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            sock.connect((host, int(port)))
        self.sock = sock
        self.buf = b""

    def _read_until(self, marker):
        while marker not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("Runtime API closed the connection")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(marker)
        return head

    def _read_exactly(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise ConnectionError("Runtime API closed the connection")
            self.buf += chunk
        body, self.buf = self.buf[:n], self.buf[n:]
        return body

    def request(self, method, path, body=None, headers=None):
        """Returns (status, {lower-case header: value}, body bytes)."""
        message = request_bytes(method, path, body, headers)
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self._connect()
                self.sock.sendall(message)
                return self._response()
            except (OSError, ValueError, IndexError):
                self.sock = None
                if attempt:
                    raise

    def respond_then_next(self, request_id, payload):
        """POST an invocation's result and ask for the next invocation in the
        same write (HTTP/1.1 pipelining): the Runtime API wakes up once for
        both instead of once per request. Returns the next invocation as
        `request` does."""
        head = RESPONSE_HEAD % (request_id, len(payload))
        try:
            self.sock.sendall(head.encode("latin-1") + payload + NEXT_REQUEST)
            self._skip_response()
            return self._response()
        except (OSError, ValueError, IndexError, AttributeError):
            # The Runtime API closed the connection (e.g. after refusing an
            # oversized response): ask again on a new one.
            self.sock = None
            return self.request("GET", "/invocation/next")

    def _skip_response(self):
        """Read past a response whose content is of no use here (the 202 for
        a result), without parsing more of it than its length."""
        head = self._read_until(b"\r\n\r\n")
        at = head.lower().find(b"\r\ncontent-length:")
        if at < 0:
            return
        end = head.find(b"\r\n", at + 17)
        self._read_exactly(int(head[at + 17 : end if end >= 0 else len(head)]))

    def _response(self):
        head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        response_headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            response_headers[name.strip().lower()] = value.strip()
        return status, response_headers, self._read_exactly(int(response_headers.get("content-length", 0)))


def request_bytes(method, path, body=None, headers=None):
    body = body or b""
    lines = [f"{method} {BASE}{path} HTTP/1.1", f"Host: {API}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


NEXT_REQUEST = request_bytes("GET", "/invocation/next")
# The head of every result's POST, formatted once per invocation.
RESPONSE_HEAD = (
    f"POST {BASE}/invocation/%s/response HTTP/1.1\r\nHost: {API}\r\n"
    "Content-Length: %d\r\nContent-Type: application/json\r\n\r\n"
)
api = Connection()


class LambdaContext:
    """The context object AWS's Python runtime passes to handlers."""

    # The environment's identity is fixed for its life: read it once.
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
    memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
    log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")

    def __init__(self, request_id, deadline_ms, invoked_arn, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.identity = identity
        self.client_context = client_context
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def __repr__(self):
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},client_context={self.client_context},"
            f"identity={self.identity}])"
        )


class ClientContext:
    def __init__(self, data):
        self.client = data.get("client")
        self.custom = data.get("custom")
        self.env = data.get("env")

    def __repr__(self):
        return f"ClientContext([client={self.client},custom={self.custom},env={self.env}])"


class CognitoIdentity:
    def __init__(self, data):
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")


def error_shape(exc, request_id=None, error_type=None):
    import traceback

    stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:]) if exc.__traceback__ else []
    shape = {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id or "",
        "stackTrace": [line for line in stack],
    }
    return shape


def post_error(path, shape):
    body = to_json(shape).encode()
    api.request("POST", path, body, {"Lambda-Runtime-Function-Error-Type": shape["errorType"]})


class Invocation:
    """The request id log records are stamped with."""

    request_id = ""


def setup_logging(logging):
    # As on AWS: the root logger writes "[LEVEL]\ttimestamp\trequest-id\tmessage".
    def stamp(record):
        record.aws_request_id = Invocation.request_id
        return True

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S")
    )
    logging.Formatter.converter = time.gmtime
    handler.addFilter(stamp)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)


class ConfigureLoggingOnImport:
    """A meta path finder: whoever imports logging first (the handler, boto3)
    gets it already configured as AWS's runtime configures it before loading
    the handler, without every cold start paying for the import."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "logging":
            return None
        sys.meta_path.remove(ConfigureLoggingOnImport)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            setup_logging(module)

        spec.loader.exec_module = exec_module
        return spec


def load_handler():
    spec = os.environ.get("_HANDLER", "")
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        raise_init("Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise_init("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    except SyntaxError as exc:
        raise_init("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}")
    except Exception as exc:  # noqa: BLE001 - user code may raise anything
        shape = error_shape(exc)
        print(f"LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code.", file=sys.stderr)
        print(to_json(shape), flush=True)
        post_error("/init/error", shape)
        sys.exit(1)
    handler = getattr(module, function_name, None)
    if handler is None:
        raise_init("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return handler


def raise_init(error_type, message):
    shape = {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": []}
    print(f"[ERROR] {error_type}: {message}", flush=True)
    post_error("/init/error", shape)
    sys.exit(1)


def main():
    take_arguments(sys.argv)
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "."))
    if "logging" in sys.modules:
        setup_logging(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, ConfigureLoggingOnImport)
    handler = load_handler()
    status, headers, body = api.request("GET", "/invocation/next")
    while True:
        if status != 200:
            sys.exit(0)
        request_id = headers.get("lambda-runtime-aws-request-id")
        os.environ["_X_AMZN_TRACE_ID"] = headers.get("lambda-runtime-trace-id", "")
        client_context = headers.get("lambda-runtime-client-context")
        identity = headers.get("lambda-runtime-cognito-identity")
        context = LambdaContext(
            request_id,
            int(headers.get("lambda-runtime-deadline-ms") or 0),
            headers.get("lambda-runtime-invoked-function-arn"),
            ClientContext(from_json(client_context)) if client_context else None,
            CognitoIdentity(from_json(identity)) if identity else None,
        )
        Invocation.request_id = request_id
        try:
            event = from_json(body.decode()) if body else {}
            result = handler(event, context)
            payload = to_json(result).encode()
        except Exception as exc:  # noqa: BLE001 - report whatever the handler raised
            shape = error_shape(exc, request_id)
            print(f"[ERROR] {shape['errorType']}: {shape['errorMessage']}", flush=True)
            sys.stdout.flush()
            post_error(f"/invocation/{request_id}/error", shape)
            status, headers, body = api.request("GET", "/invocation/next")
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        status, headers, body = api.respond_then_next(request_id, payload)


if __name__ == "__main__":
    main()
