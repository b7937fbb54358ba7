"""Busy answers are retried after the Retry-After they name (API calls and presigned storage
requests alike), within bounded attempts; other 4xx never are. A stub server plays the API."""

from __future__ import annotations

import io
import json
import time

import pytest

from stowage import Stowage, StowageError, UploadError
from stub import Answer, Responder, Seen, answer_json, problem, stub_server

ID = "01KAQ3V6T0Z9Y8X7W6V5T4S3R2"
RECORD = {"id": ID, "name": "a.txt", "status": "uploaded", "size": 5, "version": 2}


def busy_then_record(status: int, busy: int, retry_after: str | None) -> Responder:
    def respond(request: Seen, history: list[Seen]) -> Answer:
        if len(history) <= busy:
            headers = {"retry-after": retry_after} if retry_after is not None else {}
            if status == 429:  # API Gateway's own answer: not problem+json
                return answer_json(429, {"message": "Too Many Requests"}, headers)
            return problem(status, "unavailable", headers)
        return answer_json(200, RECORD)

    return respond


def test_a_503_is_retried_after_the_retry_after_it_names() -> None:
    with stub_server(busy_then_record(503, 2, "1")) as (url, seen):
        started = time.monotonic()
        with Stowage(url, "t") as client:
            record = client.files.get(ID)
        took = time.monotonic() - started
    assert record["id"] == ID
    assert len(seen) == 3
    gaps = [b.at - a.at for a, b in zip(seen, seen[1:])]
    assert all(gap >= 0.95 for gap in gaps), gaps  # Retry-After: 1, honoured each time
    assert all(gap < 2.5 for gap in gaps), gaps  # and not much more
    assert took >= 1.9
    assert all(r.headers["authorization"] == "Bearer t" for r in seen)


def test_a_429_without_retry_after_backs_off() -> None:
    with stub_server(busy_then_record(429, 2, None)) as (url, seen):
        with Stowage(url, "t") as client:
            client.files.get(ID)
    assert len(seen) == 3
    gaps = [b.at - a.at for a, b in zip(seen, seen[1:])]
    assert gaps[0] >= 0.45 and gaps[1] >= 0.95, gaps  # 0.5 s, then 1 s


def test_retry_after_is_capped_by_max_wait() -> None:
    with stub_server(busy_then_record(503, 1, "3600")) as (url, seen):
        with Stowage(url, "t", max_wait=0.2) as client:
            client.files.get(ID)
    assert len(seen) == 2
    assert 0.15 <= seen[1].at - seen[0].at < 2


def test_a_busy_api_is_given_up_on_after_max_attempts() -> None:
    with stub_server(busy_then_record(503, 1000, "0")) as (url, seen):
        with Stowage(url, "t", max_attempts=4) as client:
            with pytest.raises(StowageError) as err:
                client.files.get(ID)
    assert len(seen) == 4
    assert (err.value.status, err.value.code) == (503, "unavailable")
    assert err.value.detail == "the stub says unavailable"


@pytest.mark.parametrize("status,code", [(400, "validation_failed"), (409, "not_uploaded"), (500, "internal")])
def test_other_errors_are_not_retried(status: int, code: str) -> None:
    with stub_server(lambda request, history: problem(status, code)) as (url, seen):
        with Stowage(url, "t") as client:
            with pytest.raises(StowageError) as err:
                client.files.get(ID)
    assert len(seen) == 1
    assert (err.value.status, err.value.code) == (status, code)


