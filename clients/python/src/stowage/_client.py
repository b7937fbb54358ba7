"""``Stowage``: the client, with ``files`` and ``collections``."""

from __future__ import annotations

import builtins
import mimetypes
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any, Union, cast
from urllib.parse import urljoin

import httpx

from . import _upload
from ._errors import StowageError, UploadError
from ._folders import Folders
from ._http import STORAGE_RETRY, Http, TokenSource, backoff, retry_after
from ._types import (
    Collection,
    DeleteResult,
    FileRecord,
    FileVersion,
    GetManyResult,
    Grant,
    LinksResult,
    Realtime,
    StoredPart,
    UploadLimits,
    Usage,
)
from ._upload import ProgressCallback, Source

if TYPE_CHECKING:
    from ._realtime import EventCallback, StateCallback, Subscription

__version__ = "0.1.0"

_List = builtins.list
Json = dict[str, Any]
#: Where ``files.download`` writes: a path, or a writable binary file object.
Destination = Union[str, "os.PathLike[str]", IO[bytes]]
IfMatch = Union[int, str, None]

_SNAKE = re.compile(r"_([a-z0-9])")


def _camel(key: str) -> str:
    """``mime_type`` -> ``mimeType``; a key without ``_`` is left as it is."""
    return _SNAKE.sub(lambda m: m.group(1).upper(), key)


def _camel_keys(fields: Mapping[str, Any]) -> Json:
    return {_camel(k): v for k, v in fields.items()}


def _if_match(value: IfMatch) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, bool):
        raise TypeError("if_match is a version (int) or an ETag (str)")
    if isinstance(value, int):
        return {"if-match": f'"{value}"'}
    return {"if-match": value}


def _quote(segment: str) -> str:
    from urllib.parse import quote

    return quote(segment, safe="")


