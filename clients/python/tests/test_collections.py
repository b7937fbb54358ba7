"""Collections with rules, usage and limits against a real stowage-local."""

from __future__ import annotations

import base64

import pytest

from conftest import Server
from stowage import Stowage, StowageError


def test_collections_their_rules_and_usage(server: Server, tenant: str, admin: Stowage, client: Stowage) -> None:
    created = admin.collections.create(
        "avatars",
        allowed_mime_types=["image/*"],
        max_file_size=5_000_000,
        require_size=True,
        defaults={"privateAccess": False},
        max_files=10,
    )
    assert created["name"] == "avatars"
    assert created["allowedMimeTypes"] == ["image/*"]
    assert created["defaults"] == {"privateAccess": False}
    assert admin.collections.get("avatars")["maxFiles"] == 10
    assert {c["name"] for c in client.collections.list()} >= {"default", "avatars"}

    # A member uploads into it; its rules apply.
    png = base64.b64decode(  # a 1x1 PNG
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    avatar = client.files.upload(png, name="me.png", collection="avatars")
    assert avatar["collection"] == "avatars"
    assert avatar["privateAccess"] is False  # the collection's default
    with pytest.raises(StowageError) as err:
        client.files.upload(b"%PDF", name="x.pdf", collection="avatars")
    assert (err.value.status, err.value.code) == (400, "mime_type_not_allowed")
    with pytest.raises(StowageError) as err:
        client.files.upload(b"x", name="x.png", collection="avatarz")
    assert (err.value.status, err.value.code) == (404, "collection_not_found")
    assert [f["id"] for f in client.files.list(collection="avatars")] == [avatar["id"]]

    # Members may not manage collections.
    with pytest.raises(StowageError) as err:
        client.collections.create("mine")
    assert err.value.status == 403

    # A conditional change of the rules.
    version = admin.collections.get("avatars")["version"]
    changed = admin.collections.update("avatars", {"maxFileSize": 2_000_000, "maxFiles": None}, if_match=version)
    assert changed["maxFileSize"] == 2_000_000 and changed["maxFiles"] is None
    with pytest.raises(StowageError) as err:
        admin.collections.update("avatars", {"maxFileSize": 1}, if_match=version)
    assert (err.value.status, err.value.code) == (412, "version_mismatch")

    # Usage counts the file, in its collection; the app sets the tenant's limits.
    usage = client.usage()
    assert usage["files"] == 1 and usage["bytes"] == len(png)
    assert usage["collections"]["avatars"] == {"bytes": len(png), "files": 1}
    limited = admin.set_limits(max_files=1)
    assert limited["limits"]["maxFiles"] == 1
    with pytest.raises(StowageError) as err:
        client.files.upload(b"one too many", name="more.txt")
    assert (err.value.status, err.value.code) == (409, "quota_exceeded")
    assert admin.set_limits(max_files=0)["limits"]["maxFiles"] is None  # 0: no limit

    # A collection that holds files is not deleted; an empty one is.
    with pytest.raises(StowageError) as err:
        admin.collections.delete("avatars")
    assert (err.value.status, err.value.code) == (409, "collection_not_empty")
    client.files.delete(avatar["id"])
    admin.collections.delete("avatars")
    with pytest.raises(StowageError) as err:
        admin.collections.get("avatars")
    assert err.value.code == "collection_not_found"
    assert client.usage()["files"] == 0
