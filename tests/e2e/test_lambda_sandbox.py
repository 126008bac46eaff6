"""Sandbox escape attempts: each must fail inside a function."""

import json
import os
import shutil

import pytest

from lambda_helpers import create_python

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"),
    reason="namespaces need root and util-linux here; Nimbus falls back to plain processes",
)

PROBE = """import json, os
def attempt(f):
    try:
        return 'allowed: ' + repr(f())
    except Exception as e:
        return 'denied: ' + type(e).__name__

def lambda_handler(event, context):
    data_dir = event['data_dir']
    with open('/tmp/sandbox-marker', 'w') as f:
        f.write('x')
    status = open('/proc/self/status').read()
    return {
        'uid': os.getuid(),
        'gid': os.getgid(),
        'no_new_privs': [l.split()[1] for l in status.splitlines() if l.startswith('NoNewPrivs')],
        'cap_eff': [l.split()[1] for l in status.splitlines() if l.startswith('CapEff')],
        'setuid_root': attempt(lambda: os.setuid(0)),
        'write_task': attempt(lambda: open('/var/task/evil.py', 'w')),
        'write_runtime': attempt(lambda: open('/var/runtime/python/bootstrap.py', 'a')),
        'data_dir': attempt(lambda: os.listdir(data_dir)),
        'code_store': attempt(lambda: os.listdir(os.path.join(data_dir, 'lambda', 'code'))),
        'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),
        'task_root': os.environ['LAMBDA_TASK_ROOT'],
        'cwd': os.getcwd(),
        'root_home': attempt(lambda: os.listdir('/root')),
    }
"""


def test_escape_attempts_fail(client, nimbus):
    if not hasattr(nimbus, "data_dir"):
        pytest.skip("needs a server this session started")
    lam = client("lambda")
    name = create_python(lam, PROBE, Timeout=10)
    result = lam.invoke(FunctionName=name, Payload=json.dumps({"data_dir": os.path.realpath(nimbus.data_dir)}))
    body = json.loads(result["Payload"].read())
    assert "FunctionError" not in result, body
    assert body["uid"] >= 20000 and body["gid"] == 990
    assert body["no_new_privs"] == ["1"]
    assert body["cap_eff"] == ["0000000000000000"]
    assert body["setuid_root"] == "denied: PermissionError"
    assert body["write_task"].startswith("denied: ")
    assert body["write_runtime"].startswith("denied: ")
    # Nimbus's data directory is an empty tmpfs in there (or, under /tmp,
    # gone with the host's /tmp): no store, no code.
    assert body["data_dir"] in ("allowed: []", "denied: FileNotFoundError")
    assert body["code_store"] == "denied: FileNotFoundError"
    assert body["root_home"] == "denied: PermissionError"
    # Its own pid namespace: the runtime is pid 1 and sees nothing of the host.
    assert body["pids"][0] == 1 and len(body["pids"]) < 5
    assert body["task_root"] == body["cwd"] == "/var/task"
    # A private /tmp.
    assert not os.path.exists("/tmp/sandbox-marker")


ATTACKER = """import socket
def lambda_handler(event, context):
    s = socket.create_connection(('127.0.0.1', event['port']), timeout=3)
    try:
        s.sendall(b'GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')
        return 'read: ' + repr(s.recv(4096))
    except Exception as e:
        return 'failed: ' + type(e).__name__
"""


def runtime_api_port(function_name):
    """Find a warm environment's Runtime API port (the test runs as root)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        env = dict(e.decode(errors="replace").split("=", 1) for e in environ if b"=" in e)
        if env.get("AWS_LAMBDA_FUNCTION_NAME") == function_name and "AWS_LAMBDA_RUNTIME_API" in env:
            return int(env["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)[1])
    return None


def test_a_function_cannot_reach_another_functions_runtime_api(client):
    lam = client("lambda")
    victim = create_python(lam, "def lambda_handler(e, c):\n    return 'victim'\n")
    assert json.loads(lam.invoke(FunctionName=victim)["Payload"].read()) == "victim"
    port = runtime_api_port(victim)
    assert port
    attacker = create_python(lam, ATTACKER, Timeout=10)
    body = json.loads(lam.invoke(FunctionName=attacker, Payload=json.dumps({"port": port}))["Payload"].read())
    # The connection is closed unanswered: no event to steal.
    # (A timeout would mean the long poll was accepted.)
    assert body in ("read: b''", "failed: ConnectionResetError"), body
    assert json.loads(lam.invoke(FunctionName=victim)["Payload"].read()) == "victim"


UNIX_ATTACKER = """import socket, sys
def lambda_handler(event, context):
    # Abstract Unix sockets are visible to every process of the network
    # namespace; the runtime's own one is named on its command line.
    own = sys.modules['__main__'].RUNTIME_API_SOCKET
    names = {line.split()[-1][1:] for line in open('/proc/net/unix').read().splitlines()[1:]
             if line.split()[-1].startswith('@nimbus-runtime-api-')}
    results = {}
    for name in sorted(names - {own}):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(3)
        try:
            s.connect('\\0' + name)
            s.sendall(b'GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')
            results[name] = 'read: ' + repr(s.recv(4096))
        except Exception as e:
            results[name] = 'failed: ' + type(e).__name__
        finally:
            s.close()
    return {'own': own, 'results': results}
"""


def test_a_function_cannot_reach_another_functions_runtime_api_socket(client):
    """Nimbus's Python runtime talks to the Runtime API over an abstract Unix
    socket: another function can see its name but is refused by uid."""
    lam = client("lambda")
    victim = create_python(lam, "def lambda_handler(e, c):\n    return 'victim'\n")
    assert json.loads(lam.invoke(FunctionName=victim)["Payload"].read()) == "victim"
    attacker = create_python(lam, UNIX_ATTACKER, Timeout=30)
    body = json.loads(lam.invoke(FunctionName=attacker, Payload=b"{}")["Payload"].read())
    assert body["own"], "the Python runtime should reach the Runtime API over its Unix socket"
    assert body["results"], "the victim's Runtime API socket should be visible"
    for name, result in body["results"].items():
        # Closed unanswered, maybe before the request was even sent: no event
        # to steal (a timeout would mean the long poll was accepted).
        assert result in ("read: b''", "failed: ConnectionResetError", "failed: BrokenPipeError"), (name, result)
    assert json.loads(lam.invoke(FunctionName=victim)["Payload"].read()) == "victim"