def storage_stub(put_answers: list[Answer]) -> Responder:
    """An API whose create hands out a presigned PUT to the stub itself, binding two headers;
    the PUTs are answered in turn from ``put_answers``."""
    state = {"puts": 0}

    def respond(request: Seen, history: list[Seen]) -> Answer:
        if request.method == "GET" and request.path == "/files/limits":
            return answer_json(200, {"multipartThreshold": 100 << 20, "defaultPartSize": 8 << 20,
                                     "minPartSize": 5 << 20, "maxPartSize": 5 << 30, "maxParts": 10000,
                                     "maxObjectSize": 5 << 40, "maxUrlExpiresIn": 604800})
        if request.method == "POST" and request.path == "/files":
            host = request.headers["host"]
            return answer_json(201, {
                "file": {**RECORD, "status": "pending", "size": None},
                "upload": {"method": "PUT",
                           "url": f"http://{host}/bucket/key?X-Amz-Signature=abc",
                           "headers": {"content-type": "text/plain",
                                       "x-amz-meta-origin": "sdk-test"},
                           "expiresAt": "2030-01-01T00:00:00.000Z"}})
        if request.method == "PUT" and request.path.startswith("/bucket/key"):
            n = state["puts"]
            state["puts"] += 1
            return put_answers[min(n, len(put_answers) - 1)]
        if request.method == "GET" and request.path == f"/files/{ID}":
            return answer_json(200, RECORD)
        return problem(404, "route_not_found")

    return respond


S3_SLOWDOWN: Answer = (503, {"content-type": "application/xml", "retry-after": "1"},
               b"<?xml version='1.0'?><Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>")
S3_OK: Answer = (200, {"etag": '"5d41402abc4b2a76b9719d911017c592"'}, b"")


def test_a_presigned_put_honours_retry_after_and_sends_exactly_the_bound_headers() -> None:
    with stub_server(storage_stub([S3_SLOWDOWN, S3_OK])) as (url, seen):
        with Stowage(url, "t") as client:
            record = client.files.upload(b"hello", name="a.txt", mime_type="text/plain")
    assert record["status"] == "uploaded"
    puts = [r for r in seen if r.method == "PUT"]
    assert len(puts) == 2
    assert puts[1].at - puts[0].at >= 0.95  # Retry-After: 1
    for put in puts:
        assert put.body == b"hello"
        assert put.headers["content-type"] == "text/plain"
        assert put.headers["x-amz-meta-origin"] == "sdk-test"
        assert put.headers["content-length"] == "5"
        assert "authorization" not in put.headers  # the token never goes to storage
        assert "transfer-encoding" not in put.headers
        assert not any(h.startswith("x-amz-") and h != "x-amz-meta-origin" for h in put.headers)


def test_a_refused_presigned_put_is_not_retried() -> None:
    refused: Answer = (400, {"content-type": "application/xml"},
               b"<Error><Code>BadDigest</Code><Message>The Content-MD5 you specified did not match.</Message></Error>")
    with stub_server(storage_stub([refused, S3_OK])) as (url, seen):
        with Stowage(url, "t") as client:
            with pytest.raises(UploadError) as err:
                client.files.upload(b"hello", name="a.txt")
    assert len([r for r in seen if r.method == "PUT"]) == 1
    assert err.value.file_id == ID
    cause = err.value.__cause__
    assert isinstance(cause, StowageError)
    assert (cause.status, cause.code) == (400, "BadDigest")
    assert "X-Amz-Signature" not in str(cause)  # a presigned URL is a credential: not logged


def test_a_busy_storage_endpoint_is_given_up_on_after_max_attempts() -> None:
    slowdown_now = (503, {"content-type": "application/xml", "retry-after": "0"}, S3_SLOWDOWN[2])
    with stub_server(storage_stub([slowdown_now])) as (url, seen):
        with Stowage(url, "t", max_attempts=3) as client:
            with pytest.raises(UploadError) as err:
                client.files.upload(b"hello", name="a.txt")
    assert len([r for r in seen if r.method == "PUT"]) == 3
    assert isinstance(err.value.__cause__, StowageError)
    assert err.value.__cause__.code == "SlowDown"


