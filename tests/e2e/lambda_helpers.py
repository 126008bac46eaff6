"""Helpers for the Lambda e2e tests: zips made in memory, functions created
and cleaned up."""

import io
import uuid
import zipfile

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

SEED_HANDLER = """import json
import boto3

def lambda_handler(event, context):
    return {'statusCode': 200, 'body': json.dumps('Hello from Lambda!')}
"""


def make_zip(files):
    """files: {name: text or bytes or (text, mode)} -> zip bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            mode = 0o644
            if isinstance(content, tuple):
                content, mode = content
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, content)
    return buf.getvalue()


def unique(prefix="fn"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_python(lam, code, name=None, handler="lambda_function.lambda_handler", runtime="python3.12", **kwargs):
    name = name or unique()
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=ROLE,
        Handler=handler,
        Code={"ZipFile": make_zip({"lambda_function.py": code})},
        **kwargs,
    )
    return name
