"""Uploads: one presigned ``PUT`` for small files, parallel presigned part ``PUT``s for big ones;
every part read from its source only when it is sent, retried on its own, re-signed when its URL
has expired, and resumable from the parts the server already holds."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import IO, Any, Union

import httpx

from ._errors import StowageError, UploadCancelled, UploadError
from ._http import STORAGE_RETRY, Http, backoff, retry_after

#: What ``files.upload`` takes: a path, the bytes themselves, or a readable, seekable binary
#: file object (read from its current position to its end).
Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]
#: ``progress(bytes_sent, total)``.
ProgressCallback = Callable[[int, int], None]

#: Bytes handed to the HTTP client at a time (and the granularity of progress reports).
CHUNK = 256 * 1024
#: Part URLs asked for in one ``POST /files/{id}/upload/parts`` (the route takes up to 1,000;
#: URLs expire, so signing far ahead buys nothing).
SIGN_BATCH = 100


class Cancelled(Exception):
    """Raised inside a sender when the upload was cancelled."""


# --- sources -------------------------------------------------------------------------------


class Reader:
    """Reads ranges of a source from several threads at once."""

    size: int
    name: str | None

    def chunks(self, offset: int, length: int, check: Callable[[int], None]) -> Iterator[bytes]:
        """``length`` bytes from ``offset``, in chunks; ``check(n)`` runs before each chunk
        is handed on (it counts progress and raises to cancel)."""
        end = offset + length
        while offset < end:
            n = min(CHUNK, end - offset)
            data = self.read(offset, n)
            if len(data) != n:
                raise UploadError(
                    f"the source ended early (read {len(data)} of {n} bytes at {offset}): "
                    "did it change during the upload?",
                    None,
                )
            check(n)
            yield data
            offset += n

    def read(self, offset: int, length: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        pass


class PathReader(Reader):
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self.size = os.fstat(self.fd).st_size
        self.name = os.path.basename(self.path) or None
        self.lock = threading.Lock()

    def read(self, offset: int, length: int) -> bytes:
        if hasattr(os, "pread"):
            parts = []
            while length > 0:
                data = os.pread(self.fd, length, offset)
                if not data:
                    break
                parts.append(data)
                offset += len(data)
                length -= len(data)
            return b"".join(parts)
        with self.lock:  # pragma: no cover - platforms without pread
            os.lseek(self.fd, offset, os.SEEK_SET)
            return os.read(self.fd, length)

    def close(self) -> None:
        os.close(self.fd)


class BytesReader(Reader):
    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.view = memoryview(data).cast("B")
        self.size = len(self.view)
        self.name = None

    def read(self, offset: int, length: int) -> bytes:
        return bytes(self.view[offset : offset + length])


class FileReader(Reader):
    def __init__(self, fileobj: IO[bytes]) -> None:
        if not (hasattr(fileobj, "read") and hasattr(fileobj, "seek")):
            raise TypeError("the file object must be readable and seekable")
        if hasattr(fileobj, "seekable") and not fileobj.seekable():
            raise TypeError(
                "the file object must be seekable (read a stream into bytes, or save it to a file)"
            )
        self.file = fileobj
        self.start = fileobj.tell()
        self.size = fileobj.seek(0, io.SEEK_END) - self.start
        fileobj.seek(self.start)
        raw_name = getattr(fileobj, "name", None)
        self.name = os.path.basename(raw_name) if isinstance(raw_name, str) else None
        self.lock = threading.Lock()

    def read(self, offset: int, length: int) -> bytes:
        with self.lock:
            self.file.seek(self.start + offset)
            parts = []
            while length > 0:
                data = self.file.read(length)
                if not data:
                    break
                parts.append(data)
                length -= len(data)
            return b"".join(parts)


def open_source(source: Source) -> Reader:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return BytesReader(source)
    if isinstance(source, (str, os.PathLike)):
        return PathReader(source)
    if hasattr(source, "read"):
        return FileReader(source)
    raise TypeError(f"cannot upload a {type(source).__name__}: give a path, bytes or a binary file")


# --- progress and cancellation -------------------------------------------------------------


class Progress:
    """Adds up what every sender has handed on, and reports it never going backwards (a part
    sent again after a failure counts once)."""

    def __init__(
        self, total: int, callback: ProgressCallback | None, cancel: threading.Event | None
    ) -> None:
        self.total = total
        self.callback = callback
        self.cancel = cancel
        self.lock = threading.Lock()
        self.confirmed = 0
        self.inflight: dict[int, int] = {}
        self.reported = -1
        self.stop = threading.Event()
        self.failure: BaseException | None = None

    def check(self) -> None:
        if self.stop.is_set() or (self.cancel is not None and self.cancel.is_set()):
            self.stop.set()
            raise Cancelled()

    def _report(self) -> None:
        if self.stop.is_set():
            return  # cancelled: the callback is not called again
        now = min(self.total, self.confirmed + sum(self.inflight.values()))
        if now <= self.reported or self.callback is None:
            self.reported = max(self.reported, now)
            return
        self.reported = now
        try:
            self.callback(now, self.total)
        except BaseException as err:  # the callback asks to stop: cancel the upload
            if self.failure is None:
                self.failure = err
            self.stop.set()
            raise Cancelled() from err

    def sending(self, key: int) -> Callable[[int], None]:
        def check(n: int) -> None:
            self.check()
            with self.lock:
                self.inflight[key] = self.inflight.get(key, 0) + n
                self._report()

        return check

    def retrying(self, key: int) -> None:
        with self.lock:
            self.inflight.pop(key, None)

    def done(self, key: int, length: int) -> None:
        with self.lock:
            self.inflight.pop(key, None)
            self.confirmed += length
            self._report()

    def start(self, already: int) -> None:
        with self.lock:
            self.confirmed = already
            self._report()


# --- sending -------------------------------------------------------------------------------


def put_presigned(
    http: Http,
    url: Callable[[], str],
    headers: dict[str, str],
    reader: Reader,
    offset: int,
    length: int,
    progress: Progress,
    key: int,
    on_forbidden: Callable[[], bool],
) -> httpx.Response:
    """PUTs ``length`` bytes of ``reader`` from ``offset`` to a presigned URL with exactly
    ``headers`` (and the ``Content-Length``), retrying busy answers (``Retry-After``), storage
    server errors and transport failures up to ``http.max_attempts`` times. A ``403`` calls
    ``on_forbidden()``, which may fetch a fresh URL (returns ``True``) once. Other ``4xx``
    raise at once."""
    attempt = 0
    while True:
        attempt += 1
        progress.check()
        send_headers = dict(headers)
        send_headers["content-length"] = str(length)
        try:
            response = http.client.put(
                url(),
                content=reader.chunks(offset, length, progress.sending(key)),
                headers=send_headers,
            )
        except Cancelled:
            raise
        except httpx.TransportError as err:
            # httpx wraps an exception raised while it reads the body in some paths: a cancel
            # must stay a cancel.
            progress.check()
            progress.retrying(key)
            if attempt >= http.max_attempts:
                raise err
            time.sleep(backoff(attempt, http.max_wait))
            continue
        if response.is_success:
            return response
        progress.retrying(key)
        if response.status_code == 403 and on_forbidden():
            continue  # an expired URL, signed again
        if response.status_code in STORAGE_RETRY and attempt < http.max_attempts:
            wait_s = retry_after(response, http.max_wait)
            time.sleep(wait_s if wait_s is not None else backoff(attempt, http.max_wait))
            continue
        raise StowageError.from_response(response, presigned=True)


class Plan:
    def __init__(self, size: int, part_size: int, part_count: int) -> None:
        self.size = size
        self.part_size = part_size
        self.part_count = part_count

    def offset(self, number: int) -> int:
        return (number - 1) * self.part_size

    def length(self, number: int) -> int:
        if number < self.part_count:
            return self.part_size
        return self.size - self.offset(number)


class PartUrls:
    """Presigned part URLs: those the plan came with, the rest signed on demand in batches of
    the parts still to send (never a part the server already holds)."""

    def __init__(self, http: Http, file_id: str, todo: list[int], known: dict[int, str]) -> None:
        self.http = http
        self.file_id = file_id
        self.todo = todo
        self.urls = dict(known)
        self.resigned: set[int] = set()
        self.lock = threading.Lock()

    def get(self, number: int) -> str:
        with self.lock:
            url = self.urls.get(number)
            if url is not None:
                return url
            batch = [n for n in self.todo if n >= number and n not in self.urls][:SIGN_BATCH]
            signed = self.http.json(
                "POST",
                f"/files/{self.file_id}/upload/parts",
                json={"partNumbers": batch},
                idempotent=True,
            )
            for part in signed.get("parts", []):
                self.urls[int(part["partNumber"])] = str(part["url"])
            if number not in self.urls:
                raise UploadError(f"the server signed no URL for part {number}", self.file_id)
            return self.urls[number]

    def expired(self, number: int) -> bool:
        """Drops part ``number``'s URL after a ``403`` so that it is signed again, once."""
        with self.lock:
            if number in self.resigned:
                return False
            self.resigned.add(number)
            self.urls.pop(number, None)
            return True


