"""Versions and trash against a real stowage-local: collections with ``trashDays`` and
``versions`` (made with an app's token), deletes into the trash, listing and reading it (and
unseen by get_many and links), restoring, permanent deletes, and the versions kept by
re-uploads (listed, downloaded, restored, deleted), with the API's codes for what cannot be
done."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from stowage import Stowage, StowageError

UNKNOWN = "01KAQ3V6T0Z9Y8X7W6V5T4S3R2"


def refused(call: Callable[[], object]) -> tuple[int, str | None]:
    """The status and code of the StowageError ``call()`` raises."""
    with pytest.raises(StowageError) as err:
        call()
    return err.value.status, err.value.code


def test_trash_list_restore_and_permanent_delete(admin: Stowage, client: Stowage) -> None:
    created = admin.collections.create("bin", trash_days=7, versions=2)
    assert (created["trashDays"], created["versions"]) == (7, 2)
    assert admin.collections.get("default")["trashDays"] is None  # the deployment's default

    a = client.files.upload(b"keep me", name="a.txt", collection="bin", tags=["t"])
    b = client.files.upload(b"drop me", name="b.txt", collection="bin")
    elsewhere = client.files.upload(b"no trash here", name="c.txt")  # default: trashDays 0
    client.files.reupload(a["id"], b"keep me, v2")  # a kept version, which the trash keeps too

    # Into the trash: gone from every route but the trash's.
    client.files.delete(a["id"])
    assert refused(lambda: client.files.get(a["id"])) == (404, "not_found")
    assert refused(lambda: client.files.content_url(a["id"])) == (404, "not_found")
    assert refused(lambda: client.files.versions(a["id"])) == (404, "not_found")
    trashed = client.files.get(a["id"], trashed=True)
    assert trashed["id"] == a["id"] and trashed["status"] == "uploaded"
    assert "trashedAt" in trashed and "purgeAt" in trashed
    assert trashed["purgeAt"] > trashed["trashedAt"]
    assert trashed["expiresAt"] is None
    assert refused(lambda: client.files.get(b["id"], trashed=True)) == (404, "not_found")
    assert "trashedAt" not in client.files.get(b["id"])
    assert [f["id"] for f in client.files.list(trashed=True)] == [a["id"]]
    assert [f["id"] for f in client.files.list(trashed=True, collection="bin", tag="t")] == [a["id"]]
    assert list(client.files.list(trashed=True, tag="other")) == []
    assert {f["id"] for f in client.files.list()} == {b["id"], elsewhere["id"]}
    # Many at once: a file in the trash reads as unknown.
    many = client.files.get_many([a["id"], b["id"]])
    assert ([f["id"] for f in many["items"]], many["notFound"]) == ([b["id"]], [a["id"]])
    links = client.files.links([a["id"], b["id"]])
    assert [link["id"] for link in links["items"]] == [b["id"]]
    assert (links["notFound"], links["notUploaded"]) == ([a["id"]], [])
    # It keeps its place in usage (bytes of the current content and the kept version).
    assert client.usage()["collections"]["bin"]["files"] == 2

    # Back from the trash, as it was, with its versions.
    restored = client.files.restore(a["id"])
    assert restored["id"] == a["id"] and restored["status"] == "uploaded"
    assert "trashedAt" not in restored and "purgeAt" not in restored
    assert client.files.get(a["id"])["size"] == len(b"keep me, v2")
    assert len(client.files.versions(a["id"])) == 2
    assert list(client.files.list(trashed=True)) == []
    assert refused(lambda: client.files.restore(a["id"])) == (409, "not_trashed")
    assert refused(lambda: client.files.restore(UNKNOWN)) == (404, "not_found")
    out = io.BytesIO()
    client.files.download(a["id"], out)
    assert out.getvalue() == b"keep me, v2"

    # permanent=True skips the trash ...
    client.files.delete(b["id"], permanent=True)
    assert refused(lambda: client.files.get(b["id"], trashed=True)) == (404, "not_found")
    # ... and deletes a file already in it (conditionally too: the trashed record's version).
    client.files.delete(a["id"])
    version = client.files.get(a["id"], trashed=True)["version"]
    with pytest.raises(StowageError) as err:
        client.files.delete(a["id"], permanent=True, if_match=version - 1)
    assert (err.value.status, err.value.code) == (412, "version_mismatch")
    client.files.delete(a["id"], permanent=True, if_match=version)
    assert refused(lambda: client.files.get(a["id"], trashed=True)) == (404, "not_found")
    assert list(client.files.list(trashed=True)) == []

    # Where the collection keeps no trash, a delete is for good.
    client.files.delete(elsewhere["id"])
    assert refused(lambda: client.files.get(elsewhere["id"], trashed=True)) == (404, "not_found")

    # In batches: by ids into the trash, then the trash emptied by filter, and permanent ids.
    d = client.files.upload(b"d", name="d.txt", collection="bin")
    e = client.files.upload(b"e", name="e.txt", collection="bin")
    gone = client.files.delete_many([d["id"], UNKNOWN])
    assert gone == {"deleted": [d["id"]], "notFound": [UNKNOWN], "nextCursor": None}
    assert [f["id"] for f in client.files.list(trashed=True)] == [d["id"]]
    emptied = client.files.delete_many({"trashed": True}, permanent=True)
    assert emptied["deleted"] == [d["id"]]
    assert list(client.files.list(trashed=True)) == []
    gone = client.files.delete_many([e["id"]], permanent=True)
    assert gone["deleted"] == [e["id"]]
    assert list(client.files.list(trashed=True)) == []
    assert list(client.files.list()) == []
    assert client.usage()["files"] == 0


def test_versions_kept_listed_downloaded_restored_deleted(
    admin: Stowage, client: Stowage, tmp_path: Path
) -> None:
    assert admin.collections.create("docs", versions=3)["versions"] == 3
    record = client.files.upload(b"one", name="notes.txt", collection="docs")
    file_id = record["id"]
    client.files.reupload(file_id, b"second")
    client.files.reupload(file_id, b"third!!")

    # The current content first, then the kept ones, newest first.
    versions = client.files.versions(file_id)
    assert [v["current"] for v in versions] == [True, False, False]
    assert [v["size"] for v in versions] == [7, 6, 3]
    numbers = [v["version"] for v in versions]
    assert numbers == sorted(numbers, reverse=True) and len(set(numbers)) == 3
    assert all(v["mimeType"] == "text/plain" and v["uploadedBy"] == "alice" for v in versions)
    current, second, first = numbers

    # An old version's bytes, to a file object or a path; the current one too.
    out = io.BytesIO()
    assert client.files.download_version(file_id, first, out) == 3
    assert out.getvalue() == b"one"
    path = tmp_path / "second.txt"
    assert client.files.download_version(file_id, second, path) == 6
    assert path.read_bytes() == b"second"
    out = io.BytesIO()
    client.files.download_version(file_id, current, out)
    assert out.getvalue() == b"third!!"
    link = client.files.version_content_url(file_id, first, disposition="inline", expires_in=60)
    got = httpx.get(link)  # no token: the link is the credential
    assert got.status_code == 200 and got.content == b"one"

    # Restoring the first makes it current (a copy); the content it replaced is kept.
    restored = client.files.restore_version(file_id, first)
    assert restored["id"] == file_id and restored["size"] == 3
    out = io.BytesIO()
    client.files.download(file_id, out)
    assert out.getvalue() == b"one"
    after = client.files.versions(file_id)
    assert after[0]["current"] and after[0]["version"] > current
    assert [v["version"] for v in after[1:]] == [current, second, first]  # 3 kept

    # Deleting a kept version; the current one cannot be, nor restored.
    client.files.delete_version(file_id, second)
    assert [v["version"] for v in client.files.versions(file_id)[1:]] == [current, first]
    newest = after[0]["version"]
    call: Callable[[], object]
    for call in (
        lambda: client.files.restore_version(file_id, newest),
        lambda: client.files.delete_version(file_id, newest),
    ):
        assert refused(call) == (409, "current_version")
    for call in (
        lambda: client.files.download_version(file_id, second, io.BytesIO()),
        lambda: client.files.restore_version(file_id, second),
        lambda: client.files.delete_version(file_id, 999),
    ):
        assert refused(call) == (404, "version_not_found")
    assert refused(lambda: client.files.versions(UNKNOWN)) == (404, "not_found")
    # A failed download to a path leaves no file behind.
    missing = tmp_path / "missing.txt"
    assert refused(lambda: client.files.download_version(file_id, 999, missing)) == (
        404,
        "version_not_found",
    )
    assert not missing.exists()

    # Only the newest `versions` are kept.
    for i in range(4):
        client.files.reupload(file_id, f"again {i}".encode())
    kept = client.files.versions(file_id)
    assert len(kept) == 1 + 3 and [v["current"] for v in kept].count(True) == 1

    # Without `versions`, a re-upload replaces the content: the current one is the only one.
    plain = client.files.upload(b"a", name="plain.txt")
    client.files.reupload(plain["id"], b"b")
    only = client.files.versions(plain["id"])
    assert len(only) == 1 and only[0]["current"] and only[0]["size"] == 1
