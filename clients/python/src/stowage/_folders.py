"""The folder routes: ``client.folders``. A file's ``directory`` places it in a folder; these
browse, make, move and delete folders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ._types import Folder, FolderMoved

if TYPE_CHECKING:
    from ._client import Stowage


class Folders:
    """``client.folders``."""

    def __init__(self, client: Stowage) -> None:
        self._http = client._http

    def list(self, parent: str = "/", *, limit: int | None = None) -> list[Folder]:
        """``GET /folders``: every subfolder of ``parent`` that holds a file the caller may
        read, or was made with :meth:`create`, in name order, across every page (``limit``
        is the page size)."""
        folders: list[Folder] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"parent": parent}
            if limit is not None:
                params["limit"] = limit
            if cursor:
                params["cursor"] = cursor
            page = self._http.json("GET", "/folders", params=params)
            folders.extend(cast(list[Folder], page["items"]))
            cursor = page.get("nextCursor")
            if not cursor:
                return folders

    def create(self, path: str) -> Folder:
        """``POST /folders``: a folder that shows while it is empty (making it again is fine)."""
        return cast(Folder, self._http.json("POST", "/folders", json={"path": path}, idempotent=True))

    def move(self, from_: str, to: str) -> FolderMoved:
        """``POST /folders/move``, repeated until done: moves ``from_`` and everything below it
        to ``to``; returns the totals."""
        totals: FolderMoved = {"moved": 0, "skipped": 0}
        cursor: str | None = None
        while True:
            body: dict[str, Any] = {"from": from_, "to": to}
            if cursor:
                body["cursor"] = cursor
            step = self._http.json("POST", "/folders/move", json=body, idempotent=False)
            totals["moved"] += step["moved"]
            totals["skipped"] += step["skipped"]
            cursor = step.get("nextCursor")
            if not cursor:
                return totals

    def delete(self, path: str) -> None:
        """``DELETE /folders``: deletes a folder made with :meth:`create` that holds nothing
        (``409 folder_not_empty`` otherwise, ``404 folder_not_found`` if never made)."""
        self._http.request("DELETE", "/folders", params={"path": path})
