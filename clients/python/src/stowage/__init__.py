"""Stowage's Python client: ``Stowage(endpoint, token)``, then ``client.files`` (upload,
get, get_many, list, update, replace, delete, restore, download, links, versions, …), ``client.collections``, ``client.folders``, ``client.usage()``
and ``client.subscribe(on_event)``."""

from ._client import Collections, Files, Stowage, __version__
from ._folders import Folders
from ._errors import StowageError, UploadCancelled, UploadError
from ._types import (
    Collection,
    Counter,
    DeleteResult,
    FileEventType,
    FileLink,
    FileRecord,
    FileVersion,
    Folder,
    FolderMoved,
    GetManyResult,
    Grant,
    LinksResult,
    Realtime,
    StoredPart,
    UploadLimits,
    Usage,
)

__all__ = [
    "Stowage",
    "Files",
    "Collections",
    "Folders",
    "Folder",
    "FolderMoved",
    "StowageError",
    "UploadError",
    "UploadCancelled",
    "FileRecord",
    "FileVersion",
    "FileEventType",
    "Collection",
    "Counter",
    "DeleteResult",
    "FileLink",
    "GetManyResult",
    "Grant",
    "LinksResult",
    "Realtime",
    "StoredPart",
    "UploadLimits",
    "Usage",
    "__version__",
]