def send_parts(
    http: Http,
    file_id: str,
    reader: Reader,
    plan: Plan,
    todo: list[int],
    known_urls: dict[int, str],
    parallel: int,
    progress: Progress,
) -> dict[int, str]:
    """Sends parts ``todo`` with at most ``parallel`` in flight; returns their ETags."""
    urls = PartUrls(http, file_id, todo, known_urls)
    etags: dict[int, str] = {}

    def send(number: int) -> None:
        progress.check()
        response = put_presigned(
            http,
            lambda: urls.get(number),
            {},
            reader,
            plan.offset(number),
            plan.length(number),
            progress,
            number,
            lambda: urls.expired(number),
        )
        etags[number] = response.headers.get("etag", "")
        progress.done(number, plan.length(number))

    pool = ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="stowage-part")
    futures: list[Future[None]] = []
    try:
        futures = [pool.submit(send, n) for n in todo]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in done if f.exception() is not None]
        if failed:
            progress.stop.set()  # the other senders stop at their next chunk
            wait(futures)
            errors = [f.exception() for f in futures if f.exception() is not None]
            real = [e for e in errors if not isinstance(e, Cancelled)]
            raise (real[0] if real else errors[0]) or Cancelled()
    except BaseException:
        progress.stop.set()
        for f in futures:
            f.cancel()
        pool.shutdown(wait=True)
        raise
    pool.shutdown(wait=True)
    return etags


