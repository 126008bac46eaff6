"""A todo list over HTTP: POST/GET /todos, GET/PUT/DELETE /todos/{id}.

Items live in the DynamoDB table named by TABLE_NAME; boto3 finds Nimbus
through AWS_ENDPOINT_URL, which Nimbus sets in the function's environment.
"""

import json
import os
import uuid

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def respond(status, body=None):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": "" if body is None else json.dumps(body),
    }


def parse_body(event):
    try:
        body = json.loads(event.get("body") or "{}")
    except json.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def handler(event, context):
    method = event["requestContext"]["http"]["method"]
    todo_id = (event.get("pathParameters") or {}).get("id")

    if todo_id is None and method == "POST":
        body = parse_body(event)
        if body is None or not isinstance(body.get("title"), str):
            return respond(400, {"message": "body must be JSON with a string 'title'"})
        item = {"id": str(uuid.uuid4()), "title": body["title"], "done": bool(body.get("done", False))}
        table.put_item(Item=item)
        return respond(201, item)

    if todo_id is None and method == "GET":
        items, kwargs = [], {}
        while True:
            page = table.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return respond(200, {"items": items})

    if todo_id is not None and method == "GET":
        item = table.get_item(Key={"id": todo_id}).get("Item")
        return respond(200, item) if item else respond(404, {"message": "todo not found"})

    if todo_id is not None and method == "PUT":
        body = parse_body(event)
        if body is None:
            return respond(400, {"message": "body must be a JSON object"})
        updates = {k: body[k] for k in ("title", "done") if k in body}
        if not updates:
            return respond(400, {"message": "nothing to update: give 'title' and/or 'done'"})
        names = {f"#{k}": k for k in updates}
        values = {f":{k}": v for k, v in updates.items()}
        try:
            result = table.update_item(
                Key={"id": todo_id},
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in updates),
                ConditionExpression="attribute_exists(id)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except table.meta.client.exceptions.ConditionalCheckFailedException:
            return respond(404, {"message": "todo not found"})
        return respond(200, result["Attributes"])

    if todo_id is not None and method == "DELETE":
        table.delete_item(Key={"id": todo_id})
        return respond(204)

    return respond(405, {"message": f"{method} is not allowed here"})
