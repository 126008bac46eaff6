"""`nimbus up DIR` as a child process: each example answers over HTTP, the
todo API does its CRUD on DynamoDB, an edited handler is live on the next
request, a function removed from the template is gone, a template Nimbus
cannot deploy creates nothing, and Ctrl-C exits cleanly.
"""

import json
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, free_port, make_client, nimbus_binary

EXAMPLES = ROOT / "examples"


class Up:
    """A running `nimbus up DIR` (its own server, data in DIR/.nimbus)."""

    def __init__(self, app, log_path):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.region = "us-east-1"
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.started = time.time()
        self.process = subprocess.Popen(
            [nimbus_binary(), "up", str(app), "--port", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT
        )

    def output(self):
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern, timeout=60, after=0):
        """The first match of `pattern` in the output past offset `after`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.output()
            m = re.compile(pattern, re.M).search(text, after)
            if m:
                return m
            if self.process.poll() is not None:
                pytest.fail(f"nimbus up exited ({self.process.returncode}):\n{text}")
            time.sleep(0.05)
        pytest.fail(f"no {pattern!r} in the output of nimbus up:\n{self.output()}")

    def api(self, name="ServerlessHttpApi"):
        """The base URL of an API printed under `APIs:`, path-style."""
        m = self.wait_for(rf"^\s+{name}\s+http://([a-z0-9]+)\.execute-api\.localhost:\d+/(\S*)$")
        return f"{self.endpoint}/_aws/execute-api/{m.group(1)}/{m.group(2)}".rstrip("/")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=30)
        self.log.close()
        assert code == 0, self.output()


def copy_example(name, into):
    """A fresh copy of examples/NAME (without state or build output) to edit and run."""
    app = into / name
    shutil.copytree(EXAMPLES / name, app, ignore=shutil.ignore_patterns(".nimbus", "target", "build"))
    return app


@pytest.fixture
def up(tmp_path):
    """up(app_dir) -> a running `nimbus up app_dir`, stopped (Ctrl-C, exit 0 asserted) after the test."""
    running = []

    def start(app):
        running.append(Up(app, tmp_path / f"up-{app.name}.log"))
        return running[-1]

    yield start
    for u in running:
        u.stop()


def http(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            text = r.read().decode()
            return r.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code, (json.loads(text) if text else None)


def eventually(check, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    assert check()


def test_todo_api_crud_and_hot_reload(up, tmp_path):
    """`nimbus up examples/todo-api`: CRUD over HTTP, then an edited handler is live."""
    app = copy_example("todo-api", tmp_path)
    u = up(app)
    api = u.api()
    status, todo = http("POST", f"{api}/todos", {"title": "write tests"})
    print(f"time from `nimbus up` to the first response: {time.time() - u.started:.2f}s")
    assert status == 201, todo
    status, listed = http("GET", f"{api}/todos")
    assert status == 200 and [t["id"] for t in listed["items"]] == [todo["id"]]
    assert http("GET", f"{api}/todos/{todo['id']}") == (200, todo)
    status, done = http("PUT", f"{api}/todos/{todo['id']}", {"done": True})
    assert status == 200 and done["done"] is True
    assert http("DELETE", f"{api}/todos/{todo['id']}")[0] == 204
    assert http("GET", f"{api}/todos/{todo['id']}")[0] == 404
    # The data really is in DynamoDB, in the table the template names.
    ddb = make_client(u, "dynamodb")
    assert "todos" in ddb.list_tables()["TableNames"]

    # Hot reload: the next request after an edit gets the new code.
    handler = app / "src" / "app.py"
    handler.write_text(handler.read_text().replace('"todo not found"', '"no such todo"'))
    eventually(lambda: http("GET", f"{api}/todos/missing")[1] == {"message": "no such todo"})
    u.wait_for(r"Redeployed in \d+ ms: UPDATE TodosFunction")


SLOW_HANDLER = """import time


def lambda_handler(event, context):
    time.sleep(float((event.get("queryStringParameters") or {}).get("sleep", "0")))
    return "VERSION"
"""


def test_in_flight_requests_finish_on_the_old_code(up, tmp_path):
    """A redeploy while a request runs: it answers from the old code, the next from the new.
    (The request sleeps 6 s, within a 20 s Timeout, so a loaded machine still redeploys meanwhile.)"""
    app = copy_example("hello", tmp_path)
    template = app / "template.yaml"
    template.write_text(template.read_text().replace("Timeout: 3", "Timeout: 20"))
    handler = app / "hello_world" / "app.py"
    handler.write_text(SLOW_HANDLER.replace("VERSION", "v1"))
    u = up(app)
    api = u.api()
    assert http("GET", f"{api}/hello") == (200, "v1")
    in_flight = {}
    slow = threading.Thread(target=lambda: in_flight.update(answer=http("GET", f"{api}/hello?sleep=6")))
    slow.start()
    time.sleep(0.5)
    mark = len(u.output())
    handler.write_text(SLOW_HANDLER.replace("VERSION", "v2"))
    u.wait_for(r"Redeployed in \d+ ms: UPDATE HelloWorldFunction", after=mark)
    assert slow.is_alive(), "the redeploy only came after the slow request had ended"
    assert http("GET", f"{api}/hello") == (200, "v2")
    slow.join(timeout=30)
    assert in_flight["answer"] == (200, "v1")


PREWARM_TEMPLATE = """AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Inits:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: inits
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - AttributeName: id
          AttributeType: S
      KeySchema:
        - AttributeName: id
          KeyType: HASH
  HelloWorldFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello_world/
      Handler: app.lambda_handler
      Runtime: python3.12
      Timeout: 10
      Policies:
        - DynamoDBCrudPolicy:
            TableName: !Ref Inits
      Events:
        HelloWorld:
          Type: HttpApi
          Properties:
            Path: /hello
            Method: get
