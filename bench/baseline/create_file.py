"""The baseline: `POST /files` as a team would write it in Python 3 with boto3, run by the same
Runtime API emulator as the Rust bootstraps (bench/bench.py). It does create-file's work: read
and check the JSON body, write the record with a condition (DynamoDB PutItem), presign the
upload's PUT (S3), answer 201 with the file and its upload. Clients are made once, at import,
as the Python Lambda guides advise; nothing is primed.
"""

import json
import os
import time
import urllib.request
import uuid

import boto3

TABLE = os.environ["STOWAGE_TABLE"]
BUCKET = os.environ["STOWAGE_BUCKET"]
dynamodb = boto3.client("dynamodb")
s3 = boto3.client("s3", config=boto3.session.Config(s3={"addressing_style": "path"}))
RUNTIME = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"


def problem(status, detail):
    return {"statusCode": status, "headers": {"content-type": "application/problem+json"},
            "body": json.dumps({"status": status, "detail": detail})}


def handler(event):
    try:
        body = json.loads(event.get("body") or "")
    except ValueError:
        return problem(400, "the body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) \
            or not isinstance(body.get("mimeType"), str):
        return problem(400, "name and mimeType are required strings")
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    tenant, user = claims["tenant_id"], claims["sub"]
    file_id = uuid.uuid4().hex.upper()
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    key = f"files/{tenant}/{file_id}/1"
    record = {
        "id": file_id, "name": body["name"], "mimeType": body["mimeType"],
        "size": body.get("size"), "tags": body.get("tags", []), "purpose": body.get("purpose"),
        "metadata": body.get("metadata", {}), "status": "pending", "uploadedBy": user,
        "createdAt": now, "updatedAt": now, "version": 1,
    }
    dynamodb.put_item(
        TableName=TABLE,
        Item={"pk": {"S": f"T#{tenant}#F#{file_id}"}, "sk": {"S": "F#"},
              "record": {"S": json.dumps(record)}},
        ConditionExpression="attribute_not_exists(pk)",
    )
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": key, "ContentType": body["mimeType"]},
        ExpiresIn=3600)
    return {"statusCode": 201, "headers": {"content-type": "application/json"},
            "body": json.dumps({"file": record, "upload": {"method": "PUT", "url": url}})}


while True:
    with urllib.request.urlopen(f"{RUNTIME}/next") as response:
        request_id = response.headers["lambda-runtime-aws-request-id"]
        event = json.loads(response.read())
    answer = json.dumps(handler(event)).encode()
    urllib.request.urlopen(urllib.request.Request(
        f"{RUNTIME}/{request_id}/response", data=answer, method="POST")).read()
