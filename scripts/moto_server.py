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
transaction's cost grows with the table (and its stream): with every Stowage record write now a
transaction (the usage counters go with the record), a test writing 2,000 records spent most
of an hour in those copies. Here each transaction keeps an undo log instead: a copy of each
item it names, as it was, and the length of the table's stream; when moto cancels the
transaction, those items are put back and the stream records it added dropped, so a cancelled
transaction leaves the table and its stream exactly as they were (as DynamoDB does). This holds
because the lock above runs each DynamoDB request alone.

And it records, per table, the IAM actions each DynamoDB request needs (a transaction: one per
item it names, as IAM checks them; a batch: its operation on every table it names; a `Query`
of an index: `Query:index`), for tests that hold each function's policy to what its code calls:
`GET /_stowage/dynamodb-actions/<table>` answers them as a JSON list, oldest first, and forgets
them.

Usage: python scripts/moto_server.py HOST PORT
"""

import collections
import io
import json
import os
import sys
import threading

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


# IAM's action for each kind of item in a transaction.
TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def actions_of(operation: str, request: dict) -> list:
    """(table, IAM action) pairs that one DynamoDB request needs."""
    if operation in ("TransactWriteItems", "TransactGetItems"):
        pairs = []
        for entry in request.get("TransactItems", []):
            for kind, op in entry.items():
                pairs.append((op.get("TableName"), TRANSACT_ACTIONS.get(kind, kind)))
        return pairs
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(table, operation) for table in request.get("RequestItems", {})]
    action = f"{operation}:index" if request.get("IndexName") else operation
    return [(request.get("TableName"), action)]


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    undo_logged_transactions()
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()
    recorded = collections.defaultdict(lambda: collections.deque(maxlen=10_000))
    prefix = "/_stowage/dynamodb-actions/"

    def serialised(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(prefix):
            with lock:
                taken = list(recorded.pop(path[len(prefix):], []))
            start_response("200 OK", [("content-type", "application/json")])
            return [json.dumps(taken).encode()]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB_"):
            return app(environ, start_response)
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            pairs = actions_of(target.split(".", 1)[-1], json.loads(raw or b"{}"))
        except (ValueError, AttributeError):
            pairs = []
        status = []

        def recording(code, headers, *rest):
            status.append(code)
            return start_response(code, headers, *rest)

        with lock:
            for table, action in pairs:
                if table:
                    recorded[table].append(action)
            # The whole body is produced under the lock: moto answers in one piece.
            body = list(app(environ, recording))
        if status and not status[0].startswith("2"):
            # Into the log (target/moto.log) with the operation, to explain a failing test.
            text = b"".join(body).decode("utf-8", "replace")[:500]
            print(f"{target} {status[0]}: {text}", file=sys.stderr, flush=True)
        return body

    run_simple(
        host,
        port,
        serialised,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
