"""Files against a real stowage-local: uploads (single PUT and multipart) downloaded back
identical, progress, listing across pages, conditional updates, errors, batches, records and
download links of many files at once, copies, grants."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from conftest import MIB, THRESHOLD, Server
from stowage import Stowage, StowageError


def random_file(path: Path, size: int) -> str:
    """Writes ``size`` random bytes to ``path``; returns their SHA-256."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, MIB))
            f.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def test_limits_are_the_servers(client: Stowage) -> None:
    limits = client.limits()
    assert limits["multipartThreshold"] == THRESHOLD
    assert limits["minPartSize"] == 5 * MIB


def test_small_upload_of_bytes_comes_back_identical(client: Stowage) -> None:
    data = b"hello, stowage\n"
    seen: list[tuple[int, int]] = []
    record = client.files.upload(
        data,
        name="hello.txt",
        progress=lambda sent, total: seen.append((sent, total)),
        tags=["greeting"],
        metadata={"lang": "en"},
        external_id="hello-1",
    )
    assert record["status"] == "uploaded"
    assert record["size"] == len(data)
    assert record["mimeType"] == "text/plain"  # guessed from the name
    assert record["tags"] == ["greeting"]
    assert record["metadata"] == {"lang": "en"}
    assert record["externalId"] == "hello-1"  # snake_case field became camelCase
    assert seen and seen[-1] == (len(data), len(data))
    out = io.BytesIO()
    assert client.files.download(record["id"], out) == len(data)
    assert out.getvalue() == data
    assert client.files.get(record["id"])["status"] == "uploaded"


