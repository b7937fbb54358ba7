"""DynamoDB's transaction conflicts, for the moto test server (`moto_server.py --hold-ms N`).

moto runs each DynamoDB request alone and at once, so two transactions never overlap and never
conflict. DynamoDB's do: a transaction holds every item it names (each `Put`, `Update`,
`Delete` and `ConditionCheck`) from the moment it is accepted until it commits, and meanwhile

- another `TransactWriteItems` naming one of those items is cancelled with
  `TransactionCanceledException`, the reason `TransactionConflict` on that item;
- a `PutItem`, `UpdateItem` or `DeleteItem` of one of them fails with
  `TransactionConflictException`;
- a `TransactGetItems` naming one of them is cancelled the same way.

Plain reads (`GetItem`, `Query`, `BatchGetItem`) never conflict: they read the last committed
value. (AWS, "Transaction conflict handling in DynamoDB", DynamoDB developer guide.)

The model: when a transaction's turn comes (moto runs one DynamoDB request at a time, under the
server's lock), it is refused if another holds one of its items; else moto applies it and it
holds its items for `hold` seconds more (a transaction's time on DynamoDB, which the developer
guide does not state; Stowage's measurements page says which hold a figure used and why). The
hold is a sleep outside the lock, so other requests go on meanwhile. `BatchWriteItem` is not modelled (Stowage
writes only per-file pointer items with it, which no transaction names).
"""

import json
import threading
import time


class ItemLocks:
    """The items that transactions in flight hold, and the answers DynamoDB gives around them."""

    def __init__(self, hold_seconds: float, key_attributes):
        self.hold = hold_seconds
        # key_attributes(table name) -> the names of its key attributes, or None if unknown.
        self.key_attributes = key_attributes
        self.held = set()
        self.mutex = threading.Lock()
        self.conflicts = 0
        # Which items were met most (their keys), to explain a benchmark's conflicts.
        self.met = {}

    def _key(self, table, item):
        names = self.key_attributes(table)
        if not names or not isinstance(item, dict) or any(n not in item for n in names):
            return None
        return (table, json.dumps([item[n] for n in names], sort_keys=True))

    def _transaction_keys(self, entries, get=False):
        keys = []
        for entry in entries or []:
            if not isinstance(entry, dict) or len(entry) != 1:
                keys.append(None)
                continue
            kind, op = next(iter(entry.items()))
            if not isinstance(op, dict):
                keys.append(None)
                continue
            item = op.get("Item") if kind == "Put" else op.get("Key")
            keys.append(self._key(op.get("TableName"), item))
        return keys

    def hold_for(self, table, items, seconds):
        """Holds these items (key attribute maps) for `seconds`, as a transaction in flight
        would: for tests of what a write that keeps meeting transactions answers."""
        keys = {self._key(table, item) for item in items} - {None}
        with self.mutex:
            self.held |= keys

        def release():
            time.sleep(seconds)
            with self.mutex:
                self.held -= keys

        threading.Thread(target=release, daemon=True).start()
        return len(keys)

    def _met(self, keys):
        for key in keys:
            self.met[key[1]] = self.met.get(key[1], 0) + 1

    def most_met(self, n=10):
        return sorted(self.met.items(), key=lambda kv: -kv[1])[:n]

    def around(self, target: str, raw: bytes, lock, run):
        """Answers one DynamoDB request: `run()` (moto's answer, `(status, headers, body)`),
        called under `lock` (the server's: moto runs one DynamoDB request at a time), unless
        the request meets a transaction in flight. Whether it does is decided under the lock
        too, when the request's turn comes: a request waiting for moto is not in flight on
        DynamoDB, and a transaction holds its items from its turn on, not while it queues."""
        operation = target.split(".", 1)[-1]
        modelled = operation in ("TransactWriteItems", "TransactGetItems", "PutItem",
                                 "UpdateItem", "DeleteItem")
        request = None
        if modelled:
            try:
                request = json.loads(raw or b"{}")
            except ValueError:
                request = None
        if request is None:
            with lock:
                return run()
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            item = request.get("Item") if operation == "PutItem" else request.get("Key")
            key = self._key(request.get("TableName"), item)
            with lock:
                with self.mutex:
                    if key is not None and key in self.held:
                        self.conflicts += 1
                        self._met([key])
                        return conflict_exception()
                return run()
        keys = self._transaction_keys(request.get("TransactItems"))
        with lock:
            with self.mutex:
                taken = [k is not None and k in self.held for k in keys]
                if any(taken):
                    self.conflicts += 1
                    self._met([k for k, t in zip(keys, taken) if t])
                    return cancelled(taken)
                mine = {k for k in keys if k is not None} \
                    if operation == "TransactWriteItems" else set()
                self.held |= mine
            try:
                answer = run()
            except BaseException:
                with self.mutex:
                    self.held -= mine
                raise
        # Applied; the items stay held for the rest of the transaction's time (outside the
        # lock, so that other requests go on meanwhile).
        try:
            if mine and self.hold > 0:
                time.sleep(self.hold)
            return answer
        finally:
            with self.mutex:
                self.held -= mine


def conflict_exception():
    body = json.dumps({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
        "message": "Transaction is ongoing for the item",
    }).encode()
    return "400 Bad Request", [("content-type", "application/x-amz-json-1.0")], [body]


def cancelled(taken):
    reasons = [
        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
        if t else {"Code": "None"}
        for t in taken
    ]
    codes = ", ".join(r["Code"] for r in reasons)
    body = json.dumps({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "message": f"Transaction cancelled, please refer cancellation reasons for specific "
                   f"reasons [{codes}]",
        "CancellationReasons": reasons,
    }).encode()
    return "400 Bad Request", [("content-type", "application/x-amz-json-1.0")], [body]
