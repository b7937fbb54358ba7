"""The shapes of the API's answers (openapi.yaml's schemas), for type checkers. At run time they
are plain dicts, exactly as the API sent them (camelCase keys; a field a newer server adds is
there too)."""

from __future__ import annotations

from typing import Any, Literal, Optional, TypedDict

__all__ = [
    "Grant",
    "FileRecord",
    "FileVersion",
    "FileEventType",
    "Collection",
    "Counter",
    "Usage",
    "UploadLimits",
    "StoredPart",
    "DeleteResult",
    "GetManyResult",
    "FileLink",
    "LinksResult",
    "Realtime",
]


class Grant(TypedDict):
    principal: str  # "user:<id>" or "group:<name>"
    role: Literal["reader", "writer"]


class _InTrash(TypedDict, total=False):
    """The fields only a file in the trash has (``total=False``: not required, as
    ``NotRequired`` says from Python 3.11)."""

    trashedAt: str  # when it was deleted (moved to the trash)
    purgeAt: str  # when it is deleted for good


class FileRecord(_InTrash):
    """A file record (``File`` in openapi.yaml). Every field is present (absent values are
    ``None``) except ``trashedAt`` and ``purgeAt``, which only a file in the trash has (read
    with ``files.get(id, trashed=True)`` or ``files.list(trashed=True)``)."""

    id: str
    collection: str
    kind: Literal["client", "temp"]
    name: str
    extension: str
    mimeType: str
    size: Optional[int]
    expectedSize: Optional[int]
    checksumSha256: Optional[str]
    status: Literal["pending", "uploaded", "failed"]
    failureReason: Optional[str]
    purpose: Optional[str]
    tags: list[str]
    metadata: dict[str, Any]
    externalId: Optional[str]
    directory: Optional[str]
    source: Optional[str]
    privateAccess: bool
    grants: list[Grant]
    uploadedBy: str
    createdAt: str
    updatedAt: str
    uploadedAt: Optional[str]
    expiresAt: Optional[str]
    version: int
    contentUrl: Optional[str]


class FileVersion(TypedDict):
    """One content of a file (``FileVersion`` in openapi.yaml): the current one, or one kept by
    the collection's ``versions``. ``version`` is the upload revision that made it (1, 2, 3, …;
    gaps are possible), the number the version calls take."""

    version: int
    current: bool
    size: int
    mimeType: str
    checksumSha256: Optional[str]
    uploadedAt: str
    uploadedBy: str


#: A file event's type (``detail-type`` of the EventBridge event and the webhook body;
#: ``type`` of a realtime event). ``deleted`` is also sent when the trash purges a file.
FileEventType = Literal[
    "stowage.file.created",
    "stowage.file.uploaded",
    "stowage.file.failed",
    "stowage.file.updated",
    "stowage.file.deleted",
    "stowage.file.expired",
    "stowage.file.trashed",
    "stowage.file.restored",
    "stowage.file.version_restored",
]


class Collection(TypedDict):
    """A collection and its rules (``Collection`` in openapi.yaml)."""

    name: str
    allowedMimeTypes: Optional[list[str]]
    maxFileSize: Optional[int]
    requireSize: bool
    defaults: dict[str, Any]
    maxUploadUrlExpiresIn: Optional[int]
    maxBytes: Optional[int]
    maxFiles: Optional[int]
    access: dict[str, list[str]]
    fileSecurity: bool
    overwrite: Literal["writers", "owner", "apps"]
    versions: int  # earlier contents kept per file (0: a new upload replaces the old)
    trashDays: Optional[int]  # days a deleted file stays in the trash (None: the deployment's default)
    version: int
    createdAt: Optional[str]
    updatedAt: Optional[str]


class Counter(TypedDict):
    bytes: int
    files: int


class UsageLimits(TypedDict):
    maxBytes: Optional[int]
    maxFiles: Optional[int]


class Usage(TypedDict):
    """``GET /usage``: stored bytes (plus what open uploads reserve), live files, the tenant's
    limits and each collection's counters."""

    bytes: int
    files: int
    limits: UsageLimits
    collections: dict[str, Counter]


class UploadLimits(TypedDict):
    """``GET /files/limits``: what uploads are planned with (bytes; seconds)."""

    multipartThreshold: int
    defaultPartSize: int
    minPartSize: int
    maxPartSize: int
    maxParts: int
    maxObjectSize: int
    maxUrlExpiresIn: int


class StoredPart(TypedDict):
    partNumber: int
    size: int
    etag: str


class DeleteResult(TypedDict):
    """What ``delete_many`` deleted and did not find, in request order (by filter: every page
    of matches until none was left, so ``nextCursor`` is ``None``)."""

    deleted: list[str]
    notFound: list[str]
    nextCursor: Optional[str]


class GetManyResult(TypedDict):
    """``files.get_many`` (``POST /files/get``): the records found, in the order asked (a
    repeated id once), and the ids not found — unknown, expired, in the trash or not readable
    by the caller, alike."""

    items: list[FileRecord]
    notFound: list[str]


class FileLink(TypedDict):
    """One presigned download link of ``files.links``."""

    id: str
    url: str


class LinksResult(TypedDict):
    """``files.links`` (``POST /files/links``): the links, in the order asked; the ids not
    found (as for ``get_many``) and those of files without content yet."""

    items: list[FileLink]
    notFound: list[str]
    notUploaded: list[str]


class Realtime(TypedDict):
    """``GET /realtime``: where to connect and the channels this identity may subscribe to."""

    url: str
    host: str
    channels: list[str]


class Folder(TypedDict):
    """A folder (``Folder`` in openapi.yaml): its path and its last segment."""

    path: str
    name: str


class FolderMoved(TypedDict):
    """What moving a folder did: files moved, and files left because the caller may read but
    not change them."""

    moved: int
    skipped: int
