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
    assert (body["uid"], body["gid"]) == (993, 990)
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
