"""moto's server, with each DynamoDB request run alone.

`moto_server` serves requests on threads, and moto's DynamoDB backend takes no lock: two
`TransactWriteItems` (or two conditional writes) racing on one item can both pass their
conditions, which DynamoDB never allows (every request on an item is atomic, a transaction over
all its items). Stowage's concurrency tests (e.g. 8 creates racing for one external id) found
it. This runs the same application as `moto_server -H HOST -p PORT`, holding one lock around
each DynamoDB request (they are recognised by their `X-Amz-Target: DynamoDB_20120810.*`
header); S3 and moto's own API stay concurrent.

It also makes `TransactWriteItems` cost what the items it names cost. moto backs a transaction
up by deep-copying every table it touches — all items and the whole stream — so each
transaction's cost grows with the table (and its stream): with every Stowage record write a
transaction (the usage counters go with the record), a test writing 2,000 records would spend
most of an hour in those copies. Here each transaction keeps an undo log instead: a copy of each
item it names, as it was, and the length of the table's stream; when moto cancels the
transaction, those items are put back and the stream records it added dropped, so a cancelled
transaction leaves the table and its stream exactly as they were (as DynamoDB does). This holds
because the lock above runs each DynamoDB request alone.

And it runs each Lambda function of the tests with only its own IAM policy (least privilege
proven; `scripts/iam.py` has the policies and the evaluator). A request signed with an
access key id of the form `SW<world>F<function>` (header or presigned query) acts as that
function of that test world: its IAM actions and resource ARNs are worked out (DynamoDB,
S3, EventBridge), checked against the function's policy as `template.yaml` deploys it, and a
call the policy does not allow is answered with the service's own `AccessDenied` and recorded.
Requests signed otherwise are the test harness's own and pass unchecked. Its routes, beside
moto's:

- `POST /_stowage/iam/worlds/<world>` `{"table", "bus", "appsync_api"}`: a test world's names;
- `GET /_stowage/iam/denials/<world>`: the calls refused in that world (a JSON list), forgotten
  once read;
- `POST /_stowage/iam/authorize` `{"accessKey", "action", "resource"}`: `{"allowed": bool}`, for
  the tests' stand-ins of services moto lacks (AppSync Events' publish);
- `GET /_stowage/iam/coverage`: for each function, how its calls were allowed (which
  statement and action), for `scripts/iam.py check`, which fails an action no test needed.

- `GET /_stowage/conflicts`: `{"holdMs", "conflicts", "mostMet"}`, how many requests met a
  transaction in flight (below), and the items met most;
- `POST /_stowage/conflicts/hold` `{"table", "keys": [<key attribute map>], "seconds"}`: holds
  those items as a transaction in flight would, for that long.

With `--hold-ms N` (the test command uses it) DynamoDB's transaction conflicts are modelled:
each `TransactWriteItems` holds its items for N ms, and other transactions and single-item
writes that meet them are refused as DynamoDB refuses them (`scripts/conflicts.py` says how and
why). With `--nodelay` the sockets it accepts have TCP_NODELAY (for benchmarks: see
`bench/moto_nodelay.py`).

Usage: python scripts/moto_server.py HOST PORT [--hold-ms N] [--nodelay]
"""

import io
import json
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conflicts  # noqa: E402
import iam  # noqa: E402

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def undo_logged_transactions() -> None:
    """Replaces moto's whole-table backup in `TransactWriteItems` with an undo log."""
    import copy

    import moto.dynamodb.models as dynamodb
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    class TablesNotCopied:
        """`copy` for moto's DynamoDB backend module: a `Table` is not copied (the undo log
        below restores what a cancelled transaction changed); everything else is."""

        def __getattr__(self, name):
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value, memo=None):
            if isinstance(value, Table):
                return value
            return copy.deepcopy(value, memo)

    dynamodb.copy = TablesNotCopied()
    backend_class = dynamodb.DynamoDBBackend
    transact = backend_class.transact_write_items

    def transact_write_items(self, transact_items):
        saved = []  # (table, hash key, range key, the item as it was or None)
        streams = {}  # table name -> (its stream shard, its length before)
        for entry in transact_items:
            if not isinstance(entry, dict) or len(entry) != 1:
                continue
            kind, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            key = op.get("Item") if kind == "Put" else op.get("Key")
            if not isinstance(key, dict) or table.hash_key_attr not in key:
                continue
            if table.has_range_key and table.range_key_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.has_range_key else None
            current = table.get_item(hash_key, range_key)
            saved.append((table, hash_key, range_key, copy.deepcopy(current)))
            if table.stream_shard is not None and table.name not in streams:
                streams[table.name] = (table.stream_shard, len(table.stream_shard.items))
        try:
            return transact(self, transact_items)
        except BaseException:
            for table, hash_key, range_key, item in reversed(saved):
                if range_key is None:
                    if item is None:
                        table.items.pop(hash_key, None)
                    else:
                        table.items[hash_key] = item
                elif item is None:
                    table.items[hash_key].pop(range_key, None)
                else:
                    table.items[hash_key][range_key] = item
            for shard, length in streams.values():
                del shard.items[length:]
            raise

    backend_class.transact_write_items = transact_write_items