"""

# Init code records that it ran, with a token only this environment knows.
INIT_RECORDING_HANDLER = """import uuid
import boto3

TOKEN = uuid.uuid4().hex
boto3.resource("dynamodb").Table("inits").put_item(Item={"id": "VERSION", "token": TOKEN})


def lambda_handler(event, context):
    return {"token": TOKEN}
"""


def test_up_initialises_functions_before_the_first_request(up, tmp_path):
    """`nimbus up` starts each deployed function's environment right away
    (proactive initialization): its init code runs with no request made, the
    first request is served by that very environment, whose log shows
    INIT_START before START and an Init Duration; after an edit the new code
    is initialised ahead of traffic the same way."""
    app = copy_example("hello", tmp_path)
    (app / "template.yaml").write_text(PREWARM_TEMPLATE)
    handler = app / "hello_world" / "app.py"
    handler.write_text(INIT_RECORDING_HANDLER.replace("VERSION", "v1"))
    u = up(app)
    api = u.api()
    ddb = make_client(u, "dynamodb")

    def init_token(version):
        item = ddb.get_item(TableName="inits", Key={"id": {"S": version}}, ConsistentRead=True).get("Item")
        return item and item["token"]["S"]

    eventually(lambda: init_token("v1"), timeout=30)
    assert http("GET", f"{api}/hello") == (200, {"token": init_token("v1")})

    logs = make_client(u, "logs")
    lam = make_client(u, "lambda")
    [name] = [f["FunctionName"] for f in lam.list_functions()["Functions"]]

    def messages():
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []  # the log writer has not created the group yet
        return [e["message"] for e in events]

    eventually(lambda: any(m.startswith("REPORT ") for m in messages()))
    lines = messages()
    kinds = [m.split(" ")[0] for m in lines if m.split(" ")[0] in ("INIT_START", "START", "REPORT")]
    assert kinds == ["INIT_START", "START", "REPORT"], lines
    assert "Init Duration:" in next(m for m in lines if m.startswith("REPORT ")), lines

    mark = len(u.output())
    handler.write_text(INIT_RECORDING_HANDLER.replace("VERSION", "v2"))
    u.wait_for(r"Redeployed in \d+ ms: UPDATE HelloWorldFunction", after=mark)
    eventually(lambda: init_token("v2"), timeout=30)
    assert http("GET", f"{api}/hello") == (200, {"token": init_token("v2")})


BYE_FUNCTION = """
  ByeFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello_world/
      Handler: app.lambda_handler
      Runtime: python3.12
      Events:
        Bye:
          Type: HttpApi
          Properties:
            Path: /bye
            Method: get

Outputs:"""


def test_removed_function_is_gone(up, tmp_path):
    """A function removed from the template while `nimbus up` runs is deleted, with its route."""
    app = copy_example("hello", tmp_path)
    template = app / "template.yaml"
    original = template.read_text()
    template.write_text(original.replace("\nOutputs:", BYE_FUNCTION, 1))
    u = up(app)
    api = u.api()
    assert http("GET", f"{api}/bye") == (200, "Hello from Lambda!")
    lam = make_client(u, "lambda")
    names = lambda: [f["FunctionName"] for f in lam.list_functions()["Functions"]]  # noqa: E731
    assert any("ByeFunction" in n for n in names())

    mark = len(u.output())
    template.write_text(original)
    u.wait_for(r"Redeployed in \d+ ms: .*DELETE ByeFunction\b", after=mark)
    assert not any("ByeFunction" in n for n in names()), names()
    assert any("HelloWorldFunction" in n for n in names())
    assert http("GET", f"{api}/bye")[0] == 404
    assert http("GET", f"{api}/hello") == (200, "Hello from Lambda!")


def build_rust_example(app):
    cargo = shutil.which("cargo")
    assert cargo, "the Rust example needs cargo (it builds the workspace too)"
    subprocess.run(["make", "-C", str(app)], check=True, capture_output=True, timeout=600)


@pytest.mark.parametrize(
    "example, answer",
    [
        ("hello", "Hello from Lambda!"),
        ("hello-node", {"message": "Hello, Nimbus!"}),
        ("hello-rust", {"message": "Hello, Nimbus!"}),
    ],
)
def test_examples_answer(up, tmp_path, example, answer):
    """Each example, as its README says to run it, answers GET /hello."""
    app = copy_example(example, tmp_path)
    if example == "hello-rust":
        build_rust_example(app)
    u = up(app)
    api = u.api()
    query = "" if example == "hello" else "?name=Nimbus"
    assert http("GET", f"{api}/hello{query}") == (200, answer)
    assert re.search(r"^\s+HelloWorldApi|^\s+HelloUrl", u.output(), re.M), u.output()


def test_unsupported_type_stops_before_anything_is_made(tmp_path):
    """`nimbus up` on a template with a type Nimbus lacks: exit non-zero, the
    type and its line named, nothing created in the app's data dir."""
    app = copy_example("hello", tmp_path)
    template = app / "template.yaml"
    template.write_text(template.read_text().replace("\nOutputs:", "\n  Queue:\n    Type: AWS::SQS::Queue\n\nOutputs:", 1))
    line = template.read_text().splitlines().index("    Type: AWS::SQS::Queue") + 1
    result = subprocess.run(
        [nimbus_binary(), "up", str(app), "--port", str(free_port())], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0, result.stdout
    assert f"line {line}" in result.stderr and "AWS::SQS::Queue (Queue) is not supported" in result.stderr, result.stderr
    assert "CREATE_IN_PROGRESS" not in result.stdout
    assert not (app / ".nimbus" / "stacks").exists() or not list((app / ".nimbus" / "stacks").iterdir())