def wait_uploaded(http: Http, file_id: str, timeout: float) -> dict[str, Any]:
    """The record once it is no longer ``pending`` (reading it completes it when the storage
    event has not arrived yet)."""
    started = time.monotonic()
    deadline = started + timeout
    # Every 100 ms for the first 5 s (the storage event usually lands within a second or two,
    # and a longer pause is time the caller waits for nothing), then backing off to once a second.
    pause = 0.1
    while True:
        record: dict[str, Any] = http.json("GET", f"/files/{file_id}")
        if record.get("status") != "pending":
            if record.get("status") == "failed":
                raise UploadError(
                    f"file {file_id} failed: {record.get('failureReason') or 'no reason given'}",
                    file_id,
                )
            return record
        if time.monotonic() >= deadline:
            raise UploadError(f"file {file_id} is still pending after {timeout:g} s", file_id)
        time.sleep(pause)
        if time.monotonic() - started >= 5.0:
            pause = min(pause * 1.5, 1.0)


def run_upload(
    http: Http,
    created: dict[str, Any],
    reader: Reader,
    *,
    progress: Progress,
    parallel: int,
    wait_for_uploaded: bool,
    wait_timeout: float,
) -> dict[str, Any]:
    """Sends the bytes as the create (or re-upload) answer ``created`` says."""
    record: dict[str, Any] = created["file"]
    file_id = str(record["id"])
    upload: dict[str, Any] = created["upload"]
    if "uploadId" in upload:
        plan = Plan(reader.size, int(upload["partSize"]), int(upload["partCount"]))
        known = {int(p["partNumber"]): str(p["url"]) for p in upload.get("parts", [])}
        progress.start(0)
        etags = send_parts(
            http, file_id, reader, plan, list(range(1, plan.part_count + 1)), known, parallel, progress
        )
        return complete(http, file_id, etags, wait_for_uploaded, wait_timeout)
    if upload.get("method") != "PUT":
        raise UploadError(
            f"the server planned a {upload.get('method')!r} upload, which this client does not send",
            file_id,
        )
    url = str(upload["url"])
    headers = {str(k): str(v) for k, v in (upload.get("headers") or {}).items()}
    progress.start(0)
    put_presigned(
        http, lambda: url, headers, reader, 0, reader.size, progress, 0, lambda: False
    )
    progress.done(0, reader.size)
    if not wait_for_uploaded:
        return record
    return wait_uploaded(http, file_id, wait_timeout)


