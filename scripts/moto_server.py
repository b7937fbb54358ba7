"""moto's server, with each DynamoDB request run alone.

`moto_server` serves requests on threads, and moto's DynamoDB backend takes no lock: two
`TransactWriteItems` (or two conditional writes) racing on one item can both pass their
conditions, which DynamoDB never allows (every request on an item is atomic, a transaction over
all its items). Stowage's concurrency tests (e.g. 8 creates racing for one external id) found
it. This runs the same application as `moto_server -H HOST -p PORT`, holding one lock around
each DynamoDB request (they are recognised by their `X-Amz-Target: DynamoDB_20120810.*`
header); S3 and moto's own API stay concurrent.

Usage: python scripts/moto_server.py HOST PORT
"""

import os
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            # The whole body is produced under the lock: moto answers in one piece.
            return list(app(environ, start_response))

    run_simple(
        host,
        port,
        serialised,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
