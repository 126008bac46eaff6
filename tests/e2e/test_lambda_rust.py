"""A provided.al2023 function whose bootstrap is a Rust binary built in the
test run on the `lambda_runtime` crate (AWS's Rust runtime client)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lambda_helpers import ROLE, make_zip, unique

FIXTURE = Path(__file__).parent / "fixtures" / "rust-bootstrap"


@pytest.fixture(scope="module")
def rust_bootstrap():
    cargo = shutil.which("cargo")
    if not cargo:
        pytest.skip("cargo is not installed")
    cache = Path(os.environ.get("NIMBUS_CACHE_DIR", Path.home() / ".cache" / "nimbus"))
    target = cache / "rust-bootstrap-target"
    result = subprocess.run(
        [cargo, "build", "--quiet", "--manifest-path", str(FIXTURE / "Cargo.toml")],
        env={**os.environ, "CARGO_TARGET_DIR": str(target)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    return (target / "debug" / "bootstrap").read_bytes()


def test_rust_lambda_runtime_function(client, rust_bootstrap):
    lam = client("lambda")
    name = unique("rust")
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="bootstrap",
        Code={"ZipFile": make_zip({"bootstrap": (rust_bootstrap, 0o755)})},
    )
    for n in range(3):
        result = lam.invoke(FunctionName=name, Payload=json.dumps({"n": n}))
        body = json.loads(result["Payload"].read())
        assert "FunctionError" not in result, body
        assert body == {
            "echo": {"n": n},
            "request_id": result["ResponseMetadata"]["RequestId"],
            "arn": f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
        }
