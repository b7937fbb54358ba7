"""Cancelling an upload leaves no parts; an upload cut short (a crashed process, or parts sent by
someone else) is finished by sending only the parts the server does not hold."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import MIB, Server
from stowage import Stowage, StowageError, UploadCancelled, UploadError
from test_files import random_file, sha256_of

PART = 5 * MIB
SIZE = 2 * PART + MIB  # three parts: 5, 5 and 1 MiB
SRC = Path(__file__).resolve().parent.parent / "src"


def open_uploads(server: Server, file_id: str) -> list[Path]:
    """The embedded storage's open multipart uploads of this file (its on-disk layout:
    objects/.stowage/uploads/<upload>/upload.json names the key, which holds the id)."""
    root = server.data_dir / "objects" / ".stowage" / "uploads"
    if not root.exists():
        return []
    return [d for d in root.iterdir() if file_id in (d / "upload.json").read_text(errors="replace")]


class Recorder:
    """Every request a client sends (an httpx event hook)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> None:
        with self.lock:
            self.requests.append(request)

    def part_puts(self) -> list[int]:
        return sorted(
            int(r.url.params["partNumber"])
            for r in self.requests
            if r.method == "PUT" and "partNumber" in r.url.params
        )

    def signed(self) -> list[int]:
        numbers: list[int] = []
        for r in self.requests:
            if r.method == "POST" and r.url.path.endswith("/upload/parts"):
                numbers += json.loads(r.content)["partNumbers"]
        return sorted(numbers)


def recording_client(server: Server, token: str) -> tuple[Stowage, Recorder]:
    recorder = Recorder()
    http = httpx.Client(event_hooks={"request": [recorder]}, follow_redirects=False)
    return Stowage(server.endpoint, token, http_client=http), recorder