def denial(service: str, function: str, action: str, resource: str):
    """The answer AWS gives a call its identity policy does not allow: (status, headers, body)."""
    message = (f"User: arn:aws:sts::{iam.ACCOUNT}:assumed-role/{function}-role/{function} is not "
               f"authorized to perform: {action} on resource: {resource} because no "
               f"identity-based policy allows the {action} action")
    if service == "s3":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
                f"<Message>{message}</Message></Error>").encode()
        return "403 Forbidden", [("content-type", "application/xml")], body
    kind = ("com.amazon.coral.service#AccessDeniedException" if service == "dynamodb"
            else "AccessDeniedException")
    body = json.dumps({"__type": kind, "message": message, "Message": message}).encode()
    return "400 Bad Request", [("content-type", "application/x-amz-json-1.0")], body


def signed_service(environ) -> str | None:
    """The service a SigV4 request was signed for (its credential scope)."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    query = environ.get("QUERY_STRING", "")
    scope = None
    if "Credential=" in authorization:
        scope = authorization.split("Credential=", 1)[1].split(",", 1)[0]
    else:
        import urllib.parse

        credential = urllib.parse.parse_qs(query).get("X-Amz-Credential")
        scope = credential[0] if credential else None
    parts = (scope or "").split("/")
    return parts[3] if len(parts) >= 5 else None


def key_attributes_of_tables():
    """table name -> its key attribute names, from moto's backends (any account and region)."""
    from moto.dynamodb.models import dynamodb_backends

    known = {}

    def lookup(name):
        if name in known:
            return known[name]
        for account in list(dynamodb_backends.keys()):
            for region in list(dynamodb_backends[account].keys()):
                table = dynamodb_backends[account][region].tables.get(name)
                if table is not None:
                    names = [table.hash_key_attr]
                    if table.has_range_key:
                        names.append(table.range_key_attr)
                    known[name] = names
                    return names
        return None

    return lookup


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="moto's server as Stowage's tests need it")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--hold-ms", type=float, default=0,
                        help="model DynamoDB's transaction conflicts, each transaction holding "
                             "its items this long (0: not modelled)")
    parser.add_argument("--nodelay", action="store_true", help="TCP_NODELAY on accepted sockets")
    args = parser.parse_args()
    host, port = args.host, args.port
    if args.nodelay:
        import socket

        from werkzeug import serving as werkzeug_serving

        activate = werkzeug_serving.BaseWSGIServer.server_activate

        def server_activate(self):
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            activate(self)

        werkzeug_serving.BaseWSGIServer.server_activate = server_activate
    locks = conflicts.ItemLocks(args.hold_ms / 1000, key_attributes_of_tables()) \
        if args.hold_ms > 0 else None
    os.environ.setdefault("MOTO_PORT", str(port))
    undo_logged_transactions()
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()
    enforcer = iam.Enforcer()
    # Load and transform the template now, not inside the first test's call.
    enforcer.statements()

    def answer(start_response, payload, status="200 OK"):
        start_response(status, [("content-type", "application/json")])
        return [json.dumps(payload).encode()]

    def stowage_route(environ, start_response, path):
        method = environ.get("REQUEST_METHOD")
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if path.startswith("/_stowage/iam/worlds/") and method == "POST":
            with lock:
                enforcer.world(path.rsplit("/", 1)[1]).update(json.loads(raw or b"{}"))
            return answer(start_response, {})
        if path.startswith("/_stowage/iam/denials/"):
            with lock:
                taken = enforcer.denials.pop(path.rsplit("/", 1)[1], [])
            return answer(start_response, taken)
        if path == "/_stowage/iam/authorize" and method == "POST":
            request = json.loads(raw)
            who = iam.acting(request.get("accessKey"))
            if who is None:
                return answer(start_response, {"allowed": False, "reason": "not an acting key"})
            with lock:
                denied = enforcer.check(*who, [(request["action"], request["resource"],
                                                request.get("context") or {})])
            return answer(start_response, {"allowed": not denied})
        if path == "/_stowage/conflicts/hold" and method == "POST":
            if locks is None:
                return answer(start_response, {"error": "started without --hold-ms"},
                              "409 Conflict")
            request = json.loads(raw)
            held = locks.hold_for(request["table"], request["keys"], float(request["seconds"]))
            return answer(start_response, {"held": held})
        if path == "/_stowage/conflicts":
            return answer(start_response, {"holdMs": args.hold_ms,
                                           "conflicts": locks.conflicts if locks else 0,
                                           "mostMet": locks.most_met() if locks else []})
        if path == "/_stowage/iam/coverage":
            with lock:
                return answer(start_response, enforcer.coverage())
        return answer(start_response, {"error": f"no route {method} {path}"}, "404 Not Found")

    def calls_of(environ, service, raw):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if service == "dynamodb":
            return iam.dynamodb_calls(target.split(".", 1)[-1], json.loads(raw or b"{}"))
        if service == "events":
            return iam.events_calls(target.split(".", 1)[-1], json.loads(raw or b"{}"))
        if service == "s3":
            headers = {k[5:].lower().replace("_", "-"): v for k, v in environ.items()
                       if k.startswith("HTTP_")}
            return iam.s3_calls(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""),
                                environ.get("QUERY_STRING", ""), headers, raw)
        return [(f"{service}:{target or environ.get('REQUEST_METHOD')}", "*", {})]

    def missing_object(environ, start_response, who, object_arn):
        """A GET or HEAD of an object, as S3 answers it: a missing object is `404` only to a
        caller that may list the bucket (`s3:ListBucket`); to others it is `403 AccessDenied`
        (so a function that looks for objects that may be missing needs the permission)."""
        captured = {}

        def capture(code, headers, *rest):
            captured["status"], captured["headers"] = code, headers
            return lambda data: None

        body = list(app(environ, capture))
        if captured.get("status", "").startswith("404"):
            bucket_arn = object_arn.split("/", 1)[0]
            key = object_arn.split("/", 1)[1] if "/" in object_arn else ""
            with lock:
                denied = enforcer.check(*who, [("s3:ListBucket", bucket_arn, {"s3:prefix": key})])
            if denied:
                print(f"IAM: {who[1]} (world {who[0]}) looked for a missing object without "
                      f"s3:ListBucket on {bucket_arn} ({object_arn}): S3 answers 403", file=sys.stderr, flush=True)
                status, headers, body = denial("s3", who[1], "s3:ListBucket", bucket_arn)
                start_response(status, headers + [("content-length", str(len(body)))])
                return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
        start_response(captured["status"], captured["headers"])
        return body

    def serving(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_stowage/"):
            return stowage_route(environ, start_response, path)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        is_dynamodb = target.startswith("DynamoDB_")
        who = iam.acting(iam.access_key_of(environ.get("HTTP_AUTHORIZATION", ""),
                                           environ.get("QUERY_STRING", "")))
        if who is not None:
            service = signed_service(environ) or "unknown"
            # The body is read only where the calls depend on it (not a part's bytes).
            needs_body = service != "s3" or (
                environ.get("REQUEST_METHOD") == "POST"
                and "delete" in environ.get("QUERY_STRING", ""))
            raw = b""
            if needs_body:
                raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                environ["wsgi.input"] = io.BytesIO(raw)
            calls = calls_of(environ, service, raw)
            with lock:
                denied = enforcer.check(*who, calls)
            if denied:
                action, resource, reason = denied[0]
                print(f"IAM: {who[1]} (world {who[0]}) denied {action} on {resource}: {reason}",
                      file=sys.stderr, flush=True)
                status, headers, body = denial(service, who[1], action, resource)
                start_response(status, headers + [("content-length", str(len(body)))])
                return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
        if who is not None and service == "s3" and calls[0][0] == "s3:GetObject":
            return missing_object(environ, start_response, who, calls[0][1])
        if not is_dynamodb:
            return app(environ, start_response)
        status = []

        def recording(code, headers, *rest):
            status.append(code)
            return start_response(code, headers, *rest)

        def run(respond):
            with lock:
                # The whole body is produced under the lock: moto answers in one piece.
                return list(app(environ, respond))

        if locks is None:
            body = run(recording)
        else:
            raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(raw)

            def moto():
                # Called by `locks.around` under `lock`.
                answered = []

                def capture(code, headers, *rest):
                    answered.append((code, headers))
                    return lambda data: None

                body = list(app(environ, capture))
                return answered[0][0], answered[0][1], body

            code, headers, body = locks.around(target, raw, lock, moto)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            recording(code, headers + [("content-length", str(sum(len(b) for b in body)))])
        if status and not status[0].startswith("2"):
            # Into the log (target/moto.log) with the operation, to explain a failing test.
            text = b"".join(body).decode("utf-8", "replace")[:500]
            print(f"{target} {status[0]}: {text}", file=sys.stderr, flush=True)
        return body

    run_simple(
        host,
        port,
        serving,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
