"""The errors the client raises."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

__all__ = ["StowageError", "UploadError", "UploadCancelled"]


class StowageError(Exception):
    """A request the API (or the storage endpoint behind a presigned URL) refused.

    ``status`` is the HTTP status, ``code`` the API's stable problem code (``not_found``,
    ``version_mismatch``, …; for a refused presigned request, S3's error code such as
    ``SignatureDoesNotMatch``; ``None`` when the answer named none, e.g. API Gateway's own
    ``429``), ``detail`` the human-readable explanation. ``errors`` lists the invalid fields of
    a ``validation_failed`` answer, ``problem`` is the whole problem+json body when there was one.
    """

    status: int
    code: str | None
    detail: str
    errors: list[dict[str, str]]
    problem: dict[str, Any] | None
    method: str | None
    url: str | None

    def __init__(
        self,
        status: int,
        code: str | None,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        problem: dict[str, Any] | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or []
        self.problem = problem
        self.method = method
        self.url = url
        super().__init__(status, code, detail)

    def __str__(self) -> str:
        where = f"{self.method} {self.url}: " if self.method and self.url else ""
        code = f" {self.code}" if self.code else ""
        return f"{where}{self.status}{code}: {self.detail}"

    def __repr__(self) -> str:
        return f"StowageError(status={self.status!r}, code={self.code!r}, detail={self.detail!r})"

    @classmethod
    def from_response(cls, response: httpx.Response, *, presigned: bool = False) -> StowageError:
        """Builds the error of a refused response (its body must have been read)."""
        method = response.request.method
        # Never put a presigned URL (a bearer credential until it expires) in a message.
        url = _redact(response.request.url) if presigned else str(response.request.url)
        text = response.text
        ctype = response.headers.get("content-type", "")
        if "json" in ctype or text.lstrip().startswith("{"):
            try:
                body = json.loads(text)
            except ValueError:
                body = None
            if isinstance(body, dict):
                code = body.get("code")
                detail = body.get("detail") or body.get("message") or body.get("title") or ""
                errors = body.get("errors")
                return cls(
                    response.status_code,
                    code if isinstance(code, str) else None,
                    str(detail),
                    errors=errors if isinstance(errors, list) else None,
                    problem=body if "code" in body or "type" in body else None,
                    method=method,
                    url=url,
                )
        if "<Error>" in text:  # S3's XML error
            code_match = re.search(r"<Code>([^<]*)</Code>", text)
            message = re.search(r"<Message>([^<]*)</Message>", text)
            return cls(
                response.status_code,
                code_match.group(1) if code_match else None,
                message.group(1) if message else response.reason_phrase,
                method=method,
                url=url,
            )
        return cls(
            response.status_code,
            None,
            text.strip()[:500] or response.reason_phrase,
            method=method,
            url=url,
        )


def _redact(url: httpx.URL) -> str:
    return str(url.copy_with(query=None)) + ("?…" if url.query else "")


class UploadError(Exception):
    """An upload that could not finish. ``file_id`` names the record it created (``None`` if
    none was created); a multipart upload's parts stay on the server, so
    ``files.upload(..., resume_id=err.file_id)`` sends only what is missing. The cause is in
    ``__cause__`` (a :class:`StowageError` or an ``httpx`` transport error)."""

    file_id: str | None

    def __init__(self, message: str, file_id: str | None) -> None:
        super().__init__(message)
        self.file_id = file_id


class UploadCancelled(UploadError):
    """The upload was cancelled (its ``cancel`` event was set, or its progress callback
    raised); the open upload was aborted, so no parts are left on the server."""
