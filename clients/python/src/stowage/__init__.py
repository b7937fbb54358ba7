"""Stowage's Python client: ``Stowage(endpoint, token)``, then ``client.files`` (upload,
get, list, update, replace, delete, download, …), ``client.collections``, ``client.usage()``
and ``client.subscribe(on_event)``."""

from ._client import Collections, Files, Stowage, __version__
from ._errors import StowageError, UploadCancelled, UploadError
from ._types import (
    Collection,
    Counter,
    DeleteResult,
    FileRecord,
    Grant,
    Realtime,
    StoredPart,
    UploadLimits,
    Usage,
)

__all__ = [
    "Stowage",
    "Files",
    "Collections",
    "StowageError",
    "UploadError",
    "UploadCancelled",
    "FileRecord",
    "Collection",
    "Counter",
    "DeleteResult",
    "Grant",
    "Realtime",
    "StoredPart",
    "UploadLimits",
    "Usage",
    "__version__",
]