class Stowage:
    """A client of the Stowage API at ``endpoint`` (e.g. ``http://127.0.0.1:4600`` or the
    deployed ``ApiUrl``), calling it with ``token`` (a JWT, or a callable returning one — called
    for every request, so it can refresh).

    ``max_attempts`` bounds every retry loop (busy answers, storage errors, transport errors on
    idempotent calls); ``max_wait`` caps a single wait, whatever ``Retry-After`` asks.
    ``http_client`` replaces the ``httpx.Client`` it makes (it must not follow redirects).
    Thread-safe; close it (or use it as a context manager) to release its connections.
    """

    def __init__(
        self,
        endpoint: str,
        token: TokenSource,
        *,
        timeout: float | httpx.Timeout = httpx.Timeout(60.0, connect=10.0),
        max_attempts: int = 6,
        max_wait: float = 30.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._http = Http(
            endpoint,
            token,
            client=http_client,
            timeout=timeout,
            max_attempts=max_attempts,
            max_wait=max_wait,
            user_agent=f"stowage-client-python/{__version__}",
        )
        self._limits: UploadLimits | None = None
        self.files = Files(self)
        self.collections = Collections(self)
        self.folders = Folders(self)

    @property
    def endpoint(self) -> str:
        return self._http.endpoint

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Stowage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- tenant-wide ---

    def usage(self) -> Usage:
        """``GET /usage``: bytes and files stored, by collection, and the tenant's limits."""
        return cast(Usage, self._http.json("GET", "/usage"))

    def set_limits(self, *, max_bytes: int | None = None, max_files: int | None = None) -> Usage:
        """``PUT /usage/limits`` (an app's token, ``files:admin``): ``0`` is no limit, a limit
        left out (``None``) goes back to the deployment's default. Returns the usage."""
        body: Json = {}
        if max_bytes is not None:
            body["maxBytes"] = max_bytes
        if max_files is not None:
            body["maxFiles"] = max_files
        return cast(Usage, self._http.json("PUT", "/usage/limits", json=body))

    def limits(self, *, refresh: bool = False) -> UploadLimits:
        """``GET /files/limits``: what uploads are planned with (asked once, then remembered)."""
        if self._limits is None or refresh:
            self._limits = cast(UploadLimits, self._http.json("GET", "/files/limits"))
        return self._limits

    def realtime(self) -> Realtime:
        """``GET /realtime``: where to subscribe and this identity's channels (``404
        realtime_unavailable`` where the deployment has none)."""
        return cast(Realtime, self._http.json("GET", "/realtime"))

    def subscribe(
        self,
        on_event: EventCallback,
        *,
        on_state: StateCallback | None = None,
    ) -> Subscription:
        """Calls ``on_event(event)`` for every change of a file this identity may read, as it
        happens (AppSync Events' WebSocket protocol; needs ``stowage-client[realtime]``).
        Runs in a background thread that reconnects with backoff and resubscribes; each event
        once, by ``eventId``. ``on_state(state)`` is told ``connecting``, ``live``,
        ``disconnected``, ``unavailable`` (no realtime endpoint: nothing more is tried) and, after
        ``close()``, ``closed``. Both callbacks run on the subscription's thread.
        Returns the :class:`Subscription`; ``close()`` it to stop."""
        from ._realtime import Subscription

        return Subscription(self._http, on_event, on_state)


class Files:
    """The file routes: ``client.files``."""

    def __init__(self, client: Stowage) -> None:
        self._client = client
        self._http = client._http

    # --- uploads ---

    def upload(
        self,
        source: Source,
        *,
        name: str | None = None,
        mime_type: str | None = None,
        collection: str | None = None,
        progress: ProgressCallback | None = None,
        wait: bool = True,
        parallel: int = 4,
        part_size: int | None = None,
        multipart: bool | None = None,
        resume_id: str | None = None,
        cancel: threading.Event | None = None,
        on_created: Callable[[str], None] | None = None,
        wait_timeout: float = 60.0,
        **fields: Any,
    ) -> FileRecord:
        """Creates a record and uploads ``source`` (a path, bytes, or a seekable binary file
        object from its current position) straight to storage; returns the record once it is
        ``uploaded`` (with ``wait=False``: as soon as the bytes are sent).

        Above the server's ``multipartThreshold`` (``GET /files/limits``) — or with
        ``multipart=True`` — the bytes go as a multipart upload: ``parallel`` parts at a time
        (each read from the source only when it is sent), each retried on its own. ``fields``
        are the create's other fields (``tags=[…]``, ``metadata={…}``, ``purpose=…``,
        ``external_id=…``, ``kind="temp"``, ``grants=[…]``, …; snake_case becomes camelCase).

        ``progress(bytes_sent, total)`` is called from the sending threads, one call at a time,
        never going backwards. Setting ``cancel`` (or the callback raising) stops the upload and
        aborts it on the server — no parts are left — and raises :class:`UploadCancelled`.
        ``on_created(file_id)`` runs once the record exists (keep the id to resume after a
        crash). A failure after that raises :class:`UploadError` with ``file_id``; the parts
        already sent stay, and ``upload(source, resume_id=file_id)`` sends only the missing ones.
        """
        reader = _upload.open_source(source)
        try:
            tracker = _upload.Progress(reader.size, progress, cancel)
            if resume_id is not None:
                return self._resume(resume_id, reader, tracker, parallel, wait, wait_timeout)
            name = name or reader.name
            if not name:
                raise ValueError("name= is required when uploading bytes or an unnamed file object")
            body: Json = {
                "name": name,
                "mimeType": mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream",
                "size": reader.size,
            }
            if collection is not None:
                body["collection"] = collection
            body.update(_camel_keys(fields))
            if multipart is None:
                multipart = reader.size > self._client.limits()["multipartThreshold"]
            if multipart:
                body["multipart"] = True
            if part_size is not None:
                body["partSize"] = part_size
            created: Json = self._http.json("POST", "/files", json=body, idempotent=False)
            file_id = str(created["file"]["id"])
            if on_created is not None:
                on_created(file_id)
            return self._send(created, reader, tracker, parallel, wait, wait_timeout)
        finally:
            reader.close()

    def reupload(
        self,
        file_id: str,
        source: Source,
        *,
        progress: ProgressCallback | None = None,
        wait: bool = True,
        parallel: int = 4,
        part_size: int | None = None,
        multipart: bool | None = None,
        cancel: threading.Event | None = None,
        if_match: IfMatch = None,
        wait_timeout: float = 60.0,
        **fields: Any,
    ) -> FileRecord:
        """A new version of an existing file (``POST /files/{id}/upload``): the current bytes
        stay readable until the new ones land. ``fields``: ``checksum_sha256``,
        ``upload_url_expires_in``."""
        reader = _upload.open_source(source)
        try:
            tracker = _upload.Progress(reader.size, progress, cancel)
            body: Json = {"size": reader.size, **_camel_keys(fields)}
            if multipart is None:
                multipart = reader.size > self._client.limits()["multipartThreshold"]
            if multipart:
                body["multipart"] = True
            if part_size is not None:
                body["partSize"] = part_size
            created: Json = self._http.json(
                "POST", f"/files/{_quote(file_id)}/upload", json=body, headers=_if_match(if_match)
            )
            return self._send(created, reader, tracker, parallel, wait, wait_timeout)
        finally:
            reader.close()

    def _send(
        self,
        created: Json,
        reader: _upload.Reader,
        tracker: _upload.Progress,
        parallel: int,
        wait: bool,
        wait_timeout: float,
    ) -> FileRecord:
        file_id = str(created["file"]["id"])
        return self._guard(
            file_id,
            tracker,
            lambda: _upload.run_upload(
                self._http,
                created,
                reader,
                progress=tracker,
                parallel=parallel,
                wait_for_uploaded=wait,
                wait_timeout=wait_timeout,
            ),
        )

    def _guard(
        self, file_id: str, tracker: _upload.Progress, run: Callable[[], Json]
    ) -> FileRecord:
        """Runs a transfer: a cancel aborts the open upload (no parts left); a failure keeps
        the parts and names the file, so the upload can be resumed."""
        try:
            return cast(FileRecord, run())
        except (_upload.Cancelled, KeyboardInterrupt) as err:
            tracker.stop.set()
            _upload.abort(self._http, file_id)
            if isinstance(err, KeyboardInterrupt):
                raise
            raise _upload.cancelled_error(file_id) from tracker.failure
        except UploadError as err:
            if err.file_id is None:
                err.file_id = file_id
            raise
        except (StowageError, httpx.HTTPError, OSError) as err:
            raise UploadError(
                f"the upload of file {file_id} failed ({err}); "
                f"files.upload(..., resume_id={file_id!r}) sends only what is missing",
                file_id,
            ) from err

    def _resume(
        self,
        file_id: str,
        reader: _upload.Reader,
        tracker: _upload.Progress,
        parallel: int,
        wait: bool,
        wait_timeout: float,
    ) -> FileRecord:
        record = self.get(file_id)
        try:
            held = self.parts(file_id)
        except StowageError as err:
            if err.status != 409:
                raise
            # No open multipart upload: the bytes landed already, or it was a single PUT
            # (whose URL is gone): start a new upload of the record.
            if record["status"] == "uploaded" and record["size"] == reader.size:
                tracker.start(reader.size)
                return record
            body: Json = {"size": reader.size}
            if reader.size > self._client.limits()["multipartThreshold"]:
                body["multipart"] = True
            created: Json = self._http.json(
                "POST", f"/files/{_quote(file_id)}/upload", json=body
            )
            return self._send(created, reader, tracker, parallel, wait, wait_timeout)
        expected = record.get("expectedSize")
        if expected is not None and expected != reader.size:
            raise ValueError(
                f"the source is {reader.size} bytes but file {file_id} expects {expected}"
            )
        return self._guard(
            file_id,
            tracker,
            lambda: _upload.resume_parts(
                self._http,
                file_id,
                reader,
                cast(_List[Json], held),
                progress=tracker,
                parallel=parallel,
                wait_for_uploaded=wait,
                wait_timeout=wait_timeout,
            ),
        )

    def create(self, name: str, mime_type: str, **fields: Any) -> Json:
        """``POST /files`` alone: ``{"file": record, "upload": how to send the bytes}``, for
        callers who send the bytes themselves (snake_case fields become camelCase)."""
        body: Json = {"name": name, "mimeType": mime_type, **_camel_keys(fields)}
        return cast(Json, self._http.json("POST", "/files", json=body, idempotent=False))

    def parts(self, file_id: str) -> _List[StoredPart]:
        """``GET /files/{id}/upload/parts``: the parts the storage holds for the open multipart
        upload (``409`` when there is none)."""
        answer = self._http.json("GET", f"/files/{_quote(file_id)}/upload/parts")
        return cast(_List[StoredPart], answer["parts"])

    def abort_upload(self, file_id: str, *, if_match: IfMatch = None) -> FileRecord:
        """``DELETE /files/{id}/upload``: the open upload's parts go; the record keeps its
        previous content, or becomes ``failed`` if it never had any."""
        return cast(
            FileRecord,
            self._http.json(
                "DELETE", f"/files/{_quote(file_id)}/upload", headers=_if_match(if_match)
            ),
        )

    # --- records ---

    def get(self, file_id: str, *, trashed: bool = False) -> FileRecord:
        """``GET /files/{id}``. ``trashed=True`` reads the file from the trash (only there: a
        live file is then ``404``); a trashed file's record has ``trashedAt`` and ``purgeAt``."""
        return cast(
            FileRecord,
            self._http.json("GET", f"/files/{_quote(file_id)}", params=_flag("trashed", trashed)),
        )

    def get_many(self, ids: Iterable[str]) -> GetManyResult:
        """``POST /files/get``: the records of up to 100 ids in one call, in the order asked (a
        repeated id once); ids unknown, expired, in the trash or not readable are in
        ``notFound``, alike. More than 100 is ``400 validation_failed``."""
        return cast(
            GetManyResult,
            self._http.json(
                "POST", "/files/get", json={"ids": _ids(ids, "get_many")}, idempotent=True
            ),
        )

    def pages(self, **filters: Any) -> Iterator[_List[FileRecord]]:
        """Every page of ``GET /files`` with these filters, following ``nextCursor`` (a page
        may be short, or empty, while more follow). ``limit`` is the page size."""
        params = _filters(filters)
        cursor: str | None = None
        while True:
            query = params + ([("cursor", cursor)] if cursor else [])
            page = self._http.json("GET", "/files", params=query)
            yield cast(_List[FileRecord], page["items"])
            cursor = page.get("nextCursor")
            if not cursor:
                return

    def list(self, **filters: Any) -> Iterator[FileRecord]:
        """Every record matching the filters, newest first, across every page.

        Filters (combined with AND): ``name``, ``tag`` (a string or a list: all must match),
        ``purpose``, ``collection``, ``status``, ``kind``, ``external_id``, ``directory``,
        ``directory_prefix``, ``mime_type``, ``uploaded_by``, ``created_after``,
        ``created_before`` (RFC 3339 strings or aware datetimes); ``limit`` is the page size.
        ``trashed=True`` lists the trash instead of live files (the other filters combine)."""
        for page in self.pages(**filters):
            yield from page

    def update(self, file_id: str, patch: Mapping[str, Any], *, if_match: IfMatch = None) -> FileRecord:
        """``PATCH /files/{id}``: a JSON merge patch (``None`` removes an optional field;
        ``metadata`` merges). ``if_match`` (the record's ``version``) makes it conditional:
        ``412 version_mismatch`` when it changed meanwhile."""
        return cast(
            FileRecord,
            self._http.json(
                "PATCH",
                f"/files/{_quote(file_id)}",
                json=dict(patch),
                headers=_if_match(if_match),
                content_type="application/merge-patch+json",
                idempotent=False,
            ),
        )

    def replace(self, file_id: str, record: Mapping[str, Any], *, if_match: IfMatch = None) -> FileRecord:
        """``PUT /files/{id}``: every mutable field (``name`` and ``mimeType`` required; optional
        fields left out are removed)."""
        return cast(
            FileRecord,
            self._http.json(
                "PUT", f"/files/{_quote(file_id)}", json=dict(record), headers=_if_match(if_match)
            ),
        )

    def update_many(
        self,
        target: Iterable[Mapping[str, Any]] | Mapping[str, Any],
        patch: Mapping[str, Any] | None = None,
    ) -> _List[FileRecord]:
        """``PATCH /files``, all or nothing: a list of ``{"id": …, …changes}`` (up to 100), or
        a filter (as for :meth:`list`) and one ``patch`` for every match (more than 100 matches
        is ``409 too_many_matches``, nothing changed)."""
        if isinstance(target, Mapping):
            if patch is None:
                raise TypeError("update_many(filter, patch): the patch is missing")
            body: Any = {"filter": _filter_object(target), "patch": dict(patch)}
        else:
            if patch is not None:
                raise TypeError("update_many(patches): give either patches or a filter and a patch")
            body = [dict(p) for p in target]
        answer = self._http.json("PATCH", "/files", json=body, idempotent=False)
        return cast(_List[FileRecord], answer["items"])

    def copy(
        self,
        file_id: str,
        *,
        collection: str | None = None,
        name: str | None = None,
        directory: str | None = None,
    ) -> FileRecord:
        """``POST /files/{id}/copy``: a new file with this one's bytes (copied in storage, any
        size) and fields, the caller as its owner, uploaded; ``collection``, ``name`` and
        ``directory`` left out are the source's. Not its ``externalId``, grants or versions.
        The target collection's rules and limits apply as for an upload; a source without
        content is ``409 not_uploaded``. Not retried on a transport error (each call is a new
        file)."""
        target = {"collection": collection, "name": name, "directory": directory}
        body: Json = {k: v for k, v in target.items() if v is not None}
        return cast(
            FileRecord,
            self._http.json(
                "POST", f"/files/{_quote(file_id)}/copy", json=body, idempotent=False
            ),
        )

    def delete(self, file_id: str, *, if_match: IfMatch = None, permanent: bool = False) -> None:
        """``DELETE /files/{id}``: the record and its bytes — or, in a collection with
        ``trashDays``, into the trash (an uploaded file; :meth:`restore` brings it back).
        ``permanent=True`` skips the trash, and also deletes a file that is in it."""
        self._http.request(
            "DELETE",
            f"/files/{_quote(file_id)}",
            params=_flag("permanent", permanent),
            headers=_if_match(if_match),
        )

    def delete_many(
        self, target: Iterable[str] | Mapping[str, Any], *, permanent: bool = False
    ) -> DeleteResult:
        """``POST /files/delete``: by ids (any number; sent 1,000 at a time), or by a filter (as
        for :meth:`list`; every page of matches until none is left). In a collection with
        ``trashDays`` uploaded files go to the trash (listed in ``deleted``);
        ``permanent=True`` skips it, and also deletes files in it (``{"trashed": True}`` as
        the filter empties the trash)."""
        result: DeleteResult = {"deleted": [], "notFound": [], "nextCursor": None}
        extra: Json = {"permanent": True} if permanent else {}
        if isinstance(target, Mapping):
            body: Json = {"filter": _filter_object(target), **extra}
            while True:
                answer = self._http.json("POST", "/files/delete", json=body, idempotent=False)
                result["deleted"].extend(answer["deleted"])
                result["notFound"].extend(answer["notFound"])
                cursor = answer.get("nextCursor")
                if not cursor:
                    return result
                body["cursor"] = cursor
        if isinstance(target, str):
            raise TypeError("delete_many takes a list of ids (or a filter), not one id: use delete()")
        ids = _List(target)
        for start in range(0, len(ids), 1000):
            answer = self._http.json(
                "POST",
                "/files/delete",
                json={"ids": ids[start : start + 1000], **extra},
                idempotent=False,
            )
            result["deleted"].extend(answer["deleted"])
            result["notFound"].extend(answer["notFound"])
        return result

    def restore(self, file_id: str) -> FileRecord:
        """``POST /files/{id}/restore``: brings a file back from the trash as it was (needs the
        right to delete it); a live file is ``409 not_trashed``."""
        return cast(FileRecord, self._http.json("POST", f"/files/{_quote(file_id)}/restore"))

    # --- versions (kept in collections with ``versions``) ---

    def versions(self, file_id: str) -> _List[FileVersion]:
        """``GET /files/{id}/versions``: the file's contents, the current one first, then the
        ones its collection keeps (``versions``), newest first."""
        answer = self._http.json("GET", f"/files/{_quote(file_id)}/versions")
        return cast(_List[FileVersion], answer["items"])

    def restore_version(self, file_id: str, version: int) -> FileRecord:
        """``POST /files/{id}/versions/{version}/restore``: that version's content becomes the
        current one (a copy; the one it replaces is kept as a version). Needs the right to
        upload the file; the current version is ``409 current_version``."""
        return cast(
            FileRecord, self._http.json("POST", f"{_version_path(file_id, version)}/restore")
        )

    def delete_version(self, file_id: str, version: int) -> None:
        """``DELETE /files/{id}/versions/{version}``: a kept version and its bytes (the current
        one is ``409 current_version``; an unknown one ``404 version_not_found``)."""
        self._http.request("DELETE", _version_path(file_id, version))

    # --- grants (a field of the record) ---

    def set_grants(self, file_id: str, grants: Iterable[Grant], *, if_match: IfMatch = None) -> FileRecord:
        """Sets the file's grants (a collection with ``fileSecurity``; the owner or an app)."""
        return self.update(file_id, {"grants": _List(grants)}, if_match=if_match)

    def grant(self, file_id: str, principal: str, role: str = "reader") -> FileRecord:
        """Gives ``principal`` (``user:<id>`` or ``group:<name>``) ``role`` (``reader`` or
        ``writer``) on the file, keeping the other grants (read, then a conditional write,
        retried if the record changed in between)."""
        return self._change_grants(
            file_id, lambda gs: [g for g in gs if g["principal"] != principal]
            + [cast(Grant, {"principal": principal, "role": role})]
        )

    def revoke(self, file_id: str, principal: str) -> FileRecord:
        """Removes ``principal``'s grant on the file, keeping the others."""
        return self._change_grants(
            file_id, lambda gs: [g for g in gs if g["principal"] != principal]
        )

    def _change_grants(
        self, file_id: str, change: Callable[[_List[Grant]], _List[Grant]]
    ) -> FileRecord:
        attempt = 0
        while True:
            attempt += 1
            record = self.get(file_id)
            try:
                return self.set_grants(
                    file_id, change(_List(record.get("grants") or [])), if_match=record["version"]
                )
            except StowageError as err:
                if err.status != 412 or attempt >= self._http.max_attempts:
                    raise

    # --- content ---

    def content_url(
        self, file_id: str, *, disposition: str | None = None, expires_in: int | None = None
    ) -> str:
        """The URL ``GET /files/{id}/content`` redirects to: a presigned download (living
        ``expires_in`` seconds: a share link) or a public file's URL."""
        return self._location(f"/files/{_quote(file_id)}/content", disposition, expires_in)

    def version_content_url(
        self,
        file_id: str,
        version: int,
        *,
        disposition: str | None = None,
        expires_in: int | None = None,
    ) -> str:
        """The URL ``GET /files/{id}/versions/{version}/content`` redirects to: a presigned
        download of that version (``404 version_not_found`` for one the file does not have)."""
        return self._location(
            f"{_version_path(file_id, version)}/content", disposition, expires_in
        )

    def _location(self, path: str, disposition: str | None, expires_in: int | None) -> str:
        response = self._http.request(
            "GET", path, params={"disposition": disposition, "expiresIn": expires_in}
        )
        location = response.headers.get("location")
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            raise StowageError(
                response.status_code, None, "the content route answered without a Location"
            )
        return str(urljoin(self._http.endpoint + "/", str(location)))

    def links(
        self,
        ids: Iterable[str],
        *,
        disposition: str | None = None,
        expires_in: int | None = None,
    ) -> LinksResult:
        """``POST /files/links``: presigned download links of up to 100 files in one call, in
        the order asked (``disposition`` and ``expires_in`` seconds apply to each); ids not
        found are in ``notFound`` (as for :meth:`get_many`), files without content yet in
        ``notUploaded``."""
        return cast(
            LinksResult,
            self._http.json(
                "POST",
                "/files/links",
                params={"disposition": disposition, "expiresIn": expires_in},
                json={"ids": _ids(ids, "links")},
                idempotent=True,
            ),
        )

    def thumbnail_url(self, file_id: str, *, size: int = 256, wait: int = 0) -> str | None:
        """The URL of an image's thumbnail (``size`` 64, 256 or 1024), or ``None`` while it is
        not made yet (``wait`` seconds, up to 10, are waited for it first)."""
        response = self._http.request(
            "GET", f"/files/{_quote(file_id)}/thumbnail", params={"size": size, "wait": wait}
        )
        if response.status_code == 202:
            return None
        location = response.headers.get("location")
        if not location:
            raise StowageError(response.status_code, None, "the thumbnail route answered without a Location")
        return str(urljoin(self._http.endpoint + "/", str(location)))

    def download(self, file_id: str, destination: Destination) -> int:
        """Streams the file's bytes to ``destination`` (a path, or a writable binary file
        object) as they arrive; returns how many were written. A transfer cut short
        continues where it stopped (an HTTP range); an expired URL is asked for again. A path
        that could not be written whole is removed."""
        return self._download_to(destination, lambda: self.content_url(file_id))

    def download_version(self, file_id: str, version: int, destination: Destination) -> int:
        """Streams one version's bytes (a number from :meth:`versions`, the current one too) to
        ``destination``, as :meth:`download` does; returns how many were written."""
        return self._download_to(
            destination, lambda: self.version_content_url(file_id, version)
        )

    def _download_to(self, destination: Destination, url_of: Callable[[], str]) -> int:
        if isinstance(destination, (str, os.PathLike)):
            path = os.fspath(destination)
            try:
                with open(path, "wb") as out:
                    return self._download(url_of, out)
            except BaseException:
                try:
                    os.remove(path)
                except OSError:
                    pass
                raise
        return self._download(url_of, destination)

    def _download(self, url_of: Callable[[], str], out: IO[bytes]) -> int:
        """Streams the bytes at the presigned URL ``url_of()`` returns (asked again once if
        it has expired) to ``out``."""
        http = self._http
        url = url_of()
        seekable = getattr(out, "seekable", None)
        start = out.tell() if callable(seekable) and seekable() else None
        redirects = 0
        written = 0
        total: int | None = None
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            headers = {"user-agent": http.user_agent}
            if written:
                headers["range"] = f"bytes={written}-"
            try:
                with http.client.stream("GET", url, headers=headers) as response:
                    status = response.status_code
                    if status == 403 and not refreshed:
                        refreshed = True
                        url = url_of()
                        continue
                    location = response.headers.get("location")
                    if 300 <= status < 400 and location and redirects < 5:
                        # A storage URL that redirects (a CDN, a regional endpoint): followed
                        # here, without the token, which never goes to storage.
                        redirects += 1
                        attempt -= 1
                        url = urljoin(url, location)
                        continue
                    if status in STORAGE_RETRY and attempt < http.max_attempts:
                        response.read()
                        wait_s = retry_after(response, http.max_wait)
                        time.sleep(wait_s if wait_s is not None else backoff(attempt, http.max_wait))
                        continue
                    if status >= 300:
                        response.read()
                        raise StowageError.from_response(response, presigned=True)
                    if written and status == 200:
                        # The range was not honoured: start again from the beginning.
                        if start is None:
                            raise StowageError(
                                status, None, "the download broke off and cannot be restarted on an unseekable file"
                            )
                        out.seek(start)
                        out.truncate()
                        written = 0
                    if status == 206:
                        content_range = response.headers.get("content-range", "")
                        if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
                            total = int(content_range.rsplit("/", 1)[1])
                    elif "content-length" in response.headers:
                        total = int(response.headers["content-length"])
                    # As received (at most the transport's read size, 64 KiB): a chunk size
                    # here would make httpx buffer, and lose what it buffered if the
                    # connection broke.
                    for chunk in response.iter_raw():
                        out.write(chunk)
                        written += len(chunk)
            except httpx.TransportError:
                if attempt >= http.max_attempts:
                    raise
                time.sleep(backoff(attempt, http.max_wait))
                continue
            if total is not None and written != total:
                if attempt >= http.max_attempts:
                    raise StowageError(0, None, f"the download ended after {written} of {total} bytes")
                continue
            out.flush()
            return written


class Collections:
    """The collection routes: ``client.collections`` (managing them needs an app's token,
    ``files:admin``)."""

    def __init__(self, client: Stowage) -> None:
        self._http = client._http

    def create(self, name: str, **rules: Any) -> Collection:
        """``POST /collections``: ``allowed_mime_types=[…]``, ``max_file_size=…``,
        ``require_size=True``, ``defaults={…}``, ``max_upload_url_expires_in=…``,
        ``max_bytes=…``, ``max_files=…``, ``access={…}``, ``file_security=True``,
        ``overwrite="owner"``, ``versions=…`` (earlier contents kept per file),
        ``trash_days=…`` (days a deleted file stays in the trash) (snake_case becomes
        camelCase)."""
        body: Json = {"name": name, **_camel_keys(rules)}
        return cast(Collection, self._http.json("POST", "/collections", json=body, idempotent=False))

    def get(self, name: str) -> Collection:
        return cast(Collection, self._http.json("GET", f"/collections/{_quote(name)}"))

    def list(self) -> _List[Collection]:
        """Every collection of the tenant."""
        return cast(_List[Collection], self._http.json("GET", "/collections")["items"])

    def update(self, name: str, patch: Mapping[str, Any], *, if_match: IfMatch = None) -> Collection:
        """``PATCH /collections/{name}``: a JSON merge patch of the rules (camelCase keys as in
        the API; ``None`` removes a rule)."""
        return cast(
            Collection,
            self._http.json(
                "PATCH",
                f"/collections/{_quote(name)}",
                json=dict(patch),
                headers=_if_match(if_match),
                content_type="application/merge-patch+json",
                idempotent=False,
            ),
        )

    def delete(self, name: str, *, if_match: IfMatch = None) -> None:
        """``DELETE /collections/{name}`` (``409 collection_not_empty`` while it holds files)."""
        self._http.request("DELETE", f"/collections/{_quote(name)}", headers=_if_match(if_match))


def _version_path(file_id: str, version: int) -> str:
    if isinstance(version, bool) or not isinstance(version, int):
        raise TypeError("version is a version number (int) from files.versions()")
    return f"/files/{_quote(file_id)}/versions/{version}"


def _ids(ids: Iterable[str], call: str) -> _List[str]:
    if isinstance(ids, str):
        raise TypeError(f"{call} takes a list of ids, not one id")
    return _List(ids)


def _flag(name: str, on: bool) -> dict[str, bool] | None:
    """A boolean query parameter, sent only when it is on (``name=true``)."""
    return {name: True} if on else None


def _filters(filters: Mapping[str, Any]) -> _List[tuple[str, Any]]:
    return [(_camel(k), v) for k, v in filters.items() if v is not None]


def _filter_object(filters: Mapping[str, Any]) -> Json:
    out: Json = {}
    for key, value in filters.items():
        if value is None:
            continue
        if hasattr(value, "isoformat"):
            from ._http import _rfc3339

            value = _rfc3339(value)
        out[_camel(key)] = _List(value) if isinstance(value, tuple) else value
    if not out:
        raise ValueError("a filter needs at least one field")
    return out
