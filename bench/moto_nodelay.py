"""moto_server with TCP_NODELAY on the sockets it accepts.

moto's server (werkzeug) writes each response in several segments; on a reused connection,
Nagle's algorithm on the server and the client's delayed ACK then hold most answers for tens
of milliseconds. AWS's endpoints do not stall like that, so the benchmark (bench/bench.py)
starts moto through this wrapper: the figures are then Stowage's, not that artifact's. Same
arguments as moto_server.

It also takes the test server's undo log for `TransactWriteItems` (scripts/moto_server.py):
moto's own deep copy of the table on every transaction would make each create slower the more
the benchmark has created, an artifact DynamoDB does not have.
"""

import socket
import sys
from pathlib import Path

from werkzeug import serving

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from moto_server import undo_logged_transactions  # noqa: E402

undo_logged_transactions()

_activate = serving.BaseWSGIServer.server_activate


def server_activate(self):
    # On the listening socket, so accepted sockets have it from the start: with TLS, the
    # handshake (and its session tickets) happens inside accept().
    self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _activate(self)


serving.BaseWSGIServer.server_activate = server_activate

from moto.server import main  # noqa: E402  (after the patch)

if __name__ == "__main__":
    sys.exit(main())
