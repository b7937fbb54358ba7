"""A small HTTP server of the tests' own, playing a busy API or storage endpoint: each request is
recorded (with when it arrived) and answered by a function of the test."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


Answer = tuple[int, dict[str, str], bytes]
Responder = Callable[[Seen, list[Seen]], Answer]


def answer_json(status: int, body: Any, headers: dict[str, str] | None = None) -> Answer:
    ctype = "application/problem+json" if status >= 400 else "application/json"
    return status, {"content-type": ctype, **(headers or {})}, json.dumps(body).encode()


def problem(status: int, code: str, headers: dict[str, str] | None = None) -> Answer:
    return answer_json(
        status,
        {
            "type": f"urn:stowage:problem:{code}",
            "title": "stub",
            "status": status,
            "detail": f"the stub says {code}",
            "code": code,
        },
        headers,
    )


@contextmanager
def stub_server(respond: Responder) -> Iterator[tuple[str, list[Seen]]]:
    seen: list[Seen] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def handle_one(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Seen(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                body,
                time.monotonic(),
            )
            with lock:
                seen.append(request)
                history = list(seen)
            status, headers, payload = respond(request, history)
            if status == 0:  # hang up without answering
                self.close_connection = True
                return
            # "x-stub-cut: N": announce the whole payload, send only N bytes, hang up.
            cut = headers.pop("x-stub-cut", None)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if cut is None:
                self.wfile.write(payload)
            else:
                self.wfile.write(payload[: int(cut)])
                self.wfile.flush()
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
