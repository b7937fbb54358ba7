"""subscribe(): the events of the files this identity may read, as they happen, over
stowage-local's AppSync Events endpoint."""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path
from typing import Any

from conftest import Server
from stowage import Stowage


def events_until(q: queue.Queue[dict[str, Any]], done: Any, timeout: float = 10) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not done(got):
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; received {got}"
        try:
            got.append(q.get(timeout=left))
        except queue.Empty:
            pass
    return got


def test_subscribe_receives_the_events_of_my_files_only(server: Server, tenant: str, client: Stowage) -> None:
    info = client.realtime()
    assert info["url"].startswith("ws://") and info["channels"]
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    states: list[str] = []
    with Stowage(server.endpoint, server.token(f"{tenant}-other", "mallory")) as other:
        sub = client.subscribe(received.put, on_state=states.append)
        try:
            assert sub.wait_live(10), (states, sub.last_error)
            other.files.upload(b"not yours", name="other.txt")  # another tenant: never seen
            record = client.files.upload(b"watch me", name="watched.txt")
            mine = record["id"]
            got = events_until(
                received,
                lambda evs: any(e["file"]["id"] == mine and e["file"]["status"] == "uploaded" for e in evs),
            )
        finally:
            sub.close()
    assert states[:2] == ["connecting", "live"]
    assert all(e["file"]["id"] == mine for e in got), got
    assert [e["type"] for e in got][:1] == ["stowage.file.created"], got
    assert got[-1]["type"] == "stowage.file.uploaded", got
    ids = [e["eventId"] for e in got]
    assert len(ids) == len(set(ids))  # each event once
    assert sub.state == "closed" and states[-1] == "closed"


def test_subscribe_reconnects_after_the_server_restarts(tmp_path: Path) -> None:
    """A server of its own, stopped under a live subscription and started again on the same
    port and data dir: the subscription goes disconnected, then live again, and receives the
    events of a file created after the restart."""
    srv = Server(os.environ["STOWAGE_LOCAL_BIN"], tmp_path / "data", tmp_path / "server.log")
    srv.start()
    try:
        port = int(srv.endpoint.rsplit(":", 1)[1])
        received: queue.Queue[dict[str, Any]] = queue.Queue()
        states: list[str] = []
        with Stowage(srv.endpoint, srv.token("acme", "alice")) as client:
            sub = client.subscribe(received.put, on_state=states.append)
            try:
                assert sub.wait_live(10), (states, sub.last_error)
                srv.stop()
                deadline = time.monotonic() + 10
                while "disconnected" not in states:
                    assert time.monotonic() < deadline, states
                    time.sleep(0.05)
                srv.start(port=port)
                assert sub.wait_live(15), (states, sub.last_error)
                record = client.files.upload(b"after the restart", name="later.txt")
                got = events_until(
                    received, lambda evs: any(e["file"]["status"] == "uploaded" for e in evs)
                )
            finally:
                sub.close()
        assert {e["file"]["id"] for e in got} == {record["id"]}
        assert states.count("live") == 2, states
    finally:
        srv.stop()