def complete(
    http: Http, file_id: str, etags: dict[int, str], wait_for_uploaded: bool, wait_timeout: float
) -> dict[str, Any]:
    parts = [{"partNumber": n, "etag": etags[n]} for n in sorted(etags) if etags[n]]
    body = {"parts": parts} if len(parts) == len(etags) else None
    record: dict[str, Any] = http.json(
        "POST", f"/files/{file_id}/upload/complete", json=body, idempotent=True
    )
    if wait_for_uploaded and record.get("status") == "pending":
        return wait_uploaded(http, file_id, wait_timeout)
    return record


def resume_parts(
    http: Http,
    file_id: str,
    reader: Reader,
    held_parts: list[dict[str, Any]],
    *,
    progress: Progress,
    parallel: int,
    wait_for_uploaded: bool,
    wait_timeout: float,
) -> dict[str, Any]:
    """Finishes the open multipart upload of ``file_id``: sends only the parts the server does
    not hold (with the planned size), then completes."""
    held = {int(p["partNumber"]): p for p in held_parts}
    size = reader.size
    known: dict[int, str] = {}
    first = held.get(1)
    if first is not None and int(first["size"]) > 0:
        part_size = int(first["size"])
    else:
        # Part 1 is missing, so it must be signed anyway: its planned size is the part size.
        signed = http.json(
            "POST", f"/files/{file_id}/upload/parts", json={"partNumbers": [1]}, idempotent=True
        )
        part = signed["parts"][0]
        part_size = int(part["size"]) or max(size, 1)
        known[1] = str(part["url"])
    part_count = max(1, -(-size // part_size))
    plan = Plan(size, part_size, part_count)
    done = {
        n: str(p.get("etag") or "")
        for n, p in held.items()
        if n <= part_count and int(p["size"]) == plan.length(n)
    }
    todo = [n for n in range(1, part_count + 1) if n not in done]
    progress.start(sum(plan.length(n) for n in done))
    etags = send_parts(http, file_id, reader, plan, todo, known, parallel, progress) if todo else {}
    etags.update(done)
    return complete(http, file_id, etags, wait_for_uploaded, wait_timeout)


def abort(http: Http, file_id: str) -> None:
    """``DELETE /files/{id}/upload``; an upload already gone is fine."""
    try:
        http.request("DELETE", f"/files/{file_id}/upload")
    except StowageError as err:
        if err.status != 409:
            raise


def cancelled_error(file_id: str | None) -> UploadCancelled:
    return UploadCancelled(
        f"the upload of file {file_id} was cancelled and aborted (no parts are left)", file_id
    )