def test_a_download_cut_short_continues_where_it_stopped() -> None:
    """The content route redirects to storage, which is busy once (Retry-After: 1), then sends
    half the bytes and hangs up; the rest is asked for with a Range and appended."""
    blob = bytes(range(256)) * 40  # 10,240 bytes

    def respond(request: Seen, history: list[Seen]) -> Answer:
        if request.path == f"/files/{ID}/content":
            return 302, {"location": "/storage/blob?X-Amz-Signature=abc"}, b""
        if request.path.startswith("/storage/blob"):
            gets = [r for r in history if r.path.startswith("/storage/blob")]
            if len(gets) == 1:
                return 503, {"retry-after": "1", "content-type": "application/xml"}, b"<Error><Code>SlowDown</Code></Error>"
            if len(gets) == 2:
                assert "range" not in request.headers
                return 200, {"x-stub-cut": "4000"}, blob
            assert request.headers["range"] == "bytes=4000-"
            return 206, {"content-range": f"bytes 4000-{len(blob) - 1}/{len(blob)}"}, blob[4000:]
        return problem(404, "route_not_found")

    out = io.BytesIO()
    with stub_server(respond) as (url, seen):
        with Stowage(url, "t") as client:
            assert client.files.download(ID, out) == len(blob)
    assert out.getvalue() == blob
    storage = [r for r in seen if r.path.startswith("/storage/")]
    assert len(storage) == 3
    assert storage[1].at - storage[0].at >= 0.95
    assert all("authorization" not in r.headers for r in storage)


def test_each_part_is_retried_on_its_own() -> None:
    """A three-part upload where part 2 first meets a 500 and part 3 a dropped connection:
    each is sent again (only it), and completion lists every part's ETag."""
    part = 5 << 20
    data = bytes(range(256)) * (((2 * part + 1000) // 256) + 1)
    data = data[: 2 * part + 1000]
    puts: dict[int, int] = {}

    def respond(request: Seen, history: list[Seen]) -> Answer:
        host = request.headers["host"]
        if request.path == "/files/limits":
            return answer_json(200, {"multipartThreshold": 5 << 20, "defaultPartSize": part,
                                     "minPartSize": part, "maxPartSize": 5 << 30, "maxParts": 10000,
                                     "maxObjectSize": 5 << 40, "maxUrlExpiresIn": 604800})
        if request.method == "POST" and request.path == "/files":
            assert json.loads(request.body)["multipart"] is True
            return answer_json(201, {
                "file": {**RECORD, "status": "pending", "size": None},
                "upload": {"uploadId": "u1", "partSize": part, "partCount": 3,
                           "parts": [{"partNumber": n, "size": part if n < 3 else 1000,
                                      "url": f"http://{host}/bucket/key?partNumber={n}&uploadId=u1"}
                                     for n in (1, 2, 3)],
                           "expiresAt": "2030-01-01T00:00:00.000Z"}})
        if request.method == "PUT" and request.path.startswith("/bucket/key"):
            n = int(request.path.split("partNumber=")[1].split("&")[0])
            puts[n] = puts.get(n, 0) + 1
            offset = (n - 1) * part
            assert request.body == data[offset : offset + part]
            if n == 2 and puts[n] == 1:
                return 500, {"content-type": "application/xml"}, b"<Error><Code>InternalError</Code></Error>"
            if n == 3 and puts[n] == 1:
                return 0, {}, b""
            return 200, {"etag": f'"etag-{n}"'}, b""
        if request.method == "POST" and request.path == f"/files/{ID}/upload/complete":
            return answer_json(200, RECORD)
        return problem(404, "route_not_found")

    with stub_server(respond) as (url, seen):
        with Stowage(url, "t") as client:
            record = client.files.upload(data, name="big.bin", parallel=3)
    assert record["status"] == "uploaded"
    assert puts == {1: 1, 2: 2, 3: 2}
    complete = [r for r in seen if r.path.endswith("/upload/complete")]
    assert len(complete) == 1
    assert json.loads(complete[0].body) == {
        "parts": [{"partNumber": n, "etag": f'"etag-{n}"'} for n in (1, 2, 3)]
    }