def test_upload_from_a_path_and_from_a_file_object(client: Stowage, tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_bytes(b"# notes\n" * 1000)
    from_path = client.files.upload(path)
    assert from_path["name"] == "notes.md"
    assert from_path["size"] == 8000
    with open(path, "rb") as f:
        f.seek(2)  # from the current position to the end
        from_file = client.files.upload(f, mime_type="text/markdown")
    assert from_file["name"] == "notes.md"
    assert from_file["mimeType"] == "text/markdown"
    assert from_file["size"] == 7998
    back = tmp_path / "back.md"
    client.files.download(from_file["id"], back)
    assert back.read_bytes() == path.read_bytes()[2:]


def test_an_empty_file(client: Stowage) -> None:
    record = client.files.upload(b"", name="empty.bin")
    assert record["status"] == "uploaded" and record["size"] == 0
    out = io.BytesIO()
    assert client.files.download(record["id"], out) == 0


def test_wait_false_returns_once_the_bytes_are_sent(client: Stowage) -> None:
    record = client.files.upload(b"abc", name="a.txt", wait=False)
    assert record["status"] == "pending"
    # Reading the record completes it if the storage event has not done so yet.
    assert client.files.get(record["id"])["status"] in ("pending", "uploaded")


def test_multipart_upload_in_parallel_comes_back_identical(
    client: Stowage, tmp_path: Path
) -> None:
    size = 2 * 5 * MIB + 123_457  # three parts of the 5 MiB default: 5, 5 and a bit
    src = tmp_path / "big.bin"
    digest = random_file(src, size)
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()
    threads: set[str] = set()

    def progress(sent: int, total: int) -> None:
        with lock:
            seen.append((sent, total))
            threads.add(threading.current_thread().name)

    created: list[str] = []
    record = client.files.upload(
        src, progress=progress, parallel=3, part_size=5 * MIB, on_created=created.append
    )
    assert record["status"] == "uploaded"
    assert record["size"] == size
    assert created == [record["id"]]
    # Progress: monotonic, never past the total, ending at the total, reported as parts go.
    values = [s for s, _ in seen]
    assert values == sorted(values)
    assert all(t == size for _, t in seen)
    assert values[-1] == size
    assert len(values) > 10  # chunk by chunk, not once per part
    # (0, total) first, from the caller's thread; then from the part senders, several at once.
    assert seen[0] == (0, size)
    senders = {name for name in threads if name.startswith("stowage-part")}
    assert len(senders) >= 2 and threads - senders <= {threading.current_thread().name}
    # Downloaded back, streamed to disk.
    back = tmp_path / "back.bin"
    assert client.files.download(record["id"], back) == size
    assert sha256_of(back) == digest
    # Nothing of the upload is left open.
    with pytest.raises(StowageError) as err:
        client.files.parts(record["id"])
    assert err.value.status == 409


def test_the_servers_threshold_chooses_multipart(
    server: Server, client: Stowage, tmp_path: Path
) -> None:
    """Just above the threshold the client plans a multipart upload without being told; at
    the threshold, one PUT."""
    requests: list[httpx.Request] = []
    with Stowage(
        client.endpoint,
        client._http.token(),
        http_client=httpx.Client(event_hooks={"request": [requests.append]}),
    ) as c:
        at = c.files.upload(b"\0" * THRESHOLD, name="at.bin")
        single = [r for r in requests if r.method == "PUT"]
        assert len(single) == 1 and "partNumber" not in str(single[0].url)
        requests.clear()
        above = c.files.upload(b"\1" * (THRESHOLD + 1), name="above.bin")
        parts = [r for r in requests if r.method == "PUT"]
        # One part of the server's default part size (8 MiB), but a multipart upload.
        assert len(parts) == 1 and "partNumber=1" in str(parts[0].url)
    assert at["size"] == THRESHOLD and above["size"] == THRESHOLD + 1


def test_download_is_streamed_not_held_in_memory(client: Stowage, tmp_path: Path) -> None:
    size = 24 * MIB
    src = tmp_path / "stream.bin"
    digest = random_file(src, size)
    record = client.files.upload(src, parallel=2)
    back = tmp_path / "stream-back.bin"
    tracemalloc.start()
    try:
        client.files.download(record["id"], back)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * MIB, f"download peaked at {peak / MIB:.1f} MiB of Python memory"
    assert sha256_of(back) == digest


def test_listing_follows_every_page_with_a_filter(client: Stowage) -> None:
    mine = {client.files.upload(b"x", name=f"x{i}.txt", tags=["batch"])["id"] for i in range(7)}
    others = {client.files.upload(b"y", name=f"y{i}.txt", tags=["other"])["id"] for i in range(3)}
    pages = list(client.files.pages(tag="batch", limit=2))
    assert len(pages) >= 4  # 7 files, 2 a page
    listed = [r["id"] for r in client.files.list(tag="batch", limit=2)]
    assert len(listed) == 7 and set(listed) == mine
    assert listed == sorted(listed, reverse=True)  # newest first (ULIDs)
    everything = {r["id"] for r in client.files.list(limit=3)}
    assert everything == mine | others
    assert {r["id"] for r in client.files.list(tag=["batch"], mime_type="text/plain")} == mine
    assert list(client.files.list(tag="batch", name="nothing-like-this")) == []


def test_if_match_conflict_is_a_412_version_mismatch(client: Stowage) -> None:
    record = client.files.upload(b"v", name="v.txt")
    version = record["version"]
    updated = client.files.update(record["id"], {"purpose": "first"}, if_match=version)
    assert updated["purpose"] == "first" and updated["version"] == version + 1
    with pytest.raises(StowageError) as err:
        client.files.update(record["id"], {"purpose": "second"}, if_match=version)
    assert err.value.status == 412
    assert err.value.code == "version_mismatch"
    assert client.files.get(record["id"])["purpose"] == "first"
    with pytest.raises(StowageError) as err:
        client.files.delete(record["id"], if_match=version)
    assert err.value.code == "version_mismatch"


def test_a_404_and_400s_carry_their_codes(client: Stowage) -> None:
    with pytest.raises(StowageError) as err:
        client.files.get("01KAQ3V6T0Z9Y8X7W6V5T4S3R2")
    assert (err.value.status, err.value.code) == (404, "not_found")
    assert "01KAQ3V6T0Z9Y8X7W6V5T4S3R2" in str(err.value)
    with pytest.raises(StowageError) as err:
        client.files.get("not-an-id")
    assert (err.value.status, err.value.code) == (400, "invalid_id")
    with pytest.raises(StowageError) as err:
        client.files.upload(b"x", name="a/b")  # a name may not hold a slash
    assert (err.value.status, err.value.code) == (400, "validation_failed")
    assert any(e["field"] == "name" for e in err.value.errors)
    assert err.value.problem is not None and err.value.problem["status"] == 400
    with pytest.raises(StowageError) as err:
        list(client.files.list(status="lost"))
    assert err.value.status == 400


def test_a_bad_token_is_401(server: Server) -> None:
    with Stowage(server.endpoint, "not-a-token") as c:
        with pytest.raises(StowageError) as err:
            c.files.get("01KAQ3V6T0Z9Y8X7W6V5T4S3R2")
    assert (err.value.status, err.value.code) == (401, "unauthorized")


def test_the_token_may_be_a_callable_asked_for_each_request(server: Server, tenant: str) -> None:
    calls = []

    def token() -> str:
        calls.append(1)
        return "Bearer " + server.token(tenant, "alice")

    with Stowage(server.endpoint, token) as c:
        c.files.upload(b"t", name="t.txt")
        c.usage()
    assert len(calls) >= 3  # create, read back, usage


def test_replace_update_many_and_delete_many(client: Stowage) -> None:
    a = client.files.upload(b"a", name="a.txt", tags=["keep"], purpose="p")
    b = client.files.upload(b"b", name="b.txt", tags=["drop"])
    c = client.files.upload(b"c", name="c.txt", tags=["drop"])
    replaced = client.files.replace(a["id"], {"name": "renamed.txt", "mimeType": "text/plain"})
    assert replaced["name"] == "renamed.txt"
    assert replaced["purpose"] is None and replaced["tags"] == []  # left out: removed
    items = client.files.update_many([{"id": b["id"], "purpose": "x"}, {"id": c["id"], "purpose": "y"}])
    assert [i["purpose"] for i in items] == ["x", "y"]
    items = client.files.update_many({"tag": "drop"}, {"directory": "/old"})
    assert {i["id"] for i in items} == {b["id"], c["id"]}
    assert all(i["directory"] == "/old" for i in items)
    gone = client.files.delete_many([a["id"], "01KAQ3V6T0Z9Y8X7W6V5T4S3R2"])
    assert gone["deleted"] == [a["id"]]
    assert gone["notFound"] == ["01KAQ3V6T0Z9Y8X7W6V5T4S3R2"]
    by_filter = client.files.delete_many({"directory": "/old"})
    assert sorted(by_filter["deleted"]) == sorted([b["id"], c["id"]])
    assert list(client.files.list()) == []
    with pytest.raises(StowageError) as err:
        client.files.delete(a["id"])
    assert err.value.status == 404


def test_content_url_is_a_share_link(client: Stowage) -> None:
    record = client.files.upload(b"share me", name="s.txt")
    url = client.files.content_url(record["id"], disposition="inline", expires_in=60)
    assert "X-Amz-Signature" in url
    got = httpx.get(url)  # no token: the link is the credential
    assert got.status_code == 200 and got.content == b"share me"


UNKNOWN = "01KAQ3V6T0Z9Y8X7W6V5T4S3R2"


def sent_to(path: str, requests: list[httpx.Request]) -> list[httpx.Request]:
    return [r for r in requests if r.url.path == path]


def test_get_many_keeps_the_order_and_names_what_it_did_not_find(client: Stowage) -> None:
    a = client.files.upload(b"aaaa", name="many-a.txt")
    b = client.files.upload(b"bbbb", name="many-b.txt")
    pending = client.files.create("many-pending.txt", "text/plain", size=4)["file"]
    requests: list[httpx.Request] = []
    with Stowage(
        client.endpoint,
        client._http.token(),
        http_client=httpx.Client(event_hooks={"request": [requests.append]}),
    ) as c:
        many = c.files.get_many(iter([b["id"], UNKNOWN, a["id"], pending["id"], b["id"]]))
    assert [f["id"] for f in many["items"]] == [b["id"], a["id"], pending["id"]]  # b once
    assert [f["name"] for f in many["items"]] == ["many-b.txt", "many-a.txt", "many-pending.txt"]
    assert many["items"][2]["status"] == "pending"
    assert many["notFound"] == [UNKNOWN]
    assert [r.method for r in requests] == ["POST"]
    assert json.loads(sent_to("/files/get", requests)[0].content) == {
        "ids": [b["id"], UNKNOWN, a["id"], pending["id"], b["id"]]
    }
    # A file gone (here deleted; in the trash, expired or not readable alike) reads as unknown.
    client.files.delete(a["id"])
    left = client.files.get_many([a["id"], b["id"]])
    assert ([f["id"] for f in left["items"]], left["notFound"]) == ([b["id"]], [a["id"]])
    with pytest.raises(TypeError):
        client.files.get_many(a["id"])  # one id, not a list of its characters


def test_links_are_presigned_in_the_order_asked(client: Stowage) -> None:
    a = client.files.upload(b"the first link", name="link-a.txt")
    b = client.files.upload(b"the second link", name="link-b.txt")
    pending = client.files.create("link-pending.txt", "text/plain", size=4)["file"]
    requests: list[httpx.Request] = []
    with Stowage(
        client.endpoint,
        client._http.token(),
        http_client=httpx.Client(event_hooks={"request": [requests.append]}),
    ) as c:
        links = c.files.links(
            [b["id"], pending["id"], UNKNOWN, a["id"]], disposition="inline", expires_in=60
        )
        plain = c.files.links([a["id"]])
    assert [link["id"] for link in links["items"]] == [b["id"], a["id"]]
    assert links["notFound"] == [UNKNOWN]
    assert links["notUploaded"] == [pending["id"]]
    first, second = sent_to("/files/links", requests)
    assert dict(first.url.params) == {"disposition": "inline", "expiresIn": "60"}
    assert json.loads(first.content) == {"ids": [b["id"], pending["id"], UNKNOWN, a["id"]]}
    assert str(second.url.params) == ""  # nothing asked: the deployment's lifetime
    assert [link["id"] for link in plain["items"]] == [a["id"]]
    for link in links["items"]:
        assert "X-Amz-Expires=60" in link["url"]
    # No token: each link is the credential, and fetches the file's bytes.
    assert httpx.get(links["items"][0]["url"]).content == b"the second link"
    assert httpx.get(links["items"][1]["url"]).content == b"the first link"


def test_get_many_and_links_refuse_over_100_ids_or_a_bad_one(client: Stowage) -> None:
    ids = [f"01KAQ3V6T0Z9Y8X7W6V5T4S{i:03d}" for i in range(101)]
    calls: list[Callable[[], object]] = [
        lambda: client.files.get_many(ids),
        lambda: client.files.links(ids),
        lambda: client.files.get_many([]),
    ]
    for call in calls:
        with pytest.raises(StowageError) as err:
            call()
        assert (err.value.status, err.value.code) == (400, "validation_failed")
        assert err.value.errors[0]["field"] == "ids"
    with pytest.raises(StowageError) as err:
        client.files.links([ids[0], "not-an-id"])
    assert (err.value.status, err.value.code) == (400, "validation_failed")
    assert err.value.errors[0]["field"] == "ids[1]"
    most = client.files.get_many(ids[:100])  # 100 is the most, and fine
    assert (most["items"], most["notFound"]) == ([], ids[:100])


def test_reupload_makes_a_new_version(client: Stowage) -> None:
    record = client.files.upload(b"one", name="v.txt")
    again = client.files.reupload(record["id"], b"second version")
    assert again["id"] == record["id"]
    assert again["size"] == len(b"second version")
    out = io.BytesIO()
    client.files.download(record["id"], out)
    assert out.getvalue() == b"second version"


def test_copy_beside_into_another_collection_and_not_of_a_pending_file(
    client: Stowage, admin: Stowage
) -> None:
    text = b"the bytes to copy"
    source = client.files.upload(
        text,
        name="original.txt",
        mime_type="text/plain",
        tags=["copied"],
        directory="/docs",
        external_id="copy-source-1",
    )
    beside = client.files.copy(source["id"])
    assert beside["id"] != source["id"]
    assert beside["status"] == "uploaded"
    assert (beside["collection"], beside["name"], beside["directory"]) == (
        source["collection"],
        "original.txt",
        "/docs",
    )
    assert (beside["mimeType"], beside["size"], beside["tags"]) == ("text/plain", len(text), ["copied"])
    assert beside["externalId"] is None  # not the source's
    assert beside["uploadedBy"] == "alice"
    out = io.BytesIO()
    client.files.download(beside["id"], out)
    assert out.getvalue() == text

    # Into a collection an app made, under another name and directory.
    admin.collections.create("copies", allowed_mime_types=["text/*"])
    moved = client.files.copy(
        source["id"], collection="copies", name="renamed.txt", directory="/archive"
    )
    assert (moved["collection"], moved["name"], moved["directory"], moved["status"]) == (
        "copies",
        "renamed.txt",
        "/archive",
        "uploaded",
    )
    out = io.BytesIO()
    client.files.download(moved["id"], out)
    assert out.getvalue() == text
    assert client.files.get(source["id"])["name"] == "original.txt"  # the source is untouched
    assert admin.files.copy(source["id"], name="the-apps.txt")["uploadedBy"] == "the-app"

    # The target's rules apply: ``copies`` takes only text.
    blob = client.files.upload(b"\x00\x01", name="blob.bin", mime_type="application/octet-stream")
    with pytest.raises(StowageError) as err:
        client.files.copy(blob["id"], collection="copies")
    assert (err.value.status, err.value.code) == (400, "mime_type_not_allowed")

    # A source without content.
    pending = client.files.create("pending.txt", "text/plain", size=4)["file"]
    with pytest.raises(StowageError) as err:
        client.files.copy(pending["id"], name="never.txt")
    assert (err.value.status, err.value.code) == (409, "not_uploaded")


def test_grants_are_a_field_of_the_file(server: Server, tenant: str, admin: Stowage) -> None:
    admin.collections.create(
        "private",
        access={"read": [], "write": ["tenant"], "delete": []},
        file_security=True,
    )
    bob = Stowage(server.endpoint, server.token(tenant, "bob"))
    erin = Stowage(server.endpoint, server.token(tenant, "erin", groups=("eng",)))
    with bob, erin:
        notes = bob.files.upload(b"bob's notes", name="notes.txt", collection="private")
        with pytest.raises(StowageError) as err:
            erin.files.get(notes["id"])
        assert err.value.code == "not_found"  # erin does not learn it exists
        granted = bob.files.grant(notes["id"], "user:erin", "reader")
        assert granted["grants"] == [{"principal": "user:erin", "role": "reader"}]
        assert erin.files.get(notes["id"])["name"] == "notes.txt"
        with pytest.raises(StowageError) as err:
            erin.files.delete(notes["id"])
        assert (err.value.status, err.value.code) == (403, "forbidden")
        with pytest.raises(StowageError) as err:
            erin.files.grant(notes["id"], "user:erin", "writer")  # only the owner or an app
        assert err.value.status == 403
        bob.files.grant(notes["id"], "group:eng", "writer")
        assert len(bob.files.get(notes["id"])["grants"]) == 2
        bob.files.revoke(notes["id"], "user:erin")
        assert bob.files.get(notes["id"])["grants"] == [{"principal": "group:eng", "role": "writer"}]
        erin.files.delete(notes["id"])  # a writer (through the group) may delete


def test_list_searches_names_and_sorts_within_a_folder(client: Stowage) -> None:
    folder = f"/sdk-search-{os.urandom(4).hex()}"
    made = [
        client.files.create(name, "text/plain", size=1, directory=folder)["file"]
        for name in ["Zeta Report.pdf", "alpha report.txt", "Éclair notes.md"]
    ]
    found = list(client.files.list(q="REPORT", directory=folder))
    assert [f["name"] for f in found] == ["alpha report.txt", "Zeta Report.pdf"]
    by_name = list(client.files.list(directory=folder, sort="name", limit=1))
    assert [f["name"] for f in by_name] == ["alpha report.txt", "Éclair notes.md", "Zeta Report.pdf"]
    oldest = list(client.files.list(directory=folder, sort="createdAt"))
    assert [f["id"] for f in oldest] == [f["id"] for f in made]
    with pytest.raises(StowageError) as bad:
        list(client.files.list(sort="name"))
    assert bad.value.status == 400 and bad.value.code == "validation_failed"


def test_folders_list_create_move_and_delete(client: Stowage) -> None:
    top = f"/sdk-folders-{os.urandom(4).hex()}"
    a = client.files.create("a.txt", "text/plain", size=1, directory=f"{top}/src/x")["file"]
    client.files.create("b.txt", "text/plain", size=1, directory=f"{top}/src")
    assert client.folders.create(f"{top}/empty") == {"path": f"{top}/empty", "name": "empty"}
    assert [f["name"] for f in client.folders.list(top, limit=1)] == ["empty", "src"]
    assert client.folders.move(f"{top}/src", f"{top}/dst") == {"moved": 2, "skipped": 0}
    assert [f["path"] for f in client.folders.list(top)] == [f"{top}/dst", f"{top}/empty"]
    assert client.files.get(a["id"])["directory"] == f"{top}/dst/x"
    with pytest.raises(StowageError) as full:
        client.folders.delete(f"{top}/dst")
    assert (full.value.status, full.value.code) == (409, "folder_not_empty")
    with pytest.raises(StowageError) as never:
        client.folders.delete(f"{top}/never")
    assert (never.value.status, never.value.code) == (404, "folder_not_found")
    client.folders.delete(f"{top}/empty")
    assert [f["name"] for f in client.folders.list(top)] == ["dst"]