def test_a_cancelled_upload_leaves_no_parts(server: Server, client: Stowage, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    random_file(src, SIZE)
    cancel = threading.Event()
    seen_open: list[int] = []
    created: list[str] = []

    def progress(sent: int, total: int) -> None:
        if sent > PART + MIB and not cancel.is_set():
            # Part 1 is stored and part 2 on its way: the upload is open, with parts.
            seen_open.append(len(open_uploads(server, created[0])))
            cancel.set()

    with pytest.raises(UploadCancelled) as err:
        client.files.upload(
            src, part_size=PART, parallel=1, progress=progress, cancel=cancel,
            on_created=created.append,
        )
    file_id = err.value.file_id
    assert file_id == created[0]
    assert seen_open == [1]
    # Nothing left: not on the server's books, not in the storage.
    with pytest.raises(StowageError) as gone:
        client.files.parts(file_id)
    assert gone.value.status == 409
    assert open_uploads(server, file_id) == []
    assert client.files.get(file_id)["status"] == "failed"  # it never had content


def test_a_progress_callback_that_raises_cancels_too(server: Server, client: Stowage, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    random_file(src, SIZE)

    def progress(sent: int, total: int) -> None:
        if sent > PART:
            raise RuntimeError("the user closed the window")

    with pytest.raises(UploadCancelled) as err:
        client.files.upload(src, part_size=PART, parallel=2, progress=progress)
    assert isinstance(err.value.__cause__, RuntimeError)
    assert err.value.file_id is not None
    assert open_uploads(server, err.value.file_id) == []


INTERRUPTED_UPLOAD = """
import os, signal, sys
from stowage import Stowage

endpoint, token, path, part = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def progress(sent, total):
    if sent > part + part // 2:  # Ctrl-C halfway through part 2
        os.kill(os.getpid(), signal.SIGINT)

Stowage(endpoint, token).files.upload(
    path, part_size=part, parallel=1, progress=progress,
    on_created=lambda file_id: print(file_id, flush=True),
)
"""


def test_ctrl_c_aborts_the_upload(server: Server, tenant: str, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    random_file(src, SIZE)
    token = server.token(tenant, "alice")
    interrupted = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_UPLOAD, server.endpoint, token, str(src), str(PART)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert "KeyboardInterrupt" in interrupted.stderr, interrupted.stderr
    assert interrupted.returncode != 0
    file_id = interrupted.stdout.strip()
    with Stowage(server.endpoint, token) as client:
        with pytest.raises(StowageError) as gone:
            client.files.parts(file_id)
        assert gone.value.status == 409
        assert client.files.get(file_id)["status"] == "failed"
    assert open_uploads(server, file_id) == []


CRASHING_UPLOAD = """
import os, sys
from stowage import Stowage

endpoint, token, path, part = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def progress(sent, total):
    if sent > part + part // 2:  # halfway through part 2 (one part at a time): part 1 is held
        os._exit(17)

Stowage(endpoint, token).files.upload(
    path, part_size=part, parallel=1, progress=progress,
    on_created=lambda file_id: print(file_id, flush=True),
)
"""


def test_an_upload_cut_short_by_a_crash_resumes_with_only_the_missing_parts(
    server: Server, tenant: str, tmp_path: Path
) -> None:
    src = tmp_path / "big.bin"
    digest = random_file(src, SIZE)
    token = server.token(tenant, "alice")
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_UPLOAD, server.endpoint, token, str(src), str(PART)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert crashed.returncode == 17, crashed.stderr
    file_id = crashed.stdout.strip()
    client, recorder = recording_client(server, token)
    with client:
        assert [p["partNumber"] for p in client.files.parts(file_id)] == [1]
        log_mark = server.log_size()
        seen: list[int] = []
        record = client.files.upload(src, resume_id=file_id, progress=lambda s, t: seen.append(s))
        assert record["id"] == file_id and record["status"] == "uploaded"
        assert recorder.part_puts() == [2, 3]  # what this client sent
        assert recorder.signed() == [2, 3]  # and had signed: never a part the server holds
        assert seen[0] == PART and seen[-1] == SIZE  # counted from what was held
        # What the storage endpoint received after the mark, from the server's own log (one
        # line per request; the path has no query, so parts are counted, not named).
        log = server.log_since(log_mark)
        puts = re.findall(rf"method=PUT path=/stowage/\S*/{file_id}/\S* status=200", log)
        assert len(puts) == 2, log
        back = tmp_path / "back.bin"
        client.files.download(file_id, back)
    assert sha256_of(back) == digest


@pytest.mark.parametrize("held", [[1, 3], [2]])
def test_resume_sends_only_the_parts_the_server_lacks(
    server: Server, tenant: str, tmp_path: Path, held: list[int]
) -> None:
    src = tmp_path / "big.bin"
    digest = random_file(src, SIZE)
    data = src.read_bytes()
    client, recorder = recording_client(server, server.token(tenant, "alice"))
    with client:
        created = client.files.create("big.bin", "application/octet-stream", size=SIZE,
                                      multipart=True, part_size=PART)
        file_id = created["file"]["id"]
        plan = created["upload"]
        assert plan["partCount"] == 3
        for part in plan["parts"]:  # someone else sent these before stopping
            n = part["partNumber"]
            if n in held:
                put = httpx.put(part["url"], content=data[(n - 1) * PART : n * PART])
                assert put.status_code == 200
        recorder.requests.clear()
        record = client.files.upload(src, resume_id=file_id, parallel=2)
        missing = [n for n in (1, 2, 3) if n not in held]
        assert recorder.part_puts() == missing
        assert recorder.signed() == missing
        assert record["status"] == "uploaded" and record["size"] == SIZE
        back = tmp_path / "back.bin"
        client.files.download(file_id, back)
    assert sha256_of(back) == digest


def test_resuming_an_upload_that_landed_sends_nothing(server: Server, tenant: str) -> None:
    client, recorder = recording_client(server, server.token(tenant, "alice"))
    with client:
        record = client.files.upload(b"done", name="done.txt")
        recorder.requests.clear()
        again = client.files.upload(b"done", resume_id=record["id"])
    assert again["id"] == record["id"] and again["status"] == "uploaded"
    assert [r.method for r in recorder.requests if r.method != "GET"] == []


def test_a_single_put_that_never_landed_is_started_again(server: Server, tenant: str) -> None:
    client, recorder = recording_client(server, server.token(tenant, "alice"))
    with client:
        created = client.files.create("late.txt", "text/plain", size=4)
        assert created["upload"]["method"] == "PUT"  # its URL is lost with the process
        recorder.requests.clear()
        record = client.files.upload(b"late", resume_id=created["file"]["id"])
    assert record["status"] == "uploaded" and record["size"] == 4
    assert [r.url.path for r in recorder.requests if r.method == "POST"] == [
        f"/files/{created['file']['id']}/upload"
    ]


def test_expired_part_urls_are_signed_again(server: Server, client: Stowage, tmp_path: Path) -> None:
    """The plan's URLs live one second; the upload starts after they expired: each part's PUT
    is refused (403) and the part is signed again, once, and sent."""
    src = tmp_path / "big.bin"
    digest = random_file(src, SIZE)
    refused: list[int] = []

    def slow_start(sent: int, total: int) -> None:
        if sent == 0:
            time.sleep(2.2)

    http = httpx.Client(event_hooks={"response": [lambda r: refused.append(r.status_code) if r.status_code == 403 else None]})
    with Stowage(server.endpoint, client._http.token(), http_client=http) as c:
        record = c.files.upload(src, part_size=PART, upload_url_expires_in=1, progress=slow_start)
        back = tmp_path / "back.bin"
        c.files.download(record["id"], back)
    assert refused == [403, 403, 403]  # each of the three parts once
    assert sha256_of(back) == digest


def test_an_expired_single_put_url_is_an_upload_error(server: Server, client: Stowage) -> None:
    def slow_start(sent: int, total: int) -> None:
        if sent == 0:
            time.sleep(2.2)

    with pytest.raises(UploadError) as err:
        client.files.upload(b"too late", name="late.txt", upload_url_expires_in=1, progress=slow_start)
    cause = err.value.__cause__
    assert isinstance(cause, StowageError) and cause.status == 403
    assert err.value.file_id is not None
    assert client.files.get(err.value.file_id)["status"] == "pending"
